"""Background work of the service desk (Huey). Thin: each calls one service."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.core.jobs import job_open, job_report
from kehu.core.models import Job
from kehu.service.services import sla


@db_periodic_task(crontab(minute="*"))
def sla_check_minutely():
    """Every minute: warnings and breaches that came due (each emitted once)."""
    return sla.sla_check()


@db_task()
def sla_recompute_task(user_id: int | None = None) -> int:
    """Recompute every ticket's clocks after a policy or calendar change, as a job."""
    from kehu.accounts.models import User

    user = User.objects.filter(pk=user_id).first() if user_id else None
    job = job_open(kind="sla_recompute", label="SLA", user=user)
    job_report(job, status=Job.RUNNING)
    try:
        count = sla.sla_recompute(progress=lambda done, total: job_report(
            job, done=done, total=total))
    except Exception as exc:
        job_report(job, status=Job.FAILED, error=str(exc))
        raise
    job_report(job, status=Job.DONE, result={"tickets": count})
    return count
