"""Background import jobs (Huey). Running a job again resumes it; a done job returns at once."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.core.actor import Actor
from kehu.interchange.models import ImportJob
from kehu.interchange.services import (
    import_job_check_duplicates,
    import_job_run,
    import_uploads_cleanup,
)


@db_task()
def import_job_task(job_id: int) -> None:
    job = ImportJob.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None or job.status in (ImportJob.DONE, ImportJob.CANCELLED):
        return
    import_job_run(job_id=job.pk, actor=Actor(user=job.created_by, via="system"))


@db_task()
def import_duplicates_task(job_id: int) -> None:
    import_job_check_duplicates(job_id=job_id)


@db_periodic_task(crontab(minute="17"))
def import_uploads_cleanup_task() -> None:
    """Hourly: delete uploads left by jobs that failed or were abandoned (settings
    KEHU_IMPORT_UPLOAD_HOURS) and files no job refers to."""
    import_uploads_cleanup()
