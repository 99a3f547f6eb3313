"""Periodic integrity checks."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from kehu.core.audit import audit_verify
from kehu.core.jobs import jobs_reap_dead

logger = logging.getLogger(__name__)


@db_periodic_task(crontab(minute="*"))
def jobs_reap_dead_every_minute():
    """Long jobs whose process died do not stay "running" (kehu.core.jobs)."""
    return jobs_reap_dead()


@db_periodic_task(crontab(minute="17", hour="3"))
def audit_verify_nightly():
    report = audit_verify()
    if not report.ok:
        logger.error("audit chain broken at entry #%s: %s", report.bad_seq, report.reason)
    return report.ok
