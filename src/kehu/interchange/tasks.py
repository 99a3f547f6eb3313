"""Background import jobs (Huey). Running a job again resumes it; a done job returns at once."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from kehu.core.actor import Actor
from kehu.interchange.models import ImportJob
from kehu.interchange.services import import_job_check_duplicates, import_job_run


@db_task()
def import_job_task(job_id: int) -> None:
    job = ImportJob.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None or job.status in (ImportJob.DONE, ImportJob.CANCELLED):
        return
    import_job_run(job_id=job.pk, actor=Actor(user=job.created_by, via="system"))


@db_task()
def import_duplicates_task(job_id: int) -> None:
    import_job_check_duplicates(job_id=job_id)
