"""Which columns of an app's tables hold a person's data, for erasure and access requests.

The privacy app finds every table that refers to a customer through Django's `_meta` (a
foreign key to Customer, or a plain `customer_id` column) and, per table, needs to know what
to do with the free text in it. Apps declare it here in their AppConfig.ready(), from any
layer (this module knows no app):

    register_personal_data("service.Ticket", erase=("subject", "description"))
    register_personal_data("customers.Identifier", delete_rows=True)

A table nobody registered gets the cautious default: every text, long character (≥ 100)
and JSON column without choices is blanked, everything else (amounts, dates, codes) kept.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PersonalData:
    """How erasure treats one model's rows of the erased person.

    `erase`: columns blanked (their empty value); `keep`: columns kept even if the default
    would blank them; `delete_rows`: the rows are removed whole; `skip`: the privacy app
    handles the model itself."""

    erase: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    delete_rows: bool = False
    skip: bool = False


_REGISTRY: dict[str, PersonalData] = {}


def register_personal_data(label: str, *, erase: tuple[str, ...] = (), keep: tuple[str, ...] = (),
                           delete_rows: bool = False, skip: bool = False) -> None:
    """Declare how erasure treats the rows of `label` ("app.Model")."""
    _REGISTRY[label] = PersonalData(tuple(erase), tuple(keep), delete_rows, skip)


def personal_data(label: str) -> PersonalData | None:
    return _REGISTRY.get(label)


# Erasure hooks: stores an app keeps outside its tables (files, queues, caches) --------------

_HOOKS: dict[str, object] = {}


def register_erasure_hook(name: str, hook) -> None:
    """`hook(needles=[…], customer_ids=[…]) -> {what: count}` removes every copy of the
    erased person's values that the app keeps (an import's upload and error report, a
    queue's payload). Called by the erasure inside its transaction; file deletions should
    wait for the commit (`transaction.on_commit`)."""
    _HOOKS[name] = hook


def erasure_hooks() -> dict[str, object]:
    return dict(_HOOKS)


# Retention: data classes an app keeps and knows how to delete --------------------------------

_RETENTION: dict[str, object] = {}


def register_retention_handler(data_class: str, handler) -> None:
    """`handler(cutoff=datetime, dry_run=bool) -> int` deletes (or, dry, counts) the app's
    data of `data_class` older than `cutoff`; the privacy app's retention run calls it."""
    _RETENTION[data_class] = handler


def retention_handlers() -> dict[str, object]:
    return dict(_RETENTION)
