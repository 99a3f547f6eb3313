"""Background recomputation of segments (Huey): hourly for every dynamic segment, and one
segment on demand. Tasks take ids and call one service."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from kehu.core.actor import Actor
from kehu.segments.models import Segment
from kehu.segments.services import segment_refresh, segments_refresh_due


@db_periodic_task(crontab(minute="7"))
def segments_refresh_hourly() -> dict[str, int]:
    return segments_refresh_due(actor=Actor.system(via="system"))


@db_task()
def segment_refresh_task(segment_id: int) -> None:
    segment = Segment.objects.filter(pk=segment_id).first()
    if segment is not None:
        segment_refresh(actor=Actor.system(via="system"), segment=segment)
