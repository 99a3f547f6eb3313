"""Reads of import jobs: who may see which job lives here, once, for pages, CLI and services."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import Conflict, NotFound, ValidationFailed
from kehu.customers.bulk_selectors import custom_fields_active
from kehu.interchange.mapping import field_choices
from kehu.interchange.models import ImportJob, ImportRowError
from kehu.interchange.readers import ReaderError, open_table
from kehu.interchange.rows import RowError, shown
from kehu.interchange.vault import plain_copy

PREVIEW_ROWS = 5


def _visible_jobs(user) -> QuerySet[ImportJob]:
    """A user's own jobs; every job for a superuser or for the command line (no user)."""
    if user is None or user.is_superuser:
        return ImportJob.objects.all()
    return ImportJob.objects.filter(created_by=user)


def _not_found():
    raise NotFound()


def job_for_actor(*, actor: Actor, job_id: int, lock: bool = False) -> ImportJob:
    """The job an actor may act on (locked for the caller's transaction when asked)."""
    jobs = _visible_jobs(actor.user)
    if lock:
        jobs = jobs.select_for_update()
    return jobs.filter(pk=job_id).first() or _not_found()


def active_custom_fields() -> list[Any]:
    return custom_fields_active()


def mapping_from_json(data: Mapping[str, Any]) -> dict[int, str | None]:
    return {int(k): v for k, v in data.items()}


def import_row_errors(job: ImportJob) -> list[RowError]:
    """The job's report lines, in row order."""
    return [RowError(row=e.row, column=e.column, value=e.value, reason=e.reason)
            for e in ImportRowError.objects.filter(job=job).order_by("row", "id")]


PREVIEW_ROWS = 5


def import_job_get(*, user, job_id: int) -> ImportJob:
    """A job the user may see (their own; every job for a superuser); NotFound otherwise."""
    user.access.require("customer.import")
    return _visible_jobs(user).filter(pk=job_id).first() or _not_found()


def import_jobs_recent(*, user, limit: int = 20) -> list[ImportJob]:
    user.access.require("customer.import")
    return list(_visible_jobs(user).order_by("-id")[:limit])


@dataclass
class ImportPreview:
    headers: list[str]
    mapping: dict[int, str | None]
    rows: list[list[str]]
    choices: list[tuple[str, str]]
    sheets: list[str] = field(default_factory=list)


def import_job_preview(*, user, job_id: int, rows: int = PREVIEW_ROWS) -> ImportPreview:
    """The job's columns, their current mapping, the first data rows and the field choices."""
    job = import_job_get(user=user, job_id=job_id)
    if not job.file:  # deleted when the job ended (services.upload_discard)
        raise Conflict(_("This import has already run; upload the file again."),
                       code="job_finished")
    custom_fields = active_custom_fields()
    try:
        with upload_table(job) as table:
            headers, sheets = list(table.headers), list(table.sheets)
            preview = []
            for _number, cells in table.rows():
                preview.append([shown(cell) for cell in cells])
                if len(preview) >= rows:
                    break
    except ReaderError as exc:
        raise ValidationFailed(exc.message, details={"file": [str(exc.message)]},
                               code=exc.code) from None
    mapping = mapping_from_json(job.mapping)
    return ImportPreview(headers=headers, rows=preview,
                         mapping={i: mapping.get(i) for i in range(len(headers))},
                         choices=field_choices(custom_fields, kind=job.kind), sheets=sheets)


@contextlib.contextmanager
def upload_plain(job: ImportJob) -> Iterator[Path]:
    """A path to the job's upload in clear for as long as the block runs (the stored file is
    encrypted: interchange.vault)."""
    with plain_copy(Path(settings.MEDIA_ROOT) / job.file) as path:
        yield path


@contextlib.contextmanager
def upload_table(job: ImportJob, sheet: str | None = None) -> Iterator[Any]:
    """The job's upload opened as a readers.Table (its sheet, or `sheet`)."""
    with upload_plain(job) as path, open_table(
            path, filename=job.original_filename,
            sheet=(sheet if sheet is not None else job.sheet) or None) as table:
        yield table
