"""The privacy app's nightly work: retention policies, consent expiry, request deadlines.
Thin: each calls one service."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from kehu.core.actor import Actor


@db_periodic_task(crontab(minute="23", hour="2"))
def privacy_retention_nightly():
    from kehu.privacy.retention import retention_run

    retention_run(actor=Actor.system(via="system"))


@db_periodic_task(crontab(minute="7", hour="*"))
def privacy_consents_expire():
    from kehu.privacy.services import consents_expire_due

    consents_expire_due()


@db_periodic_task(crontab(minute="13", hour="8"))
def privacy_request_deadlines():
    from kehu.privacy.requests import requests_check_deadlines

    requests_check_deadlines()


@db_periodic_task(crontab(minute="31", hour="7"))
def privacy_unusual_access_daily():
    """The daily unusual-access report, written to the security log (kehu.security) where
    the operators' alerting reads it; the page shows the same report."""
    import datetime as dt
    import logging

    from django.utils import timezone

    from kehu.privacy.selectors import unusual_access

    since = timezone.now() - dt.timedelta(days=1)
    for row in unusual_access(user=None, since=since):
        logging.getLogger("kehu.security").warning(
            "unusual access: %s revealed %d ID numbers of %d customers in a day",
            row.actor_label, row.reveals, row.customers)
