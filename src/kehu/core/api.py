"""API: the one job system — every long job the caller may see, with its progress."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Path, Query, Router, Schema

from kehu.core import selectors
from kehu.core.http import ERROR_RESPONSES

router = Router(tags=["jobs"])

JobStatus = Literal["queued", "running", "done", "failed", "cancelled"]


class JobOut(Schema):
    id: int
    kind: str
    kind_label: str
    label: str
    status: JobStatus
    status_label: str
    done: int
    total: int
    percent: int | None
    rate: float = Field(description="items per second since the job started")
    seconds_left: int | None
    error: str
    result: dict[str, Any]
    created_by: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    url: str | None = Field(description="the page of the job's own kind")


class JobPageOut(Schema):
    items: list[JobOut]
    count: int


class JobFilter(Schema):
    status: JobStatus | None = None
    kind: str | None = Field(None, max_length=40)
    limit: int = Field(50, ge=1, le=selectors.JOB_LIST_LIMIT)
    offset: int = Field(0, ge=0, le=10_000_000)


@router.get("/jobs", response={200: JobPageOut, **ERROR_RESPONSES},
            summary="Long jobs (imports, duplicate scans, scoring runs …), newest first")
def list_jobs(request, filters: Query[JobFilter]):
    count, items = selectors.job_list(user=request.user, status=filters.status, kind=filters.kind,
                                      limit=filters.limit, offset=filters.offset)
    return {"items": items, "count": count}


@router.get("/jobs/{job_id}", response={200: JobOut, **ERROR_RESPONSES}, summary="One job's progress")
def get_job(request, job_id: int = Path(..., ge=1, le=2**63 - 1)):
    return selectors.job_get(user=request.user, job_id=job_id)
