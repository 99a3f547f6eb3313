"""API: the whole customer card in one response, and its timeline page by page."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ninja import Field, Query, Router, Schema

from kehu.cards import selectors
from kehu.core.http import ERROR_RESPONSES
from kehu.core.schemas import Id, Limit
from kehu.customers.api import CustomerOut
from kehu.interactions.api import FollowUpOut
from kehu.pipeline.api import DealOut
from kehu.transactions.api import OrderOut, TicketOut

router = Router(tags=["cards"])


class TimelineItemOut(Schema):
    kind: str
    at: dt.datetime
    title: str
    body: str
    meta: dict[str, Any]
    object_id: int


class TimelineOut(Schema):
    items: list[TimelineItemOut]
    next_cursor: str | None = None


class CardOrderSummaryOut(Schema):
    count: int
    total_spend: Decimal
    last_ordered_at: dt.datetime | None = None
    returned_count: int


class ServiceSummaryOut(Schema):
    open_count: int
    total_count: int
    average_satisfaction: float | None = None


class HistoryOut(Schema):
    seq: int
    at: dt.datetime
    actor: str
    action: str
    changes: dict[str, Any]


class CustomFieldValueOut(Schema):
    key: str
    label: str
    field_type: str
    value: Any = None
    help_text: str


class CardOut(Schema):
    """Every layer of the card, scoped and masked for the caller exactly as on the page."""

    customer: CustomerOut
    custom_fields: list[CustomFieldValueOut]
    orders: CardOrderSummaryOut
    recent_orders: list[OrderOut]
    service: ServiceSummaryOut
    recent_tickets: list[TicketOut]
    follow_ups: list[FollowUpOut]
    timeline: TimelineOut
    history: list[HistoryOut]
    value: dict[str, Any] | None = None
    deals: list[DealOut] = []
    prediction: dict[str, Any] | None = None  # P(alive), expected purchases, CLV (scoring.view)


class TimelineQuery(Schema):
    kind: list[str] = []
    cursor: str | None = Field(None, max_length=100, description="next_cursor of the previous page")
    limit: Limit = Field(selectors.TIMELINE_PAGE, description="At most 100 are returned")


@router.get("/customers/{customer_id}/card", response={200: CardOut, **ERROR_RESPONSES},
            summary="The whole customer card in one response")
def get_card(request, customer_id: Id):
    return selectors.customer_card(user=request.user, customer_id=customer_id)


@router.get("/customers/{customer_id}/timeline", response={200: TimelineOut, **ERROR_RESPONSES},
            summary="The card's timeline, newest first; pass next_cursor back as cursor")
def get_timeline(request, customer_id: Id, query: Query[TimelineQuery]):
    customer = selectors.card_customer(user=request.user, customer_id=customer_id)
    return selectors.card_timeline(user=request.user, customer=customer,
                                   kinds=set(query.kind) or None, cursor=query.cursor,
                                   limit=query.limit)
