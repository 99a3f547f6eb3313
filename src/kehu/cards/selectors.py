"""The customer card: one selector composing every layer, used by the card page and the API.

Each layer answers for itself (customers, interactions, transactions, the audit log) and
applies the caller's scope and field permissions; this module only puts the pieces together.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kehu.core.models import AuditEntry
from kehu.core.selectors import audit_history_for
from kehu.core.timeline import TimelineCursor, TimelineItem, timeline_sort_key
from kehu.customers import fields as catalogue
from kehu.customers import selectors as customers
from kehu.customers.models import Customer
from kehu.interactions import selectors as interactions
from kehu.interactions.models import FollowUpTask
from kehu.prediction import selectors as prediction
from kehu.quality import selectors as quality
from kehu.quality.selectors import QualityBreakdown
from kehu.scoring import selectors as scoring
from kehu.transactions import selectors as transactions
from kehu.transactions.models import Order, Ticket

TIMELINE_KINDS = ("interaction", "event", "order", "ticket")
TIMELINE_PAGE = 20

@dataclass(frozen=True)
class TimelinePage:
    items: list[TimelineItem]
    next_cursor: str | None  # pass back as `cursor` for the next page; None at the end


@dataclass(frozen=True)
class HistoryEntry:
    seq: int
    at: dt.datetime
    actor: str
    action: str
    changes: dict[str, Any]


@dataclass(frozen=True)
class CustomFieldValue:
    key: str
    label: str
    field_type: str
    value: Any
    help_text: str


@dataclass(frozen=True)
class CustomerCard:
    """Everything the card shows, already scoped and masked for the caller."""

    customer: dict[str, Any]
    custom_fields: list[CustomFieldValue]
    orders: transactions.OrderSummary
    recent_orders: list[Order]
    service: transactions.ServiceSummary
    recent_tickets: list[Ticket]
    follow_ups: list[FollowUpTask]
    timeline: TimelinePage
    history: list[HistoryEntry]
    value: dict[str, Any] | None = None  # RFM scores, segment and tier; None when unscored
    quality: QualityBreakdown | None = None
    prediction: dict[str, Any] | None = None  # P(alive), expected purchases, CLV; None unscored


def customer_card(*, user, customer_id: int) -> CustomerCard:
    """The whole card in a bounded number of queries (pinned in tests)."""
    customer = customers.customer_get(user=user, customer_id=customer_id)
    custom_fields = custom_field_values(user=user, customer=customer)
    return CustomerCard(
        customer=customers.customer_present(user, customer),
        custom_fields=custom_fields,
        orders=transactions.customer_order_summary(user, customer),
        recent_orders=list(transactions.order_list(user, customer_id=customer.pk)[:10]),
        service=transactions.customer_service_summary(user, customer),
        recent_tickets=list(transactions.ticket_list(user, customer_id=customer.pk)[:10]),
        follow_ups=card_follow_ups(user=user, customer=customer),
        timeline=card_timeline(user=user, customer=customer),
        history=card_history(user=user, customer=customer),
        value=scoring.card_value(user=user, customer=customer),
        prediction=prediction.card_prediction(user=user, customer=customer),
        # customer_get joins the score: no query of its own.
        quality=quality.customer_quality(user=user, customer=customer, labels={
            f"custom.{f.key}": f.label for f in custom_fields}),
    )


def card_follow_ups(*, user, customer: Customer, limit: int = 10) -> list[FollowUpTask]:
    """The card's open follow-ups, soonest first."""
    return list(interactions.follow_up_list(user, customer_id=customer.pk, status="open")[:limit])


def card_customer(*, user, customer_id: int) -> Customer:
    """The customer row behind a card, for pages that need only the header."""
    return customers.customer_get(user=user, customer_id=customer_id)


def card_timeline(
    *,
    user,
    customer: Customer,
    kinds: set[str] | None = None,
    cursor: str | None = None,
    limit: int = TIMELINE_PAGE,
) -> TimelinePage:
    """One timeline merging interactions, events, orders and tickets, newest first."""
    wanted = set(TIMELINE_KINDS) if not kinds else set(kinds) & set(TIMELINE_KINDS)
    limit = max(1, min(int(limit), 100))
    after = TimelineCursor.decode(cursor) if cursor else None
    items = [
        *interactions.timeline_items(user, customer, kinds=wanted, cursor=after, limit=limit,
                                     product_names=transactions.product_names),
        *transactions.timeline_items(user, customer, kinds=wanted, cursor=after, limit=limit),
    ]
    items.sort(key=timeline_sort_key, reverse=True)
    page = items[:limit]
    more = len(items) > limit or len(page) == limit
    return TimelinePage(items=page, next_cursor=TimelineCursor.after(page[-1]).encode() if more and page else None)


def card_history(*, user, customer: Customer, limit: int = 20) -> list[HistoryEntry]:
    """The customer's change history from the audit log, masked by the caller's field rules."""
    entries = audit_history_for(user=user, object_type="customer", object_id=customer.pk)
    return [_history_entry(user, entry) for entry in entries[:limit]]


def _history_entry(user, entry: AuditEntry) -> HistoryEntry:
    """One entry, each field's values masked (or left out) by that field's own setting."""
    return HistoryEntry(seq=entry.seq, at=entry.at, actor=entry.actor_label,
                        action=entry.action,
                        changes=catalogue.present_changes(user.access, entry.changes or {}))


def custom_field_values(*, user, customer: Customer) -> list[CustomFieldValue]:
    """The custom fields that apply to this customer's kind, with its values."""
    values = customer.custom or {}
    return [
        CustomFieldValue(key=d.key, label=d.label, field_type=d.field_type,
                         value=values.get(d.key), help_text=d.help_text)
        for d in customers.custom_field_list(user=user, kind=customer.kind)
    ]
