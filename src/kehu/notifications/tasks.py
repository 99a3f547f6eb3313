"""Background work of the channels: sending queued messages, the sweep, the daily digest."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task


@db_task()
def outbound_deliver_task(message_id: int):
    """Send one queued email or SMS (scheduled after the commit that queued it)."""
    from kehu.notifications.channels import outbound_deliver

    message = outbound_deliver(message_id=message_id)
    return message.status if message is not None else None


@db_periodic_task(crontab(minute="*"))
def outbound_sweep_every_minute():
    """Send what is due and was not sent: lost hooks, lost retries, a worker that died."""
    from kehu.notifications.channels import outbound_sweep

    return outbound_sweep()


@db_periodic_task(crontab(minute="7"))
def digest_hourly():
    """The daily digest, once the local hour reaches KEHU_DIGEST_HOUR (idempotent per user
    and day, so the later hours of the day only catch up on what was missed)."""
    from django.conf import settings
    from django.utils import timezone

    from kehu.notifications.digest import digest_send

    if timezone.localtime().hour < settings.KEHU_DIGEST_HOUR:
        return None
    return digest_send().sent
