"""Background prediction (Huey): a nightly run (rescoring every buyer with the recent fit,
refitting once it is a week old) and a refit on demand. Tasks only call the service."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.core.actor import Actor
from kehu.core.models import Job
from kehu.prediction.services import clv_score


@db_periodic_task(crontab(minute="50", hour="2"))
def clv_score_nightly() -> int:
    return clv_score(actor=Actor.system(via="system")).pk


@db_task()
def clv_score_task(job_id: int, model: str = "", full: bool = True) -> int | None:
    job = Job.objects.select_related("created_by").filter(pk=job_id).first()
    if job is None or job.status != Job.QUEUED:
        return None
    return clv_score(actor=Actor(user=job.created_by, via="system"), full=full, model=model,
                     job=job).pk
