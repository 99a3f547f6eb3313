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
