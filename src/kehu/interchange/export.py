"""Customer exports to CSV and xlsx: the list's scope, filters and masking, streamed, audited.

Rows come from `customers.selectors.customer_filtered_queryset` (the list's own scope, filters
and order) and every row is presented by `customer_present`, the presentation the list page
and the API use, so an export never shows a record or a field the page would not. Memory stays
bounded however many rows there are: the queryset is read as value rows in chunks (no model
instance per row; owners, teams and tags looked up once per chunk), CSV is a generator and
xlsx is written by openpyxl's write-only mode into a temporary file.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from kehu.core.actor import Actor
from kehu.core.audit import audit_record
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.jobs import job_open, job_report
from kehu.core.masking import mask_id_number
from kehu.core.models import Job
from kehu.core.spreadsheet import csv_stream, safe_cell
from kehu.customers.listing import (
    DEFAULT_COLUMNS,
    cell_value,
    choice_labels,
    list_columns,
    listed_rows,
)
from kehu.customers.selectors import (
    DEFAULT_SORT,
    SORTS,
    CustomerFilters,
    custom_field_list,
    customer_filtered_queryset,
    customer_present,
)

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CHUNK_SIZE = 2000  # customers read (and their tags prefetched) per database round trip
_CSV_BLOCK = 64 * 1024  # characters of CSV sent per streamed piece
_SHEET_TITLE = gettext_lazy("Customers")
_FILE_STEM = gettext_lazy("customers")
_ID_NUMBER_IN_TEXT = re.compile(r"\d{17}[\dXx]")
_XLSX_TYPES = (str, int, float, Decimal, bool, datetime, date)


@dataclass(frozen=True)
class ExportResult:
    """A produced export. `content` is a generator of bytes for CSV (rows are read as it is
    consumed) or an open temporary file for xlsx (deleted when closed); `rows` is the count
    written to the audit log."""

    format: str
    rows: int
    columns: list[str]
    filename: str
    ascii_filename: str
    content_type: str
    content: Iterator[bytes] | IO[bytes]
    # A marketing export (a purpose and channel given) leaves out the customers without
    # consent for them (kehu.privacy.selectors.consent_filter): how many it left out.
    skipped: int = 0


def export_columns(*, user) -> dict[str, str]:
    """Column key -> header in the active language: the list's columns, then one per active
    custom field (`custom.<key>`), exactly the columns the list page offers."""
    columns = {key: str(label) for key, label in list_columns().items()}
    for definition in custom_field_list(user=user):
        columns[f"custom.{definition.key}"] = str(definition.label)
    return columns


def customers_export(
    *,
    actor: Actor,
    filters: CustomerFilters,
    columns: list[str],
    fmt: str,
    sort: str = DEFAULT_SORT,
    purpose: str = "",
    channel: str = "",
) -> ExportResult:
    """Export the customers the list shows for `filters` to CSV or xlsx, as the actor sees them.

    Needs `customer.export` (and `customer.view`). Hidden fields are empty cells, masked ones
    masked, formula-like text neutralised. One `customer.export` audit entry records the row
    count, format, columns and filters: before streaming for CSV (counted with `.count()`), once
    the file is written for xlsx.

    A marketing export names the `purpose` and `channel` it is for (e.g. marketing, sms):
    customers without consent for them are left out and counted in `skipped`.
    """
    user = _export_user(actor, fmt)
    queryset = customer_filtered_queryset(user=user, filters=filters, sort=sort, actor=actor)
    changes = {"filters": _audited_filters(filters),
               "sort": sort if sort.lstrip("-") in SORTS else DEFAULT_SORT}
    return _export(actor, user, queryset, columns, fmt, changes, purpose, channel)


def _consented(queryset, purpose: str, channel: str) -> tuple[Any, int, dict[str, Any]]:
    """The queryset narrowed to the customers with consent, how many it left out, and what
    the audit entry says about it."""
    if not purpose and not channel:
        return queryset, 0, {}
    from kehu.privacy.consent import ANY, check_purpose_channel
    from kehu.privacy.selectors import consent_filter

    channel = channel or ANY
    check_purpose_channel(purpose, channel)
    total = queryset.count()
    queryset = consent_filter(queryset, channel, purpose)
    skipped = total - queryset.count()
    return queryset, skipped, {"purpose": purpose, "channel": channel, "skipped": skipped}


def segment_members_export(*, actor: Actor, segment_id: int, columns: list[str], fmt: str,
                           purpose: str = "", channel: str = "") -> ExportResult:
    """Export a saved segment's members (as of its last computation) that the actor may see,
    presented and audited exactly as a list export; needs `segment.view` too."""
    from kehu.segments.selectors import segment_get, segment_members_queryset

    user = _export_user(actor, fmt)
    segment = segment_get(user=user, segment_id=segment_id)
    queryset = segment_members_queryset(user=user, segment=segment)
    return _export(actor, user, queryset, columns, fmt,
                   {"segment": {"id": segment.pk, "name": segment.name}}, purpose, channel)


def _export_user(actor: Actor, fmt: str):
    user = actor.user
    if user is None:
        # Masking and record scope belong to a user; even the command line acts as one.
        raise PermissionDenied(_("An export always acts as a user."),
                               details={"permission": "customer.export"})
    actor.require("customer.export")
    if fmt not in FORMATS:
        raise ValidationFailed(details={"format": [
            _("Choose one of: %s.") % ", ".join(FORMATS)]})
    return user


def _export(actor: Actor, user, queryset, columns: list[str], fmt: str,
            audited: dict[str, Any], purpose: str = "", channel: str = "") -> ExportResult:
    queryset, skipped, consent = _consented(queryset, purpose, channel)
    audited = {**audited, **consent}
    available = export_columns(user=user)
    columns = list(dict.fromkeys(columns)) or [c for c in DEFAULT_COLUMNS if c in available]
    unknown = [c for c in columns if c not in available]
    if unknown:
        raise ValidationFailed(details={"columns": [
            _("Unknown columns: %s.") % ", ".join(unknown)]})
    header = [available[c] for c in columns]
    # Resolved now, in the caller's language and time zone: CSV rows are made while streaming.
    labels = choice_labels()
    tz = timezone.get_current_timezone()
    stamp = timezone.localtime(timezone=tz).strftime("%Y%m%d-%H%M%S")
    changes = {"format": fmt, "columns": columns, **audited}

    common = {"format": fmt, "columns": columns, "content_type": FORMATS[fmt], "skipped": skipped,
              "filename": f"{_FILE_STEM}-{stamp}.{fmt}",
              "ascii_filename": f"kehu-customers-{stamp}.{fmt}"}
    # The jobs page shows every export with its progress (rows written) and outcome.
    job = job_open(kind="export", label=common["filename"], user=user)
    job_report(job, status=Job.RUNNING)

    written = 0

    def rows() -> Iterator[list[Any]]:
        nonlocal written
        for customer in listed_rows(queryset, tags="tags" in columns, chunk_size=CHUNK_SIZE):
            data = customer_present(user, customer, detail=False)
            yield [_cell(data, c, labels=labels, tz=tz, xlsx=fmt == "xlsx") for c in columns]
            written += 1
            if written % CHUNK_SIZE == 0:
                job_report(job, done=written)

    def finish() -> None:
        job_report(job, status=Job.DONE, done=written, total=written,
                   result={"rows": written, "format": fmt})

    def tracked(content: Iterator[bytes]) -> Iterator[bytes]:
        finished = False
        try:
            yield from content
            finished = True
        finally:
            if finished:
                finish()
            else:  # the download was abandoned or failed half-way
                job_report(job, status=Job.CANCELLED, done=written)

    try:
        if fmt == "csv":
            count = queryset.count()
            job_report(job, total=count)
            _audit(actor, count, changes)
            return ExportResult(rows=count, content=tracked(_csv_bytes(header, rows())),
                                **common)
        handle, count = _xlsx_file(header, rows(), title=str(_SHEET_TITLE))
        try:
            _audit(actor, count, changes)
        except BaseException:
            handle.close()
            raise
    except BaseException as exc:
        job_report(job, status=Job.FAILED, error=type(exc).__name__)
        raise
    finish()
    return ExportResult(rows=count, content=handle, **common)


def _audit(actor: Actor, count: int, changes: dict[str, Any]) -> None:
    with transaction.atomic():
        audit_record(actor=actor, action="customer.export", object_type="customer",
                     object_repr=ngettext("%d customer", "%d customers", count) % count,
                     changes={"rows": count, **changes})


def _audited_filters(filters: CustomerFilters) -> dict[str, Any]:
    """The filters that were set, for the audit log; an ID number searched for stays masked."""
    data = asdict(filters)
    data.update(data.pop("extra") or {})  # registered filters (value tier…) read as the others
    data = {k: v for k, v in data.items() if v not in (None, "", {})}
    if "q" in data:
        data["q"] = _ID_NUMBER_IN_TEXT.sub(lambda m: mask_id_number(m.group()), data["q"])
    return data


def _cell(data: dict[str, Any], column: str, *, labels, tz, xlsx: bool) -> Any:
    """One presented value as a cell, as the list shows it; times local (real dates in xlsx),
    None for hidden fields (an empty cell)."""
    value = cell_value(data, column, labels=labels)
    if column in ("created_at", "updated_at") and value is not None:
        local = timezone.localtime(value, tz)
        return local.replace(tzinfo=None) if xlsx else local.strftime("%Y-%m-%d %H:%M:%S")
    return value


def _csv_bytes(header: list[str], rows: Iterable[list[Any]]) -> Iterator[bytes]:
    """core.spreadsheet.csv_stream (BOM, neutralised cells) encoded, in blocks of ~64 KB."""
    block: list[str] = []
    size = 0
    for piece in csv_stream(header, rows):
        block.append(piece)
        size += len(piece)
        if size >= _CSV_BLOCK:
            yield "".join(block).encode("utf-8")
            block, size = [], 0
    if block:
        yield "".join(block).encode("utf-8")


def _xlsx_file(header: list[str], rows: Iterable[list[Any]], *, title: str
               ) -> tuple[IO[bytes], int]:
    """Write the workbook in write-only mode (rows go to disk as they come) into an anonymous
    temporary file; returns it rewound, with the number of data rows."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def xlsx_value(value: Any) -> Any:
        if value is not None and not isinstance(value, _XLSX_TYPES):
            value = str(value)
        if isinstance(value, str):
            # Control characters make openpyxl refuse the whole workbook.
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
        return safe_cell(value)

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])
    sheet.append([xlsx_value(h) for h in header])
    count = 0
    for row in rows:
        sheet.append([xlsx_value(v) for v in row])
        count += 1
    handle = tempfile.TemporaryFile(prefix="kehu-export-", suffix=".xlsx")
    try:
        workbook.save(handle)
        handle.seek(0)
    except BaseException:
        handle.close()
        raise
    return handle, count
