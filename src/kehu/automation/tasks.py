"""Background work of the rules engine (Huey): the minute tick of time rules and the pending
runs (backfills, retries). Tasks take no state and call one engine function each."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task


@db_periodic_task(crontab(minute="*"))
def rules_tick_every_minute() -> dict[str, int]:
    """Evaluate time rules (on time within a minute) and run pending and due runs."""
    from kehu.automation.engine import tick

    return tick()


@db_task()
def rules_tick_now() -> dict[str, int]:
    """A tick at once (scheduled when a rule is activated with backfill)."""
    from kehu.automation.engine import tick

    return tick()
