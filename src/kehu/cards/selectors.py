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
from kehu.pipeline import selectors as pipeline
from kehu.pipeline.models import Deal
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
    deals: list[Deal] | None = None  # the customer's deals in the caller's scope, open first
    prediction: dict[str, Any] | None = None  # P(alive), expected purchases, CLV; None unscored


def customer_card(*, user, customer_id: int) -> CustomerCard:
    """The whole card in a bounded number of queries (pinned in tests)."""
    from kehu.customers.layouts import field_state

    customer = customers.customer_get(user=user, customer_id=customer_id)
    # Fields the form designer hides from this viewer on this record are not shown.
    hidden = field_state(user=user, kind=customer.kind, customer=customer).hidden
    custom_fields = [f for f in custom_field_values(user=user, customer=customer)
                     if f"custom.{f.key}" not in hidden]
    return CustomerCard(
        customer=_without(customers.customer_present(user, customer), hidden),
        custom_fields=custom_fields,
        orders=transactions.customer_order_summary(user, customer),
        recent_orders=list(transactions.order_list(user, customer_id=customer.pk)[:10]),
        service=transactions.customer_service_summary(user, customer),
        recent_tickets=list(transactions.ticket_list(user, customer_id=customer.pk)[:10]),
        follow_ups=card_follow_ups(user=user, customer=customer),
        timeline=card_timeline(user=user, customer=customer),
        history=[_history_without(entry, hidden)
                 for entry in card_history(user=user, customer=customer)],
        value=scoring.card_value(user=user, customer=customer),
        prediction=prediction.card_prediction(user=user, customer=customer),
        # customer_get joins the score: no query of its own.
        quality=quality.customer_quality(user=user, customer=customer, labels={
            f"custom.{f.key}": f.label for f in custom_fields}),
        deals=pipeline.customer_deals(user, customer),
    )


def _hidden_key(key: str, hidden: set[str]) -> bool:
    """Whether a presented or audited key shows a field hidden from the viewer."""
    if key in hidden:
        return True
    kind = catalogue.kind_of_identifier_audit_key(key)
    found = catalogue.field_of_identifier_kind(kind) if kind else None
    return found is not None and found.key in hidden


def _without(presented: dict[str, Any], hidden: set[str]) -> dict[str, Any]:
    """The presented customer without the fields hidden from the viewer (None, or left out
    of the lists)."""
    if not hidden:
        return presented
    out = dict(presented)
    for key in hidden:
        if key.startswith("custom."):
            out["custom"] = {k: v for k, v in (out.get("custom") or {}).items()
                             if f"custom.{k}" != key}
        elif key == "address":
            out["addresses"] = []
        elif key in out:
            out[key] = None
    out["identifiers"] = [i for i in out.get("identifiers") or []
                          if not _hidden_key(f"identifier.{i.get('kind')}", hidden)]
    return out


def _history_without(entry: HistoryEntry, hidden: set[str]) -> HistoryEntry:
    if not hidden:
        return entry
    return HistoryEntry(seq=entry.seq, at=entry.at, actor=entry.actor, action=entry.action,
                        changes={k: v for k, v in entry.changes.items()
                                 if not _hidden_key(k, hidden)})


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


def identity_sections(*, user, customer: Customer,
                      custom_fields: list[CustomFieldValue]) -> list[dict[str, Any]]:
    """The identity block laid out by the form designer's layout for the viewer's role:
    [{"title", "facts": [{"key", "label", "width", "custom"}]}]; fields hidden for the viewer
    on this record, and fields this kind of customer does not have, left out."""
    from kehu.customers import layouts

    role = user.role if getattr(user, "role_id", None) else None
    custom = {f"custom.{f.key}": f for f in custom_fields}
    definitions = list(customers.custom_field_list(user=user))
    labels = layouts.field_labels(definitions)
    state = layouts.field_state(user=user, kind=customer.kind, customer=customer)
    out = []
    for section in layouts.layout_sections(role=role, definitions=definitions):
        facts = []
        for item in section["fields"]:
            key = item["field"]
            if key in state.hidden:
                continue
            if key.startswith("custom."):
                if key not in custom:
                    continue
                facts.append({"key": key, "label": custom[key].label, "width": item["width"],
                              "custom": custom[key]})
                continue
            found = catalogue.field(key)
            if found is not None and not found.applies_to(customer.kind):
                continue
            facts.append({"key": key, "label": labels.get(key, key), "width": item["width"],
                          "custom": None})
        if facts:
            out.append({"title": section.get("title", ""), "facts": facts})
    return out
