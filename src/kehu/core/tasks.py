"""Periodic integrity checks and the domain events' dispatch, sweep and retention."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.core.audit import audit_verify
from kehu.core.jobs import jobs_prune, jobs_reap_dead

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
def jobs_reap_dead_every_minute():
    """Long jobs whose process died do not stay "running" (kehu.core.jobs)."""
    return jobs_reap_dead()


@db_periodic_task(crontab(minute="47", hour="3"))
def jobs_prune_nightly():
    """Finished jobs of frequent kinds (segment refreshes, exports) past their kind's keep_days."""
    return jobs_prune()


@db_periodic_task(crontab(minute="17", hour="3"))
def audit_verify_nightly():
    report = audit_verify()
    if not report.ok:
        logger.error("audit chain broken at entry #%s: %s", report.bad_seq, report.reason)
    return report.ok


@db_task()
def events_dispatch():
    """Hand committed domain events to their subscribers (scheduled on commit)."""
    from kehu.core.events import dispatch

    return dispatch()


@db_periodic_task(crontab(minute="*"))
def events_sweep():
    """Deliver what a lost on-commit hook left behind, and the retries that are due."""
    from kehu.core.events import dispatch

    return dispatch()


@db_periodic_task(crontab(minute="41", hour="3"))
def events_prune_nightly():
    """Delete delivered events past KEHU_EVENT_RETENTION_DAYS (the audit log stays)."""
    from kehu.core.events import events_prune

    return events_prune()
