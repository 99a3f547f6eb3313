"""Importing orders, interactions and events: what the three kinds share.

A kind's importer cleans the rows of one chunk, finds their customers and checks each
record by the owning app's own rules (order_check / order_build, interaction_prepare,
event_ingest), then writes the chunk set-based through that app's bulk services
(orders_record_many, interactions_log_many, event_ingest), so the rules are the card's.
`run_kind` drives it through the chunk loop the customers import runs too
(`jobs.run_chunks`): each chunk in ONE transaction with its report lines and the job's
counters, resumable after a kill with the counts of an uninterrupted run; a dry run sends
every row through the same writes in one transaction that is rolled back.

Rows name their customer by mobile, email, ID number or external id, tried in the job's
precedence (as the customers import matches); only live customers inside the importing
user's record scope are found, so a customer out of scope looks like no customer at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.core.actor import Actor
from kehu.core.errors import ValidationFailed
from kehu.core.normalize import (
    NormalizationError,
    normalize_email,
    normalize_id_number,
    normalize_phone,
    parse_date,
)
from kehu.customers import fields as catalogue
from kehu.customers.bulk_selectors import customer_ids_by_identifiers
from kehu.customers.services import id_number_index
from kehu.interchange.jobs import Chunk, Written, run_chunks, run_chunks_dry
from kehu.interchange.mapping import CUSTOMER_KEYS, fold_header, kind_fields
from kehu.interchange.models import ImportJob
from kehu.interchange.readers import open_table
from kehu.interchange.rows import RowError, masked
from kehu.interchange.selectors import upload_plain

# The system the customers import files external ids under (services.EXTERNAL_SYSTEM).
EXTERNAL_SYSTEM = "import"
DEFAULT_PRECEDENCE = ("mobile", "email", "id_number", "external_id")
# Who may import what: the import right plus the right the kind's service demands.
KIND_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "customers": ("customer.import",),
    "orders": ("customer.import", "order.manage"),
    "interactions": ("customer.import", "interaction.add"),
    "events": ("customer.import", "interaction.add"),
    "deals": ("customer.import", "deal.manage"),
    "payments": ("customer.import", "deal.manage"),
}
MSG_NO_CUSTOMER = gettext_lazy("No customer has this identifier.")
MSG_TIME = gettext_lazy("Enter a time such as 2024-03-05 14:30 or a date such as 2024-03-05.")
MSG_NUMBER = gettext_lazy("Enter a number such as 12.50.")

_MOMENT = re.compile(
    r"^(?P<date>.+?)(?:(?:\s+|T)(?P<h>\d{1,2})\s*[:时点]\s*(?P<m>\d{1,2})"
    r"(?:\s*[:分]\s*(?P<s>\d{1,2})(?:\.(?P<f>\d{1,6})\d*)?)?\s*[分秒]?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?$")
_NUMBER_JUNK = re.compile(r"[\s,¥￥元$]|RMB|CNY", re.IGNORECASE)
_UNITS = re.compile(r"(?<=\d)\s*[件个台套只瓶盒箱支份张本次]$")


def kind_require(actor: Actor, kind: str) -> None:
    """PermissionDenied unless the actor may import this kind."""
    for permission in KIND_PERMISSIONS[kind]:
        actor.require(permission)


# Values as people type them ------------------------------------------------------------------


class CellInvalid(Exception):
    """One cell cannot be used; `reason` says why in the active language."""

    def __init__(self, reason: Any):
        super().__init__(str(reason))
        self.reason = str(reason)


def parse_moment(text: str) -> dt.datetime:
    """2024-03-05 14:30, 2024/3/5 14:30:00, 2024年3月5日 14时30分, 2024-03-05T14:30:00+08:00,
    20240305 -> an aware datetime; without a zone, the installation's time zone."""
    value = unicodedata.normalize("NFKC", text).strip()
    match = _MOMENT.match(value)
    if not match:
        raise CellInvalid(MSG_TIME)
    try:
        day = parse_date(match["date"])
    except NormalizationError as exc:
        raise CellInvalid(MSG_TIME if exc.code == "date" else exc) from None
    hour, minute = int(match["h"] or 0), int(match["m"] or 0)
    second = int(match["s"] or 0)
    micro = int((match["f"] or "0").ljust(6, "0"))
    zone, tzinfo = match["tz"], timezone.get_current_timezone()
    if zone == "Z":
        tzinfo = dt.UTC
    elif zone:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tzinfo = dt.timezone(sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        return dt.datetime(day.year, day.month, day.day, hour, minute, second, micro,
                           tzinfo=tzinfo)
    except ValueError:
        raise CellInvalid(_("This time does not exist.")) from None


def parse_number(text: str) -> Decimal:
    """"1,280.50", "￥99", "3件", "(12.00)", "－5" -> Decimal; CellInvalid otherwise."""
    value = unicodedata.normalize("NFKC", text).strip().replace("−", "-")
    negative = value.startswith("(") and value.endswith(")")
    if negative:
        value = value[1:-1]
    value = _UNITS.sub("", _NUMBER_JUNK.sub("", value))
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        raise CellInvalid(MSG_NUMBER) from None
    if not number.is_finite():
        raise CellInvalid(MSG_NUMBER)
    return -number if negative else number


def pick_choice(table: Mapping[str, str], text: str) -> str:
    found = table.get(fold_header(text))
    if found is None:
        raise CellInvalid(_("“%s” is not one of the choices.") % text)
    return found


def limited(text: str, max_length: int) -> str:
    if len(text) > max_length:
        raise CellInvalid(_("At most %(n)d characters.") % {"n": max_length})
    return text


def identifier_value(field: str, text: str) -> str:
    """A customer identifier cell in its stored (looked-up) form."""
    try:
        if field == "mobile":
            return normalize_phone(text).e164
        if field == "email":
            return normalize_email(text)
        if field == "id_number":
            return id_number_index(normalize_id_number(text).value)
    except NormalizationError as exc:
        raise CellInvalid(exc) from None
    return limited(text, catalogue.max_length("external_id"))


# Finding customers ---------------------------------------------------------------------------


class CustomerFinder:
    """Looks up the customers of a chunk's rows in one query per identifier kind."""

    def __init__(self, actor: Actor, precedence: Sequence[str]):
        self.actor = actor
        self.precedence = [p for p in precedence if p in CUSTOMER_KEYS] or list(
            DEFAULT_PRECEDENCE)

    def find(self, keys: Iterable[dict[str, str]]) -> dict[tuple[str, str], int]:
        """{(field, stored value): customer id} for every identifier of the given rows that
        belongs to a live customer the actor may see."""
        wanted: dict[str, set[str]] = {}
        for row in keys:
            for name, value in row.items():
                wanted.setdefault(name, set()).add(value)
        return customer_ids_by_identifiers(actor=self.actor, wanted=wanted,
                                           external_system=EXTERNAL_SYSTEM)

    def pick(self, keys: dict[str, str], found: Mapping[tuple[str, str], int]) -> int | None:
        """The customer of the row's first identifier, in precedence order, that has one."""
        for name in self.precedence:
            if name in keys and (name, keys[name]) in found:
                return found[(name, keys[name])]
        return None

    def first_key(self, keys: dict[str, str]) -> str | None:
        return next((name for name in self.precedence if name in keys), None)


# The per-kind importer -----------------------------------------------------------------------


@dataclass
class RowOutcome:
    result: str  # created | updated | unchanged | rejected
    errors: list[RowError] = field(default_factory=list)


class KindImporter:
    """The table of a job, its mapping and the helpers every kind needs. A kind overrides
    `process` (and `group_key` when adjacent rows must stay in one chunk)."""

    kind = ""
    # Fields a row may go in without when the job skips invalid fields: such a cell is only
    # reported, and the row takes what an empty cell gives.
    skippable: frozenset[str] = frozenset()

    def __init__(self, job: ImportJob, actor: Actor):
        self.job, self.actor = job, actor
        self.skip_invalid = bool(job.options.get("skip_invalid_fields"))
        self.skipped: list[RowError] = []  # this chunk's cells left out (skip_invalid)
        self._plain = contextlib.ExitStack()
        plain = self._plain.enter_context(upload_plain(job))
        self.table = open_table(plain,
                                filename=job.original_filename, sheet=job.sheet or None)
        self.headers = list(self.table.headers)
        mapping = {int(k): v for k, v in job.mapping.items()}
        self.fields = kind_fields(self.kind)
        self.columns: dict[str, tuple[int, str]] = {}
        self.properties: list[tuple[int, str]] = []
        for index, name in sorted(mapping.items()):
            if not name or index >= len(self.headers):
                continue
            if name == "property":
                self.properties.append((index, self.headers[index]))
            else:
                self.columns.setdefault(name, (index, self.headers[index]))
        self.finder = CustomerFinder(actor, job.options.get("precedence") or DEFAULT_PRECEDENCE)

    def close(self) -> None:
        self.table.close()
        self._plain.close()

    # Cells and errors -----------------------------------------------------------------------

    def text(self, cells: Sequence[str], name: str) -> str:
        index = self.columns.get(name, (-1, ""))[0]
        return cells[index].strip() if 0 <= index < len(cells) and cells[index] else ""

    def header(self, name: str) -> str:
        if name in self.columns:
            return self.columns[name][1]
        return str(self.fields[name][0]) if name in self.fields else ""

    def error(self, number: int, cells: Sequence[str], name: str, reason: Any) -> RowError:
        index = self.columns.get(name, (-1, ""))[0]
        value = masked(cells[index]) if 0 <= index < len(cells) else ""
        return RowError(row=number, column=self.header(name), value=value, reason=str(reason))

    def invalid(self, errors: list[RowError], number: int, cells: Sequence[str], name: str,
                reason: Any) -> None:
        """An invalid cell: an error that rejects its row, or, when the job skips invalid
        fields and this one may be left out, only reported (the caller then leaves it out)."""
        error = self.error(number, cells, name, reason)
        (self.skipped if self.skip_invalid and name in self.skippable else errors).append(error)

    def customer_keys(self, number: int, cells: Sequence[str], errors: list[RowError]
                      ) -> dict[str, str]:
        """The row's identifiers in stored form; an invalid one is an error of its column."""
        keys: dict[str, str] = {}
        for name in CUSTOMER_KEYS:
            text = self.text(cells, name)
            if not text:
                continue
            try:
                keys[name] = identifier_value(name, text)
            except CellInvalid as exc:
                errors.append(self.error(number, cells, name, exc.reason))
        return keys

    def no_customer(self, number: int, cells: Sequence[str], keys: dict[str, str]) -> RowError:
        name = self.finder.first_key(keys)
        if name is None:
            return RowError(row=number, column=" / ".join(self.header(k) for k in CUSTOMER_KEYS
                                                          if k in self.columns),
                            value="", reason=_("Give the customer's mobile, email, ID number "
                                               "or external id."))
        return self.error(number, cells, name, MSG_NO_CUSTOMER)

    def errors_of(self, exc: ValidationFailed, number: int, cells: Sequence[str],
                  fields: Mapping[str, str]) -> list[RowError]:
        """A service's ValidationFailed as row errors; `fields` maps its detail keys to ours."""
        details = exc.details if isinstance(exc.details, dict) else {}
        found = []
        for key, messages in details.items():
            name = fields.get(key, key)
            for message in messages if isinstance(messages, list | tuple) else [messages]:
                found.append(self.error(number, cells, name, message))
        return found or [RowError(row=number, column="", value="", reason=str(exc.message))]

    # Chunks ---------------------------------------------------------------------------------

    def group_key(self, cells: Sequence[str]) -> str | None:
        """Adjacent rows with the same key are never split between chunks (an order's lines)."""
        return None

    def observe(self, number: int, cells: Sequence[str]) -> None:
        """Called for each row before the resume point (rows committed by an earlier run)."""

    def chunks(self, start: int, size: int) -> Iterator[list[tuple[int, list[str]]]]:
        chunk: list[tuple[int, list[str]]] = []
        last_key: str | None = None
        for number, cells in self.table.rows():
            if number < start:
                self.observe(number, cells)
                continue
            key = self.group_key(cells)
            if len(chunk) >= size and (key is None or key != last_key):
                yield chunk
                chunk = []
            chunk.append((number, cells))
            last_key = key
        if chunk:
            yield chunk

    def process(self, rows: list[tuple[int, list[str]]]) -> list[RowOutcome]:
        raise NotImplementedError


# Running -------------------------------------------------------------------------------------


def _write(importer: KindImporter, rows: list[tuple[int, list[str]]]) -> Written:
    """One chunk through the importer: each row's outcome counted, and its report lines
    (rejections and cells left out) in row order."""
    written = Written()
    importer.skipped = []  # a chunk run again after a conflict starts afresh
    for outcome in importer.process(rows):
        written.counts[outcome.result] += 1
        written.errors.extend(outcome.errors)
    written.errors.extend(importer.skipped)
    written.errors.sort(key=lambda error: error.row)  # stable: a row's lines keep their order
    return written


def importer_for(job: ImportJob, actor: Actor) -> KindImporter:
    from kehu.interchange.activity_import import EventImporter, InteractionImporter
    from kehu.interchange.orders_import import OrderImporter
    from kehu.interchange.pipeline_import import DealImporter, PaymentImporter

    kinds: dict[str, type[KindImporter]] = {"orders": OrderImporter,
                                            "interactions": InteractionImporter,
                                            "events": EventImporter, "deals": DealImporter,
                                            "payments": PaymentImporter}
    return kinds[job.kind](job, actor)


def run_kind(job: ImportJob, actor: Actor, progress: Callable[[ImportJob], None] | None, *,
             dry_run: bool, chunk_rows: int) -> bool:
    """Run (or resume) a non-customer job through the jobs' chunk loop; True when its last
    row is done, False when it was cancelled or another runner got ahead."""
    kind_require(actor, job.kind)
    importer = importer_for(job, actor)
    try:
        chunks = (Chunk(first=rows[0][0], last=rows[-1][0], size=len(rows), rows=rows)
                  for rows in importer.chunks(job.next_row, chunk_rows))
        run = run_chunks_dry if dry_run else run_chunks
        return run(job, chunks, partial(_write, importer), progress)
    finally:
        importer.close()
