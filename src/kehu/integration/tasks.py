"""Background sending of webhook deliveries: right after the events commit, and every minute
for the retries that have come due. Tasks only call the service."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.integration.services import webhooks_send_due


@db_task()
def webhooks_send_due_task() -> int:
    return webhooks_send_due()


@db_periodic_task(crontab(minute="*"))
def webhooks_retry_every_minute() -> int:
    return webhooks_send_due()
