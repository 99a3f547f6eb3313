"""Reading a book's behaviour as of a moment: purchases (same-day orders are one purchase,
the definition RFM and segments share), contacts, tickets and web events per customer. The
churn features and the purchase signals are computed from one `Book`."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from kehu.customers.models import Customer
from kehu.interactions.models import Event, Interaction
from kehu.transactions.models import Order, Ticket

VISIT_TYPES = ("page_view", "app_login", "product_view")
# Web events that count as a look at the pricing page / the after-sales terms: an explicit
# event type, or a page view whose URL (or page title) names them.
PRICING_TYPES = ("pricing_view", "quote_view")
PRICING_MARKS = ("/pricing", "/price", "/quote", "报价", "价格")
AFTER_SALES_TYPES = ("after_sales_view", "warranty_view")
AFTER_SALES_MARKS = ("/after-sales", "/aftersales", "/warranty", "/service-terms", "/returns",
                     "售后", "保修", "退换")
CART_TYPES = ("cart_add",)


def _page(properties) -> str:
    if not isinstance(properties, dict):
        return ""
    return f"{properties.get('url', '')} {properties.get('title', '')}".lower()


def event_class(event_type: str, properties) -> str:
    """'pricing', 'after_sales', 'cart', 'visit' or '' for one event."""
    if event_type in PRICING_TYPES:
        return "pricing"
    if event_type in AFTER_SALES_TYPES:
        return "after_sales"
    if event_type in CART_TYPES:
        return "cart"
    if event_type in VISIT_TYPES:
        page = _page(properties)
        if any(mark in page for mark in PRICING_MARKS):
            return "pricing"
        if any(mark in page for mark in AFTER_SALES_MARKS):
            return "after_sales"
        return "visit"
    return ""


@dataclass
class Book:
    """Per customer, time-ordered: purchase days with their spend, contacts, tickets (time,
    kind, open?) and classified web events. Loaded once per run."""

    created: dict[int, dt.datetime] = field(default_factory=dict)
    purchases: dict[int, list[tuple[dt.date, Decimal]]] = field(default_factory=dict)
    contacts: dict[int, list[dt.datetime]] = field(default_factory=lambda: defaultdict(list))
    tickets: dict[int, list[tuple[dt.datetime, str, bool]]] = field(
        default_factory=lambda: defaultdict(list))
    events: dict[int, list[tuple[dt.datetime, str]]] = field(
        default_factory=lambda: defaultdict(list))


def book_load(*, events_since: dt.datetime | None = None,
              customer_ids: list[int] | None = None) -> Book:
    """The book of every active customer (or of `customer_ids`); web events only from
    `events_since` on (the features look back 60 days at most)."""
    book = Book()
    tz = timezone.get_current_timezone()
    customers = Customer.objects.filter(status=Customer.STATUS_ACTIVE)
    if customer_ids is not None:
        customers = customers.filter(pk__in=customer_ids)
    book.created = dict(customers.values_list("pk", "created_at"))
    ids = customers.values("pk")
    days: dict[int, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for pk, at, amount in (Order.objects.filter(status__in=Order.PURCHASE_STATUSES,
                                                customer__in=ids)
                           .order_by().values_list("customer_id", "ordered_at",
                                                   "total_amount").iterator(chunk_size=20000)):
        days[pk][at.astimezone(tz).date()] += amount or Decimal(0)
    book.purchases = {pk: sorted(d.items()) for pk, d in days.items()}
    for pk, at in (Interaction.objects.filter(customer__in=ids).order_by()
                   .values_list("customer_id", "occurred_at").iterator(chunk_size=20000)):
        book.contacts[pk].append(at)
    for pk, at, kind, status in (Ticket.objects.filter(customer__in=ids).order_by()
                                 .values_list("customer_id", "opened_at", "kind", "status")
                                 .iterator(chunk_size=20000)):
        book.tickets[pk].append((at, kind, status in ("open", "in_progress")))
    events = Event.objects.filter(customer__in=ids)
    if events_since is not None:
        events = events.filter(occurred_at__gte=events_since)
    for pk, at, kind, props in (events.order_by().values_list(
            "customer_id", "occurred_at", "event_type", "properties").iterator(chunk_size=20000)):
        klass = event_class(kind, props)
        if klass:
            book.events[pk].append((at, klass))
    for rows in (book.contacts, book.tickets, book.events):
        for value in rows.values():
            value.sort()
    return book
