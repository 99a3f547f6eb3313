"""Background scoring (Huey): a full run every night (recency and the window move with the
date) and an incremental run on demand. Tasks only call the service."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.core.actor import Actor
from kehu.scoring.services import rfm_score


@db_periodic_task(crontab(minute="30", hour="2"))
def rfm_score_nightly() -> int:
    return rfm_score(actor=Actor.system(via="system"), full=True).pk


@db_task()
def rfm_score_task(full: bool = False) -> int:
    return rfm_score(actor=Actor.system(via="system"), full=full).pk
