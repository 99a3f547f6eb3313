"""Periodic data-quality jobs (Huey). Thin: each calls one service as the system actor."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.core.actor import Actor
from kehu.quality import services


@db_periodic_task(crontab(minute="*/10"))
def quality_refresh_changed():
    """Rescore customers changed or contacted since their last score (the cheap path)."""
    return services.quality_recompute(actor=Actor.system(via="system"), only_dirty=True).customers


@db_periodic_task(crontab(minute="40", hour="2"))
def quality_nightly():
    """Rescore everyone (freshness moves with the calendar), then record the day's figures."""
    actor = Actor.system(via="system")
    services.quality_recompute(actor=actor)
    return services.quality_snapshot_take(actor=actor).pk


@db_periodic_task(crontab(minute="0", hour="7"))
def quality_remind_daily():
    """Remind owners of customers without contact for the configured number of days."""
    return services.quality_remind(actor=Actor.system(via="system")).created


@db_task()
def quality_recompute_task(user_id: int, changed_only: bool = False) -> int:
    """A recompute asked for from the page, run by the worker on that user's behalf."""
    from kehu.accounts.models import User

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return 0
    return services.quality_recompute(actor=Actor(user=user, via="web"),
                                      only_dirty=changed_only).customers
