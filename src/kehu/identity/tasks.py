"""Background duplicate scans (Huey): the task takes the scan's id and runs the service."""

from __future__ import annotations

from huey.contrib.djhuey import db_task

from kehu.core.actor import Actor
from kehu.identity.models import DedupScan
from kehu.identity.scan import dedup_scan_run


@db_task()
def dedup_scan_task(scan_id: int) -> None:
    scan = DedupScan.objects.select_related("created_by").filter(pk=scan_id).first()
    if scan is None or scan.status == DedupScan.DONE:
        return
    dedup_scan_run(actor=Actor(user=scan.created_by, via="system"), scan_id=scan.pk)
