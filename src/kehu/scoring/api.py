"""API: a customer's value, the R x F grid with the tier summary, and a scoring run on demand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Router, Schema

from kehu.core.errors import NotFound
from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Flag, Id, Input
from kehu.customers.selectors import customer_get_plain
from kehu.scoring import selectors, services

router = Router(tags=["scoring"])


class ValueChangeOut(Schema):
    changed_at: dt.datetime
    old_segment: str
    new_segment: str
    old_tier: str
    new_tier: str


class ValueOut(Schema):
    """RFM figures, scores (1-5, null when unscored), segment and tier with their labels."""

    recency_days: int | None = None
    frequency: int
    monetary: Decimal
    r_score: int | None = None
    f_score: int | None = None
    m_score: int | None = None
    rfm_code: str
    rfm_segment: str
    rfm_segment_label: str
    value_tier: str
    value_tier_label: str
    last_order_at: dt.datetime | None = None
    last_activity_at: dt.datetime | None = None
    window_days: int
    scored_at: dt.datetime
    history: list[ValueChangeOut]


class CellOut(Schema):
    r: int
    f: int
    count: int
    revenue: Decimal
    segment: str
    segment_label: str


class TierOut(Schema):
    tier: str
    label: str
    count: int
    revenue: Decimal


class GridOut(Schema):
    cells: list[CellOut]
    tiers: list[TierOut]
    scored: int
    last_run: dict[str, Any] | None = None


class ScoreIn(Input):
    full: Flag = False


class ScoreRunOut(Schema):
    id: int
    mode: str
    as_of: dt.date
    scored: int
    recomputed: int
    changed: int
    segment_changes: int
    lifecycle_changes: int
    duration_ms: int


@router.get("/customers/{customer_id}/value", response={200: ValueOut, **ERROR_RESPONSES},
            summary="A customer's RFM scores, segment and value tier (404 until scored)")
def get_value(request, customer_id: Id):
    customer = customer_get_plain(user=request.user, customer_id=customer_id)
    value = selectors.customer_value_get(user=request.user, customer=customer)
    if value is None:
        raise NotFound()
    return value


@router.get("/rfm/grid", response={200: GridOut, **ERROR_RESPONSES},
            summary="The R x F grid (counts and revenue) and the value tier summary")
def get_grid(request):
    return selectors.rfm_grid(user=request.user)


@router.post("/rfm/score", response={200: ScoreRunOut, **ERROR_RESPONSES},
             summary="Score now: incremental unless full (scoring.configure)")
def post_score(request, payload: ScoreIn):
    return services.rfm_score(actor=actor_of(request), full=payload.full)
