"""Background work of the boards (Huey): the one-time build of the daily summaries."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from kehu.dashboards.summaries import summaries_rebuild


@db_task()
def summaries_rebuild_task() -> dict[str, int]:
    """Build every summary from the rows (after an upgrade; a million customers take minutes,
    so the worker does it, not `kehu migrate`)."""
    return summaries_rebuild()
