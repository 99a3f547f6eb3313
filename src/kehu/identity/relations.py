"""Everything that hangs off a customer, found through Django's `_meta`, and how a merge
moves it. New apps are covered without changes here: a plain foreign key to Customer is
moved to the survivor; one under a unique constraint is moved unless the survivor already
has a row with the same key (that row then stays with its original customer, where unmerge
finds it). A relation kehu cannot move safely (a conditional unique constraint, a
many-to-many table) makes the merge fail loudly rather than lose or hide data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models
from django.utils.translation import gettext as _

from kehu.core.errors import ValidationFailed
from kehu.customers.models import Address, ContactLink, Customer, Identifier

# Relations a merge leaves where they are: merge bookkeeping and this app's own rows.
KEEP = frozenset({"customers.Customer.merged_into"})
KEEP_APPS = frozenset({"identity"})

# Relations whose rows carry an `is_primary` flag that must stay unique per group on the
# survivor: label -> a function giving the group of a row.
PRIMARY_GROUPS = {
    "customers.Identifier.customer": lambda row: row.kind,
    "customers.Address.customer": lambda row: "address",
    "customers.ContactLink.organisation": lambda row: "contact",
}
PRIMARY_MODELS = {"customers.Identifier.customer": Identifier,
                  "customers.Address.customer": Address,
                  "customers.ContactLink.organisation": ContactLink}


class MergeUnsupported(ValidationFailed):
    code = "merge_unsupported"


@dataclass(frozen=True)
class Relation:
    """One foreign key pointing at Customer."""

    label: str  # "app.Model.field"
    model: type[models.Model]
    field: models.ForeignKey
    unique_keys: tuple[tuple[str, ...], ...]  # the other fields of each unique set
    problem: str = ""  # why it cannot be moved safely ("" when it can)

    @property
    def attname(self) -> str:
        return self.field.attname


def _unique_keys(model, field) -> tuple[tuple[tuple[str, ...], ...], str]:
    keys: list[tuple[str, ...]] = []
    problem = ""
    if field.unique:
        keys.append(())
    for together in model._meta.unique_together:
        if field.name in together:
            keys.append(tuple(_attname(model, f) for f in together if f != field.name))
    for constraint in model._meta.constraints:
        if not isinstance(constraint, models.UniqueConstraint):
            continue
        names = tuple(constraint.fields or ())
        if field.name not in names and not constraint.expressions:
            continue
        if constraint.condition is not None or constraint.expressions:
            problem = f"conditional or expression unique constraint {constraint.name}"
            continue
        keys.append(tuple(_attname(model, f) for f in names if f != field.name))
    return tuple(keys), problem


def _attname(model, name: str) -> str:
    return model._meta.get_field(name).attname


def customer_relations() -> list[Relation]:
    """Every foreign key to Customer except the kept ones, in a stable order."""
    found = []
    for rel in Customer._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete) or rel.many_to_many:
            continue
        model, field = rel.related_model, rel.field
        label = f"{model._meta.app_label}.{model.__name__}.{field.name}"
        if label in KEEP or model._meta.app_label in KEEP_APPS:
            continue
        keys, problem = _unique_keys(model, field)
        if model._meta.auto_created:
            problem = "many-to-many table"
        found.append(Relation(label, model, field, keys, problem))
    return sorted(found, key=lambda r: r.label)


def move_rows(*, survivor_id: int, source_ids: Iterable[int]) -> dict[str, dict]:
    """Move every row of every relation from the sources to the survivor.

    Returns {label: {"moved": {source_id: [pk…]}, "kept": {source_id: [pk…]}}} for the
    relations that had rows; "kept" rows stayed because the survivor had their unique key.
    """
    source_ids = list(source_ids)
    record: dict[str, dict] = {}
    for relation in customer_relations():
        manager = relation.model._default_manager
        rows = manager.filter(**{f"{relation.attname}__in": source_ids})
        if not rows.exists():
            continue
        if relation.problem:
            raise MergeUnsupported(
                _("These customers have %(what)s rows that cannot be merged automatically "
                  "(%(why)s).") % {"what": relation.label, "why": relation.problem},
                details={"relation": [relation.label]})
        moved: dict[str, list[int]] = {}
        kept: dict[str, list[int]] = {}
        if relation.unique_keys:
            on_survivor = manager.filter(**{relation.attname: survivor_id})
            taken = [set(on_survivor.values_list(*key)) if key else
                     ({()} if on_survivor.exists() else set()) for key in relation.unique_keys]
            for source_id in source_ids:
                for row in manager.filter(**{relation.attname: source_id}).order_by("pk"):
                    values = [tuple(getattr(row, f) for f in key) for key in relation.unique_keys]
                    if any(v in t for v, t in zip(values, taken, strict=True)):
                        kept.setdefault(str(source_id), []).append(row.pk)
                        continue
                    for v, t in zip(values, taken, strict=True):
                        t.add(v)
                    moved.setdefault(str(source_id), []).append(row.pk)
        else:
            for source_id in source_ids:
                pks = list(manager.filter(**{relation.attname: source_id}).order_by("pk")
                           .values_list("pk", flat=True))
                if pks:
                    moved[str(source_id)] = pks
        for pks in moved.values():
            for start in range(0, len(pks), 500):
                manager.filter(pk__in=pks[start:start + 500]).update(
                    **{relation.attname: survivor_id})
        record[relation.label] = {"moved": moved, "kept": kept}
    return record


def move_back(*, survivor_id: int, moved: dict[str, dict]) -> dict[str, int]:
    """Return every recorded row still on the survivor to its original customer.
    Rows deleted since the merge stay deleted; returns the count moved back per relation."""
    relations = {r.label: r for r in customer_relations()}
    counts: dict[str, int] = {}
    for label, entry in moved.items():
        relation = relations.get(label)
        if relation is None:
            raise MergeUnsupported(
                _("The merge moved %(what)s rows, which no longer exist in this version.")
                % {"what": label}, details={"relation": [label]})
        manager = relation.model._default_manager
        for source_id, pks in entry.get("moved", {}).items():
            for start in range(0, len(pks), 500):
                counts[label] = counts.get(label, 0) + manager.filter(
                    pk__in=pks[start:start + 500], **{relation.attname: survivor_id}).update(
                    **{relation.attname: int(source_id)})
    return counts


def primary_flags(customer_ids: Iterable[int]) -> dict[str, dict[str, list]]:
    """{label: {row pk: [group, is_primary, customer id]}} for the rows with primary flags."""
    ids = list(customer_ids)
    flags: dict[str, dict[str, list]] = {}
    for label, model in PRIMARY_MODELS.items():
        attname = label.rsplit(".", 1)[1] + "_id"
        group = PRIMARY_GROUPS[label]
        flags[label] = {str(row.pk): [group(row), row.is_primary, getattr(row, attname)]
                        for row in model.objects.filter(**{f"{attname}__in": ids})}
    return flags
