"""Background work of the boards (Huey): the one-time build of the daily summaries, and the
daily move of age bands on birthdays."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.dashboards.summaries import summaries_birthdays, summaries_rebuild


@db_task()
def summaries_rebuild_task() -> dict[str, int]:
    """Build every summary from the rows (after an upgrade; a million customers take minutes,
    so the worker does it, not `kehu migrate`)."""
    return summaries_rebuild()


@db_periodic_task(crontab(minute="5"))
def summaries_birthdays_task() -> int:
    """Move today's birthdays to their new age band in the profile summary. Hourly, so the
    local day's first run comes soon after local midnight whatever the worker's clock; a run
    with nothing new changes nothing (the ledger already holds today's band)."""
    return summaries_birthdays()
