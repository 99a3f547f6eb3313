"""Periodic pipeline work (Huey): overdue instalments, expired quotes, renewal reminders,
weekly forecast snapshots. Each task calls one idempotent service as the system."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from kehu.core.actor import Actor
from kehu.pipeline import services


def _system() -> Actor:
    return Actor.system(via="system")


@db_periodic_task(crontab(minute="5", hour="1"))
def pipeline_daily() -> dict[str, int]:
    """Nightly: flag overdue instalments (payment.overdue once each), expire quotes past
    their validity, and create renewal reminders that are due."""
    actor = _system()
    return {"overdue": services.instalments_flag_overdue(actor=actor),
            "expired": services.quotes_expire_due(actor=actor),
            "reminders": services.contracts_remind_renewals(actor=actor)}


@db_periodic_task(crontab(minute="20", hour="2", day_of_week="1"))
def forecast_snapshot_weekly() -> int:
    """Mondays: record the forecast as it stands, for forecast accuracy."""
    return services.forecast_snapshot_take(actor=_system())
