"""The chunk loop every import job runs, whatever its kind.

Each chunk is written in ONE transaction together with the job's counters, `next_row` and
the chunk's report lines, so a process killed at any moment resumes after the last
committed chunk and ends with the counts of an uninterrupted run. A chunk that meets a row
another writer committed after its lookups is rolled back and run again
(`atomic_retrying_conflicts`). A dry run sends every chunk through the same writes in one
transaction that is rolled back, then stores only the counts and the report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import transaction

from kehu.core.conflicts import atomic_retrying_conflicts
from kehu.core.jobs import job_report
from kehu.interchange.models import ImportJob, ImportRowError
from kehu.interchange.rows import RowError

RESULTS = ("created", "updated", "unchanged", "rejected")
_SAVED = ["rows_done", *RESULTS, "next_row", "total_rows", "updated_at"]


@dataclass
class Chunk:
    """Rows `first`..`last` of the file (Excel numbers), `size` of them, and what the
    kind's writer takes (raw cells, cleaned rows …)."""

    first: int
    last: int
    size: int
    rows: Any


@dataclass
class Written:
    """What a chunk's writer reports: each row's outcome counted, and its report lines."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESULTS, 0))
    errors: list[RowError] = field(default_factory=list)


Write = Callable[[Any], Written]
Progress = Callable[[ImportJob], None] | None


def run_chunks(job: ImportJob, chunks: Iterable[Chunk], write: Write,
               progress: Progress) -> bool:
    """Write the chunks in order; True when the last one was committed, False when the job
    was cancelled or another runner got ahead of this one."""
    for chunk in chunks:
        current = atomic_retrying_conflicts(partial(_write_chunk, job.pk, chunk, write))
        if current is None:
            return False
        job = current
        if progress:
            progress(job)
    return True


def run_chunks_dry(job: ImportJob, chunks: Iterable[Chunk], write: Write,
                   progress: Progress) -> bool:
    """Every chunk through the real writes in one transaction that is rolled back, so
    identifier conflicts and same-file matches count exactly as in the real run; then the
    counts and report lines are stored."""
    errors: list[RowError] = []
    job.rows_done = job.created = job.updated = job.unchanged = job.rejected = 0
    try:
        with transaction.atomic():
            for chunk in chunks:
                errors.extend(_count(job, chunk, write(chunk.rows)))
                if progress:
                    progress(job)
            raise _DryRunRollback
    except _DryRunRollback:
        pass
    with transaction.atomic():
        ImportRowError.objects.filter(job=job).delete()
        _store_errors(job, errors)
        job.save(update_fields=_SAVED)
        import_job_sync(job)
    return True


class _DryRunRollback(Exception):
    pass


def _write_chunk(job_id: int, chunk: Chunk, write: Write) -> ImportJob | None:
    """One chunk with the job's counters and report lines, inside the caller's transaction;
    None when the job was cancelled or another runner got ahead."""
    current = ImportJob.objects.select_for_update().get(pk=job_id)
    if current.status != ImportJob.RUNNING or current.next_row > chunk.first:
        return None
    _store_errors(current, _count(current, chunk, write(chunk.rows)))
    current.save(update_fields=_SAVED)
    import_job_sync(current)
    return current


def import_job_sync(job: ImportJob) -> None:
    """Report an import's state to its entry in the one job system (same status names)."""
    if job.job_id is None:
        return
    finished = job.status == ImportJob.DONE
    job_report(job.job_id, status=job.status, done=job.rows_done, total=max(job.total_rows, job.rows_done),
               error=job.error_message,
               result={"created": job.created, "updated": job.updated, "unchanged": job.unchanged,
                       "rejected": job.rejected} if finished else None)


def _count(job: ImportJob, chunk: Chunk, written: Written) -> list[RowError]:
    for result in RESULTS:
        setattr(job, result, getattr(job, result) + written.counts[result])
    job.rows_done += chunk.size
    job.next_row = chunk.last + 1
    job.total_rows = max(job.total_rows, job.rows_done)
    return written.errors


def _store_errors(job: ImportJob, errors: list[RowError]) -> None:
    ImportRowError.objects.bulk_create(
        [ImportRowError(job_id=job.pk, row=e.row, column=e.column[:255], value=e.value,
                        reason=e.reason) for e in errors], batch_size=2000)
