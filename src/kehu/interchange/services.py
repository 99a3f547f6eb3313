"""Import jobs: create one from a file, run it in resumable chunks, cancel it.

Each chunk of rows runs in ONE transaction that writes its customers (through the
customer services, so validation, normalisation and audit are the card's), stores the
errors it found and advances the job's counters and `next_row`. A process killed at any
moment therefore leaves whole chunks only; running the job again resumes after the last
committed chunk and ends with exactly the counts of an uninterrupted run. The report file
is written at the end from the stored errors.

Upsert: a row matches an existing live customer by its identifiers in precedence order
(default mobile, email, id_number, external_id). Rows of one file that share an identifier
reach the same customer, since each row's identifiers are in the database (in the chunk's
transaction) before the next row is looked up. Only non-empty values that differ from the
stored ones are written: empty cells never erase, identical rows are "unchanged" and write
no audit entry. A further phone, email or WeChat on a customer that has one is added as a
secondary identifier.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.accounts.models import User
from kehu.core.actor import Actor
from kehu.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from kehu.customers import services as customer_services
from kehu.customers.models import Customer, Identifier
from kehu.customers.services.identity import PHONE_KINDS, id_number_index
from kehu.interchange.mapping import (
    CUSTOMER_FIELDS,
    MappingError,
    apply_overrides,
    field_choices,
    field_label,
    missing_required,
    suggest_mapping,
)
from kehu.interchange.models import ImportJob, ImportRowError
from kehu.interchange.readers import ReaderError, open_table
from kehu.interchange.report import ReportWriter, report_format
from kehu.interchange.rows import CleanRow, RowCleaner, RowError, masked
from kehu.interchange.selectors import (
    active_custom_fields,
    job_for_actor,
    mapping_from_json,
)

KINDS = ("customers", "orders", "interactions", "events")
PRECEDENCE = ("mobile", "email", "id_number", "external_id")
EXTERNAL_SYSTEM = "import"
CHUNK_ROWS = int(os.environ.get("KEHU_IMPORT_CHUNK_ROWS") or 500)

# Plain columns the import may set through customer_create/customer_update.
_SIMPLE = ("gender", "birthday", "title", "uscc", "industry", "source", "lifecycle_stage",
           "notes")
# Contact identifiers: row field -> Identifier kinds it is stored as.
_CONTACTS = {"mobile": PHONE_KINDS, "email": (Identifier.EMAIL,), "wechat": (Identifier.WECHAT,)}


def _imports_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path






# Creating ------------------------------------------------------------------------------------


def import_job_create(*, actor: Actor, file: str | os.PathLike | IO[bytes], filename: str,
                      sheet: str | None = None, overrides: Iterable[str] = (),
                      options: Mapping[str, Any] | None = None,
                      kind: str = "customers") -> ImportJob:
    """Store the file under MEDIA_ROOT/imports/, check it opens and the mapping has a name
    column, and create a queued job. ValidationFailed names the problem otherwise."""
    actor.require("customer.import")
    if kind != "customers":
        raise ValidationFailed(_("Importing %(kind)s is not available yet.")
                               % {"kind": dict(ImportJob.KINDS).get(kind, kind)},
                               details={"kind": [_("Only customers can be imported so far.")]},
                               code="kind_unavailable")
    options = dict(options or {})
    precedence = list(options.get("precedence") or PRECEDENCE)
    unknown = [p for p in precedence if p not in PRECEDENCE]
    if unknown:
        raise ValidationFailed(details={"precedence": [
            _("Match customers by %(fields)s only.") % {"fields": ", ".join(PRECEDENCE)}]})
    stored = _imports_dir() / f"{uuid.uuid4().hex}{Path(filename).suffix.lower()[:10]}"
    try:
        if isinstance(file, (str, os.PathLike)):
            try:
                shutil.copyfile(file, stored)
            except OSError:
                raise ValidationFailed(_("“%(file)s” cannot be opened.") % {"file": filename},
                                       details={"file": [_("The file cannot be opened.")]},
                                       code="unreadable") from None
        else:
            with open(stored, "wb") as handle:
                shutil.copyfileobj(file, handle)
        custom_fields = active_custom_fields()
        try:
            with open_table(stored, filename=filename, sheet=sheet) as table:
                mapping = apply_overrides(suggest_mapping(table.headers,
                                                          custom_fields=custom_fields),
                                          list(overrides), table.headers,
                                          custom_fields=custom_fields)
                headers, total, sheet_name = table.headers, table.row_count_estimate, table.sheet
                first_row = table.header_row + 1
        except (ReaderError, MappingError) as exc:
            raise ValidationFailed(exc.message, details={"file": [str(exc.message)]},
                                   code=exc.code) from None
        if missing_required(mapping):
            raise ValidationFailed(
                _("No column of “%(file)s” is mapped to the name; its columns are: %(columns)s.")
                % {"file": filename, "columns": "、".join(h for h in headers if h)},
                details={"mapping": [_("Map a column to the name.")]}, code="no_name_column")
    except BaseException:
        stored.unlink(missing_ok=True)
        raise
    return ImportJob.objects.create(
        created_by=actor.user, file=str(stored.relative_to(settings.MEDIA_ROOT)),
        original_filename=filename[:255], sheet=sheet_name or "", kind=kind,
        mapping={str(i): f for i, f in mapping.items()},
        options={"skip_invalid_fields": bool(options.get("skip_invalid_fields")),
                 "dry_run": bool(options.get("dry_run")), "precedence": precedence,
                 "headers": headers},
        total_rows=total, next_row=first_row, report_path=str(options.get("report") or ""),
        language=translation.get_language() or settings.LANGUAGE_CODE)


def import_job_cancel(*, actor: Actor, job_id: int) -> ImportJob:
    """Stop a queued or running job after its current chunk; done jobs stay done."""
    actor.require("customer.import")
    with transaction.atomic():
        job = job_for_actor(actor=actor, job_id=job_id, lock=True)
        if job.status in (ImportJob.QUEUED, ImportJob.RUNNING, ImportJob.FAILED):
            job.status = ImportJob.CANCELLED
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "finished_at", "updated_at"])
    return job




# Running -------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    result: str  # created | updated | unchanged | rejected
    errors: list[RowError]


class _DryRunRollback(Exception):
    pass


def import_job_run(*, job_id: int, actor: Actor,
                   progress: Callable[[ImportJob], None] | None = None) -> ImportJob:
    """Run (or resume) a job to the end; a done or cancelled job is returned at once.
    `progress(job)` is called after each chunk."""
    actor.require("customer.import")
    job = job_for_actor(actor=actor, job_id=job_id)
    if job.status in (ImportJob.DONE, ImportJob.CANCELLED):
        return job
    with translation.override(job.language or settings.LANGUAGE_CODE):
        job.status, job.error_message = ImportJob.RUNNING, ""
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["status", "error_message", "started_at", "updated_at"])
        try:
            if job.options.get("dry_run"):
                finished = _run_dry(job, actor, progress)
            else:
                finished = _run(job, actor, progress)
        except (ReaderError, DomainError) as exc:
            _fail(job, str(exc.message))
            return job
        except Exception as exc:
            _fail(job, _("The import stopped on an unexpected error: %s") % type(exc).__name__)
            raise
        job.refresh_from_db()
        if finished and job.status == ImportJob.RUNNING:
            _write_report(job)
            job.status, job.finished_at = ImportJob.DONE, timezone.now()
            job.total_rows = job.rows_done
            job.save(update_fields=["status", "finished_at", "total_rows", "report_path",
                                    "updated_at"])
    return job


def _fail(job: ImportJob, message: str) -> None:
    job.refresh_from_db()
    job.status, job.error_message = ImportJob.FAILED, message
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error_message", "finished_at", "updated_at"])


class _Importer:
    """The per-job state: the table, the row cleaner and the field -> column names."""

    def __init__(self, job: ImportJob, actor: Actor):
        self.job, self.actor = job, actor
        self.table = open_table(Path(settings.MEDIA_ROOT) / job.file,
                                filename=job.original_filename, sheet=job.sheet or None)
        mapping = mapping_from_json(job.mapping)
        self.cleaner = RowCleaner(self.table.headers, mapping, custom_fields=active_custom_fields(),
                                  skip_invalid_fields=bool(job.options.get("skip_invalid_fields")))
        self.skip_invalid = self.cleaner.skip_invalid_fields
        self.precedence = list(job.options.get("precedence") or PRECEDENCE)
        self.columns: dict[str, tuple[int, str]] = {
            field: (index, self.table.headers[index]) for index, field in mapping.items()
            if field and index < len(self.table.headers)}
        self.users: dict[str, User | None] = {}

    def close(self) -> None:
        self.table.close()

    def chunks(self, start: int) -> Iterable[list[tuple[int, list[str]]]]:
        chunk: list[tuple[int, list[str]]] = []
        for number, cells in self.table.rows():
            if number < start:
                continue
            chunk.append((number, cells))
            if len(chunk) >= CHUNK_ROWS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    # One row ------------------------------------------------------------------------------

    def row(self, number: int, cells: list[str]) -> _Outcome:
        clean = self.cleaner.clean(number, cells)
        if clean.rejected:
            return _Outcome("rejected", clean.errors)
        values = dict(clean.values)
        errors = list(clean.errors)
        for _attempt in range(4):
            try:
                with transaction.atomic():
                    result = self._upsert(values, number, cells, errors)
                return _Outcome(result, errors)
            except ValidationFailed as exc:
                failed = self._errors_of(exc, number, cells)
                fields = {field for field, _error in failed}
                if (self.skip_invalid and "name" not in fields and "__all__" not in fields
                        and fields & set(values)):
                    errors.extend(e for _f, e in failed)
                    for field in fields:
                        values.pop(field, None)
                    continue
                return _Outcome("rejected", [*errors, *(e for _f, e in failed)])
            except NotFound:
                # The row's identifier belongs to a customer outside the actor's scope.
                field = next((f for f in self.precedence if values.get(f)), "")
                return _Outcome("rejected", [*errors, self._error(
                    field, number, cells, _("Already recorded for another customer."))])
            except DomainError as exc:
                return _Outcome("rejected", [*errors, self._error("", number, cells,
                                                                  str(exc.message))])
        return _Outcome("rejected", errors)

    def _error(self, field: str, number: int, cells: list[str], reason: str) -> RowError:
        index, header = self.columns.get(field, (-1, ""))
        if index < 0 and field not in ("", "__all__"):
            header = str(CUSTOMER_FIELDS[field][0]) if field in CUSTOMER_FIELDS else field
        value = masked(cells[index]) if 0 <= index < len(cells) else ""
        return RowError(row=number, column=header, value=value, reason=reason)

    def _errors_of(self, exc: ValidationFailed, number: int, cells: list[str]
                   ) -> list[tuple[str, RowError]]:
        details = exc.details if isinstance(exc.details, dict) else {}
        found = [(field, self._error(field, number, cells, str(message)))
                 for field, messages in details.items()
                 for message in (messages if isinstance(messages, list | tuple) else [messages])]
        return found or [("__all__", self._error("", number, cells, str(exc.message)))]

    def _owner(self, values: dict[str, Any]) -> User | None:
        name = values.pop("owner", None)
        if not name:
            return None
        if name not in self.users:
            self.users[name] = (User.objects.filter(username=name, is_active=True).first()
                                or User.objects.filter(display_name=name, is_active=True)
                                .order_by("pk").first())
        user = self.users[name]
        if user is None:
            raise ValidationFailed(details={"owner": [_("No active user “%s”.") % name]})
        return user

    def _match(self, values: dict[str, Any]) -> Customer | None:
        """The live customer of the row's first identifier, in precedence order, that is
        recorded for one (one indexed query per identifier the row has)."""
        for field in self.precedence:
            value = values.get(field)
            if not value:
                continue
            if field == "mobile":
                found = Identifier.objects.filter(kind__in=PHONE_KINDS, value=value)
            elif field == "email":
                found = Identifier.objects.filter(kind=Identifier.EMAIL, value=value)
            elif field == "id_number":
                found = Identifier.objects.filter(kind=Identifier.ID_NUMBER,
                                                  value=id_number_index(value))
            else:
                found = Identifier.objects.filter(kind=Identifier.EXTERNAL,
                                                  system=EXTERNAL_SYSTEM, value=value)
            customer_id = found.filter(is_live=True, customer__status=Customer.STATUS_ACTIVE
                                       ).values_list("customer_id", flat=True).first()
            if customer_id is not None:
                return Customer.objects.select_related("owner", "team").get(pk=customer_id)
        return None

    def _upsert(self, values: dict[str, Any], number: int, cells: list[str],
                errors: list[RowError]) -> str:
        values = dict(values)
        values.pop("company", None)  # not stored on the customer (contact links: later)
        owner = self._owner(values)
        external = values.pop("external_id", None)
        customer = self._match({**values, "external_id": external})
        actor = self.actor
        if customer is None:
            fields = {k: values[k] for k in _SIMPLE if k in values}
            customer = customer_services.customer_create(
                actor=actor, name=values["name"], kind=values.get("kind", Customer.KIND_PERSON),
                owner=owner, mobile=values.get("mobile", ""), email=values.get("email", ""),
                wechat=values.get("wechat", ""), id_number=values.get("id_number", ""),
                address=values.get("address"), custom=values.get("custom"), **fields)
            if external:
                self._add_identifier(customer, Identifier.EXTERNAL, external, "external_id")
            return "created"
        changed = False
        live = set(customer.identifiers.filter(is_live=True).values_list("kind", "system",
                                                                          "value"))
        changes = self._changes(customer, values, owner, live)
        if changes:
            customer = customer_services.customer_update(actor=actor, customer=customer,
                                                         expected_version=None, changes=changes)
            changed = True
        for field, kinds in _CONTACTS.items():
            value = values.get(field)
            if value and field not in changes and not any(
                    (kind, "", value) in live for kind in kinds):
                self._add_identifier(customer, "phone" if field == "mobile" else kinds[0],
                                     value, field)
                changed = True
        if external and (Identifier.EXTERNAL, EXTERNAL_SYSTEM, external) not in live:
            self._add_identifier(customer, Identifier.EXTERNAL, external, "external_id")
            changed = True
        return "updated" if changed else "unchanged"

    def _add_identifier(self, customer: Customer, kind: str, value: str, field: str) -> None:
        try:
            customer_services.identifier_add(
                actor=self.actor, customer=customer, kind=kind, value=value,
                system=EXTERNAL_SYSTEM if kind == Identifier.EXTERNAL else "", source="import")
        except ValidationFailed as exc:
            messages = [m for ms in exc.details.values() for m in ms] if isinstance(
                exc.details, dict) else []
            raise ValidationFailed(details={field: messages or [str(exc.message)]},
                                   code=exc.code) from None

    @staticmethod
    def _changes(customer: Customer, values: dict[str, Any], owner: User | None,
                 live: set[tuple[str, str, str]]) -> dict:
        """Only the non-empty values that differ from what is stored."""
        changes: dict[str, Any] = {}
        if values.get("name") and values["name"] != customer.name:
            changes["name"] = values["name"]
        if "kind" in values and values["kind"] != customer.kind:
            changes["kind"] = values["kind"]
        for field in _SIMPLE:
            if field in values and values[field] not in (None, "") and \
                    getattr(customer, field) != values[field]:
                changes[field] = values[field]
        if owner is not None and owner.pk != customer.owner_id:
            changes["owner"] = owner
        for field, kinds in _CONTACTS.items():
            # A customer without any value of this kind gets the row's as its primary;
            # otherwise a new value is added beside the stored ones (see _upsert).
            if values.get(field) and not any(kind in kinds for kind, _s, _v in live):
                changes[field] = values[field]
        if values.get("id_number") and id_number_index(values["id_number"]) != \
                customer.id_number_index:
            changes["id_number"] = values["id_number"]
        if values.get("address"):
            current = customer.addresses.filter(is_primary=True).first()
            if current is None or current.raw != values["address"][:300]:
                changes["address"] = values["address"]
        custom = {k: v for k, v in (values.get("custom") or {}).items()
                  if (customer.custom or {}).get(k) != v}
        if custom:
            changes["custom"] = custom
        return changes


def _count(job: ImportJob, outcome: _Outcome) -> None:
    setattr(job, outcome.result, getattr(job, outcome.result) + 1)


_COUNTERS = ["rows_done", "created", "updated", "unchanged", "rejected", "next_row"]


def _run(job: ImportJob, actor: Actor, progress) -> bool:
    """True when the last row was committed; False when cancelled or overtaken."""
    importer = _Importer(job, actor)
    try:
        for chunk in importer.chunks(job.next_row):
            with transaction.atomic():
                current = ImportJob.objects.select_for_update().get(pk=job.pk)
                if current.status != ImportJob.RUNNING or current.next_row > chunk[0][0]:
                    return False  # cancelled, or another runner got ahead of us
                errors: list[RowError] = []
                for number, cells in chunk:
                    outcome = importer.row(number, cells)
                    _count(current, outcome)
                    errors.extend(outcome.errors)
                current.rows_done += len(chunk)
                current.next_row = chunk[-1][0] + 1
                ImportRowError.objects.bulk_create(
                    [ImportRowError(job=current, row=e.row, column=e.column[:255], value=e.value,
                                    reason=e.reason) for e in errors], batch_size=500)
                current.total_rows = max(current.total_rows, current.rows_done)
                current.save(update_fields=[*_COUNTERS, "total_rows", "updated_at"])
            job = current
            if progress:
                progress(job)
    finally:
        importer.close()
    return True


def _run_dry(job: ImportJob, actor: Actor, progress) -> bool:
    """Every row through the real upsert in one transaction that is rolled back at the end,
    so identifier conflicts and same-file matches count exactly as in the real run."""
    importer = _Importer(job, actor)
    errors: list[RowError] = []
    job.rows_done = job.created = job.updated = job.unchanged = job.rejected = 0
    try:
        with transaction.atomic():
            for chunk in importer.chunks(job.next_row):
                for number, cells in chunk:
                    outcome = importer.row(number, cells)
                    _count(job, outcome)
                    errors.extend(outcome.errors)
                job.rows_done += len(chunk)
                job.next_row = chunk[-1][0] + 1
                job.total_rows = max(job.total_rows, job.rows_done)
                if progress:
                    progress(job)
            raise _DryRunRollback
    except _DryRunRollback:
        pass
    finally:
        importer.close()
    with transaction.atomic():
        ImportRowError.objects.filter(job=job).delete()
        ImportRowError.objects.bulk_create(
            [ImportRowError(job=job, row=e.row, column=e.column[:255], value=e.value,
                            reason=e.reason) for e in errors], batch_size=500)
        job.save(update_fields=[*_COUNTERS, "total_rows", "updated_at"])
    return True


def _write_report(job: ImportJob) -> None:
    """The report file from the stored errors: the path asked for, else imports/job-<id>.xlsx."""
    path = Path(job.report_path) if job.report_path else (
        _imports_dir() / f"job-{job.pk}-report.xlsx")
    report_format(path)
    partial = path.with_name(f".{path.name}.part{path.suffix}")
    with ReportWriter(partial, fmt=report_format(path)) as writer:
        for error in ImportRowError.objects.filter(job=job).order_by("row", "id").iterator(
                chunk_size=2000):
            writer.add(RowError(row=error.row, column=error.column, value=error.value,
                                reason=error.reason))
    os.replace(partial, path)
    job.report_path = str(path)


def import_job_configure(*, actor: Actor, job_id: int, mapping: Mapping[int, str | None],
                         dry_run: bool, skip_invalid_fields: bool = False) -> ImportJob:
    """Store the mapping and options chosen on the page and make the job ready to run again
    from its first row (a finished dry run may be followed by the real import)."""
    actor.require("customer.import")
    known = {key for key, _label in field_choices(active_custom_fields())}
    with transaction.atomic():
        job = job_for_actor(actor=actor, job_id=job_id, lock=True)
        if job.status == ImportJob.RUNNING or (
                job.status == ImportJob.DONE and not job.options.get("dry_run")) or \
                job.status == ImportJob.CANCELLED:
            raise Conflict(_("This import has already run; upload the file again."),
                           code="job_finished")
        headers = list(job.options.get("headers") or [])
        chosen: dict[int, str | None] = {}
        used: dict[str, int] = {}
        errors: list[str] = []
        for index in range(len(headers)):
            field = mapping.get(index) or None
            if field is not None and field not in known:
                errors.append(_("There is no field “%(field)s”.") % {"field": field})
                field = None
            if field is not None and field in used:
                errors.append(_("Both “%(first)s” and “%(second)s” are mapped to “%(field)s”; "
                                "map one of them only.") % {
                    "first": headers[used[field]], "second": headers[index],
                    "field": field_label(field)})
            if field is not None:
                used[field] = index
            chosen[index] = field
        if missing_required(chosen):
            errors.append(_("Map a column to the name."))
        if errors:
            raise ValidationFailed(errors[0], details={"mapping": errors}, code="invalid_mapping")
        with open_table(Path(settings.MEDIA_ROOT) / job.file, filename=job.original_filename,
                        sheet=job.sheet or None) as table:
            first_row = table.header_row + 1
            estimate = table.row_count_estimate
        ImportRowError.objects.filter(job=job).delete()
        job.mapping = {str(i): f for i, f in chosen.items()}
        job.options = {**job.options, "dry_run": bool(dry_run),
                       "skip_invalid_fields": bool(skip_invalid_fields)}
        job.status, job.error_message = ImportJob.QUEUED, ""
        job.rows_done = job.created = job.updated = job.unchanged = job.rejected = 0
        job.next_row, job.total_rows = first_row, max(job.total_rows, estimate)
        job.started_at = job.finished_at = None
        if job.report_path and Path(job.report_path).name == f"job-{job.pk}-report.xlsx":
            Path(job.report_path).unlink(missing_ok=True)
            job.report_path = ""
        job.save(update_fields=["mapping", "options", "status", "error_message", "rows_done",
                                "created", "updated", "unchanged", "rejected", "next_row",
                                "total_rows", "started_at", "finished_at", "report_path",
                                "updated_at"])
    return job


__all__ = ["CleanRow", "import_job_cancel", "import_job_configure", "import_job_create",
           "import_job_run"]
