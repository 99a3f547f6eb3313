"""Import jobs: create one from a file, run it in resumable chunks, cancel it.

Each chunk of rows runs in ONE transaction that writes its customers (set-based, see
interchange.bulk: the card's normalisation, validation and audit, applied row by row in
memory and written in bulk), stores the errors it found and advances the job's counters and
`next_row`. A process killed at any moment therefore leaves whole chunks only; running the
job again resumes after the last committed chunk and ends with exactly the counts of an
uninterrupted run. The report file is written at the end from the stored errors.

Upsert: a row matches an existing live customer by its identifiers in precedence order
(default mobile, email, id_number, external_id). Rows of one file that share an identifier
reach the same customer. Only non-empty values that differ from the stored ones are
written: empty cells never erase, identical rows are "unchanged" and write no audit entry.
A further phone, email or WeChat on a customer that has one is added as a secondary
identifier.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import Conflict, DomainError, ValidationFailed
from kehu.core.events import Related, emit_many
from kehu.core.jobs import job_open, job_report, runner_is_worker
from kehu.core.models import Job
from kehu.customers.bulk_selectors import customer_ids_changed_since
from kehu.identity.models import DuplicateCandidate
from kehu.identity.scan import dedup_scan_create, dedup_scan_run, duplicates_record_for
from kehu.interchange.bulk import (
    CHUNK_ROWS,
    EXTERNAL_SYSTEM,
    ON_NAME_CONFLICT,
    PRECEDENCE,
    CustomersImport,
)
from kehu.interchange.jobs import import_job_sync, run_chunks, run_chunks_dry
from kehu.interchange.kinds import kind_require, run_kind
from kehu.interchange.mapping import (
    MULTI_FIELDS,
    MappingError,
    apply_overrides,
    field_choices,
    field_label,
    missing_required,
    missing_required_text,
    suggest_mapping,
)
from kehu.interchange.models import ImportJob, ImportRowError
from kehu.interchange.readers import ReaderError, check_file, open_table
from kehu.interchange.report import ReportWriter, report_format
from kehu.interchange.rows import CleanRow, RowError
from kehu.interchange.selectors import (
    active_custom_fields,
    job_for_actor,
    upload_table,
)
from kehu.interchange.vault import plain_copy, store_encrypted

KINDS = ("customers", "orders", "interactions", "events", "deals", "payments")


def _imports_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _store_upload(file: str | os.PathLike | IO[bytes], stored: Path, filename: str) -> None:
    """Copy the upload to `stored` encrypted (interchange.vault), readable by kehu's user
    only (600): the file holds personal data and never rests on disk in clear."""
    try:
        source = open(file, "rb") if isinstance(file, (str, os.PathLike)) else None  # noqa: SIM115
    except OSError:
        raise ValidationFailed(_("“%(file)s” cannot be opened.") % {"file": filename},
                               details={"file": [_("The file cannot be opened.")]},
                               code="unreadable") from None
    try:
        store_encrypted(source or file, stored)
    finally:
        if source is not None:
            source.close()


def upload_discard(job: ImportJob) -> None:
    """Delete the job's uploaded file (it holds personal data in clear) and forget its path.
    Called when a job ends and can no longer run; a job left resumable keeps its file until
    `import_uploads_cleanup` removes it."""
    if not job.file:
        return
    (Path(settings.MEDIA_ROOT) / job.file).unlink(missing_ok=True)
    job.file = ""
    ImportJob.objects.filter(pk=job.pk).update(file="")


def import_uploads_cleanup(*, now=None) -> int:
    """Delete uploads that wait too long: those of jobs unchanged for KEHU_IMPORT_UPLOAD_HOURS
    (failed, abandoned before running, dry runs never followed) and files under imports/ no
    job refers to (an upload whose request died) older than an hour. Returns files deleted."""
    now = now or timezone.now()
    stale = now - timedelta(hours=settings.KEHU_IMPORT_UPLOAD_HOURS)
    deleted = 0
    for job in ImportJob.objects.exclude(file="").exclude(status=ImportJob.RUNNING).filter(
            updated_at__lt=stale).only("pk", "file"):
        if (Path(settings.MEDIA_ROOT) / job.file).exists():
            deleted += 1
        upload_discard(job)
    directory = _imports_dir()
    known = {Path(name).name for name in ImportJob.objects.exclude(file="")
             .values_list("file", flat=True)}
    orphaned = (now - timedelta(hours=1)).timestamp()
    for path in directory.iterdir():
        if path.is_file() and path.name not in known and not path.name.startswith("job-") \
                and path.stat().st_mtime < orphaned:
            path.unlink(missing_ok=True)
            deleted += 1
    return deleted






# Creating ------------------------------------------------------------------------------------


def import_job_create(*, actor: Actor, file: str | os.PathLike | IO[bytes], filename: str,
                      sheet: str | None = None, overrides: Iterable[str] = (),
                      options: Mapping[str, Any] | None = None,
                      kind: str = "customers") -> ImportJob:
    """Store the file under MEDIA_ROOT/imports/, check it opens and the mapping has a name
    column, and create a queued job. ValidationFailed names the problem otherwise."""
    if kind not in KINDS:
        raise ValidationFailed(details={"kind": [
            _("Import customers, orders, interactions, events, deals or payments.")]}, code="unknown_kind")
    kind_require(actor, kind)
    options = dict(options or {})
    precedence = list(options.get("precedence") or PRECEDENCE)
    unknown = [p for p in precedence if p not in PRECEDENCE]
    if unknown:
        raise ValidationFailed(details={"precedence": [
            _("Match customers by %(fields)s only.") % {"fields": ", ".join(PRECEDENCE)}]})
    on_name_conflict = _name_conflict_option(options.get("on_name_conflict"))
    stored = _imports_dir() / f"{uuid.uuid4().hex}{Path(filename).suffix.lower()[:10]}"
    try:
        _store_upload(file, stored, filename)
        custom_fields = active_custom_fields()
        try:
            # Read the whole file in a memory-limited child first: a hostile file is refused
            # (or kills the child) before this process parses it.
            with plain_copy(stored) as plain, open_table(plain, filename=filename,
                                                         sheet=sheet) as table:
                rows = check_file(plain, filename=filename, sheet=sheet)
                mapping = apply_overrides(suggest_mapping(table.headers,
                                                          custom_fields=custom_fields, kind=kind),
                                          list(overrides), table.headers,
                                          custom_fields=custom_fields, kind=kind)
                headers, total, sheet_name = table.headers, rows, table.sheet
                first_row = table.header_row + 1
        except (ReaderError, MappingError) as exc:
            raise ValidationFailed(exc.message, details={"file": [str(exc.message)]},
                                   code=exc.code) from None
        # The page lets the user complete the mapping (or pick another sheet) afterwards.
        if kind != "customers" and missing_required(mapping, kind) and \
                not options.get("map_later"):
            raise ValidationFailed(
                _("“%(file)s” has no column for %(fields)s; its columns are: %(columns)s.")
                % {"file": filename, "fields": missing_required_text(mapping, kind),
                   "columns": "、".join(h for h in headers if h)},
                details={"mapping": [_("Map a column to %s.")
                                     % missing_required_text(mapping, kind)]},
                code="missing_column")
        if kind == "customers" and missing_required(mapping):
            raise ValidationFailed(
                _("No column of “%(file)s” is mapped to the name; its columns are: %(columns)s.")
                % {"file": filename, "columns": "、".join(h for h in headers if h)},
                details={"mapping": [_("Map a column to the name.")]}, code="no_name_column")
    except BaseException:
        stored.unlink(missing_ok=True)
        raise
    return ImportJob.objects.create(
        job=job_open(kind="import", label=filename, user=actor.user, total=total),
        created_by=actor.user, file=str(stored.relative_to(settings.MEDIA_ROOT)),
        original_filename=filename[:255], sheet=sheet_name or "", kind=kind,
        mapping={str(i): f for i, f in mapping.items()},
        options={"skip_invalid_fields": bool(options.get("skip_invalid_fields")),
                 "dry_run": bool(options.get("dry_run")), "precedence": precedence,
                 "on_name_conflict": on_name_conflict,
                 "headers": headers, "create_products": bool(options.get("create_products"))},
        total_rows=total, next_row=first_row, report_path=str(options.get("report") or ""),
        language=translation.get_language() or settings.LANGUAGE_CODE)


def _name_conflict_option(value: Any) -> str:
    """review (the default), reject or update; ValidationFailed naming the choices."""
    value = str(value or "review").strip()
    if value not in ON_NAME_CONFLICT:
        raise ValidationFailed(
            _("Choose what a row does when its name differs from the customer's: %s.")
            % " | ".join(ON_NAME_CONFLICT),
            details={"on_name_conflict": [_("Choose one of: %s.") % ", ".join(ON_NAME_CONFLICT)]},
            code="invalid_option")
    return value


def import_job_cancel(*, actor: Actor, job_id: int) -> ImportJob:
    """Stop a queued or running job after its current chunk; done jobs stay done."""
    actor.require("customer.import")
    with transaction.atomic():
        job = job_for_actor(actor=actor, job_id=job_id, lock=True)
        if job.status in (ImportJob.QUEUED, ImportJob.RUNNING, ImportJob.FAILED):
            job.status = ImportJob.CANCELLED
            job.finished_at = timezone.now()
            job.save(update_fields=["status", "finished_at", "updated_at"])
            import_job_sync(job)
        if job.status == ImportJob.CANCELLED:
            upload_discard(job)  # a cancelled job never runs again
    return job




# Running -------------------------------------------------------------------------------------


def _finished(job: ImportJob) -> dict[str, Any]:
    """An import.finished payload: the job's kind and counts."""
    return {"status": {"before": ImportJob.RUNNING, "after": ImportJob.DONE},
            "kind": job.kind, "rows": job.rows_done, "created": job.created,
            "updated": job.updated, "unchanged": job.unchanged, "rejected": job.rejected}


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
        import_job_sync(job)
        try:
            if job.kind != "customers":
                finished = run_kind(job, actor, progress, dry_run=bool(job.options.get("dry_run")),
                                    chunk_rows=CHUNK_ROWS)
            else:
                finished = _run(job, actor, progress, dry_run=bool(job.options.get("dry_run")))
        except ReaderError as exc:
            _fail(job, str(exc.message))
            upload_discard(job)  # the file itself is refused: running again cannot help
            return job
        except DomainError as exc:
            _fail(job, str(exc.message))
            return job
        except Exception as exc:
            _fail(job, _("The import stopped on an unexpected error: %s") % type(exc).__name__)
            raise
        job.refresh_from_db()
        if finished and job.status == ImportJob.RUNNING:
            _write_report(job)
            with transaction.atomic():
                job.status, job.finished_at = ImportJob.DONE, timezone.now()
                job.total_rows = job.rows_done
                job.save(update_fields=["status", "finished_at", "total_rows", "report_path",
                                        "updated_at"])
                import_job_sync(job)
                if not job.options.get("dry_run"):  # the job row is its record: no audit
                    emit_many(actor=actor, events=[Related(
                        type="import.finished", object_type="import_job", object_id=job.pk,
                        object_repr=job.original_filename, changes=_finished(job))])
            if not job.options.get("dry_run"):
                upload_discard(job)  # a dry run keeps it for the import that follows
            if job.kind == "customers" and not job.options.get("dry_run") and (
                    job.created or job.updated):
                from kehu.interchange.tasks import import_duplicates_task  # tasks imports us

                transaction.on_commit(lambda: import_duplicates_task(job.pk))
    return job


def import_job_interrupted(entry: Job) -> None:
    """The process running an import is gone (killed, rebooted). A worker's job is queued again
    and resumes from its next row; a job run by `kehu import` in a terminal is marked failed
    with how to resume it, since whoever stopped it may have meant to."""
    job = ImportJob.objects.filter(job=entry).first()
    if job is None:
        job_report(entry, status=Job.FAILED)
        return
    resume = runner_is_worker(entry.runner)
    with translation.override(job.language or settings.LANGUAGE_CODE):
        message = "" if resume else _(
            "Interrupted: the process running this import stopped. Resume it (kehu import "
            "--resume %(id)s, or on the import page) to continue from row %(row)s.") % {
            "id": job.pk, "row": max(job.next_row, 2)}
    with transaction.atomic():
        updated = ImportJob.objects.filter(pk=job.pk, status=ImportJob.RUNNING).update(
            status=ImportJob.QUEUED if resume else ImportJob.FAILED, error_message=message,
            updated_at=timezone.now())
        job.refresh_from_db()
        import_job_sync(job)
        if updated and resume:
            from kehu.interchange.tasks import import_job_task  # tasks imports us

            transaction.on_commit(lambda: import_job_task(job.pk))


# Up to this many imported customers are checked one by one against the base; a bigger import
# is followed by a whole-base scan, which batches the matching instead.
DUPLICATE_CHECK_ONE_BY_ONE = 2000


def import_job_check_duplicates(*, job_id: int) -> int:
    """Queue the likely duplicates of the customers a finished import created or updated for
    review (the identity review queue). A system job: it writes candidates, never merges
    unless the auto-merge threshold is set. Returns how many customers were checked."""
    job = ImportJob.objects.get(pk=job_id)
    if job.status != ImportJob.DONE or job.started_at is None:
        return 0
    system = Actor.system(via="system")
    touched = customer_ids_changed_since(job.started_at, limit=DUPLICATE_CHECK_ONE_BY_ONE + 1)
    if len(touched) > DUPLICATE_CHECK_ONE_BY_ONE:
        scan = dedup_scan_create(actor=system)
        return dedup_scan_run(actor=system, scan_id=scan.pk).total
    duplicates_record_for(actor=system, customer_ids=touched, found_by=DuplicateCandidate.IMPORT)
    return len(touched)


def _fail(job: ImportJob, message: str) -> None:
    job.refresh_from_db()
    job.status, job.error_message = ImportJob.FAILED, message
    job.finished_at = timezone.now()
    job.save(update_fields=["status", "error_message", "finished_at", "updated_at"])
    import_job_sync(job)


def _run(job: ImportJob, actor: Actor, progress, *, dry_run: bool) -> bool:
    """The customers import through the jobs' chunk loop (bulk.py writes the customers).
    True when the last row was committed; False when cancelled or overtaken."""
    importer = CustomersImport(job, actor)
    try:
        run = run_chunks_dry if dry_run else run_chunks
        return run(job, importer.job_chunks(job.next_row), importer.write, progress)
    finally:
        importer.close()


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
                         dry_run: bool, skip_invalid_fields: bool = False,
                         create_products: bool | None = None,
                         on_name_conflict: str | None = None) -> ImportJob:
    """Store the mapping and options chosen on the page and make the job ready to run again
    from its first row (a finished dry run may be followed by the real import)."""
    actor.require("customer.import")
    with transaction.atomic():
        job = job_for_actor(actor=actor, job_id=job_id, lock=True)
        kind_require(actor, job.kind)
        known = {key for key, _label in field_choices(active_custom_fields(), kind=job.kind)}
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
            if field is not None and field in used and field not in MULTI_FIELDS:
                errors.append(_("Both “%(first)s” and “%(second)s” are mapped to “%(field)s”; "
                                "map one of them only.") % {
                    "first": headers[used[field]], "second": headers[index],
                    "field": field_label(field, kind=job.kind)})
            if field is not None:
                used[field] = index
            chosen[index] = field
        if job.kind != "customers" and missing_required(chosen, job.kind):
            errors.append(_("Map a column to %s.") % missing_required_text(chosen, job.kind))
        elif job.kind == "customers" and missing_required(chosen):
            errors.append(_("Map a column to the name."))
        if errors:
            raise ValidationFailed(errors[0], details={"mapping": errors}, code="invalid_mapping")
        with upload_table(job) as table:
            first_row = table.header_row + 1
            estimate = table.row_count_estimate
        ImportRowError.objects.filter(job=job).delete()
        job.mapping = {str(i): f for i, f in chosen.items()}
        job.options = {**job.options, "dry_run": bool(dry_run),
                       "skip_invalid_fields": bool(skip_invalid_fields)}
        if create_products is not None:
            job.options["create_products"] = bool(create_products)
        if on_name_conflict is not None:
            job.options["on_name_conflict"] = _name_conflict_option(on_name_conflict)
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
        import_job_sync(job)
    return job


__all__ = ["CHUNK_ROWS", "EXTERNAL_SYSTEM", "ON_NAME_CONFLICT", "PRECEDENCE", "CleanRow",
           "import_job_cancel", "import_job_configure", "import_job_create",
           "import_job_run", "import_uploads_cleanup", "upload_discard"]
