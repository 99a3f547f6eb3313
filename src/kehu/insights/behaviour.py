"""Reading a book's behaviour as of a moment: purchases (same-day orders are one purchase,
the definition RFM and segments share), contacts, tickets and web events per customer. The
churn features and the purchase signals are computed from one `Book`."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models.fields.json import KeyTextTransform
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
    return f"{properties.get('url') or ''} {properties.get('title') or ''}".lower()


_CLASS_OF_TYPE = {**{t: "pricing" for t in PRICING_TYPES},
                  **{t: "after_sales" for t in AFTER_SALES_TYPES},
                  **{t: "cart" for t in CART_TYPES}}


def page_class(page: str) -> str:
    """'pricing', 'after_sales' or 'visit' for a viewed page's lower-cased URL and title."""
    if page.strip():
        if any(mark in page for mark in PRICING_MARKS):
            return "pricing"
        if any(mark in page for mark in AFTER_SALES_MARKS):
            return "after_sales"
    return "visit"


def event_class(event_type: str, properties) -> str:
    """'pricing', 'after_sales', 'cart', 'visit' or '' for one event."""
    klass = _CLASS_OF_TYPE.get(event_type)
    if klass is not None:
        return klass
    if event_type in VISIT_TYPES:
        return page_class(_page(properties))
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


def _raw(queryset):
    """The rows of a values_list queryset as the driver returns them (Django's per-value
    converters cost more than the database's work at a million rows)."""
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(20000):
            yield from rows


def _aware(raw) -> dt.datetime:
    """A stored datetime: SQLite hands back naive UTC text, PostgreSQL aware datetimes."""
    if isinstance(raw, str):
        raw = dt.datetime.fromisoformat(raw)
    return raw if raw.tzinfo is not None else raw.replace(tzinfo=dt.UTC)


TRACKED_TYPES = (*VISIT_TYPES, *PRICING_TYPES, *AFTER_SALES_TYPES, *CART_TYPES)


def book_load(*, events_since: dt.datetime | None = None,
              customer_ids: list[int] | None = None, only_active_online: bool = False) -> Book:
    """The book of every active customer (or of `customer_ids`, or with `only_active_online`
    of those with a tracked web event since `events_since`: what the signal rules read);
    web events only from `events_since` on (the features look back 60 days at most)."""
    book = Book()
    tz = timezone.get_current_timezone()
    customers = Customer.objects.filter(status=Customer.STATUS_ACTIVE)
    if customer_ids is not None:
        customers = customers.filter(pk__in=customer_ids)
    if only_active_online and events_since is not None:
        customers = customers.filter(pk__in=Event.objects.filter(
            occurred_at__gte=events_since, event_type__in=TRACKED_TYPES).values("customer_id"))
    book.created = {pk: _aware(at) for pk, at in _raw(
        customers.order_by().values_list("pk", "created_at"))}
    ids = customers.values("pk")
    days: dict[int, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for pk, at, amount in _raw(Order.objects.filter(
            status__in=Order.PURCHASE_STATUSES, customer__in=ids).order_by()
            .values_list("customer_id", "ordered_at", "total_amount")):
        days[pk][_aware(at).astimezone(tz).date()] += Decimal(str(amount or 0))
    book.purchases = {pk: sorted(d.items()) for pk, d in days.items()}
    for pk, at in _raw(Interaction.objects.filter(customer__in=ids).order_by()
                       .values_list("customer_id", "occurred_at")):
        book.contacts[pk].append(_aware(at))
    for pk, at, kind, status in _raw(Ticket.objects.filter(customer__in=ids).order_by()
                                     .values_list("customer_id", "opened_at", "kind",
                                                  "status")):
        book.tickets[pk].append((_aware(at), kind, status in ("open", "in_progress")))
    events = Event.objects.filter(customer__in=ids, event_type__in=TRACKED_TYPES)
    if events_since is not None:
        events = events.filter(occurred_at__gte=events_since)
    # Only the URL and title of a page, extracted by the database (not the whole bag).
    events = events.order_by().annotate(
        url=KeyTextTransform("url", "properties"),
        title=KeyTextTransform("title", "properties")).values_list(
            "customer_id", "occurred_at", "event_type", "url", "title")
    for pk, at, kind, url, title in _raw(events):
        klass = _CLASS_OF_TYPE.get(kind)
        if klass is None:
            klass = page_class(f"{url or ''} {title or ''}".lower()) if (url or title) \
                else "visit"
        book.events[pk].append((_aware(at), klass))
    for rows in (book.contacts, book.tickets, book.events):
        for value in rows.values():
            value.sort()
    return book
