"""Reads of products, orders and tickets, scoped by the acting user's AccessPolicy.

Orders and tickets are seen through their customer: only live customers count,
and one outside the user's scope looks exactly like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Avg, Count, Max, Prefetch, Q, QuerySet, Sum
from django.utils.translation import gettext as _

from kehu.core.errors import NotFound
from kehu.core.timeline import TimelineCursor, TimelineItem, timeline_sort_key
from kehu.customers.models import Customer
from kehu.customers.selectors import (
    customer_check_visible,
    customer_get_plain,
    rows_of_visible_customers,
)
from kehu.transactions.models import Order, OrderLine, Product, Ticket

TIMELINE_KINDS = frozenset({"order", "ticket"})
# Orders that count as money spent: returned and refunded ones are netted out.
OPEN_TICKET_STATUSES = ("open", "in_progress")





# Purchases as customer attributes (portrait board, list filters) ----------------------------


def first_purchase_channel():
    """The sales channel of a customer's first purchase (`Order.PURCHASE_STATUSES`), as a
    subquery on Customer rows; empty when the order named none, None when never bought."""
    from django.db.models import OuterRef, Subquery

    first = (Order.objects.filter(customer_id=OuterRef("pk"), status__in=Order.PURCHASE_STATUSES)
             .order_by("ordered_at", "pk").values("sales_channel")[:1])
    return Subquery(first)


def buyers_of(product_id: int) -> QuerySet:
    """Ids of the customers who bought the product (a purchase line), as a subquery."""
    return (OrderLine.objects.filter(product_id=product_id,
                                     order__status__in=Order.PURCHASE_STATUSES)
            .values("order__customer_id"))


def products_bought_by(customers: QuerySet[Customer], *, limit: int) -> list[tuple[int, str, int]]:
    """(product id, name, distinct buyers) among `customers` (already scoped by the caller),
    most buyers first, at most `limit` products; one GROUP BY query."""
    rows = (OrderLine.objects.filter(order__status__in=Order.PURCHASE_STATUSES,
                                     order__customer__in=customers.values("pk"))
            .order_by().values("product_id", "product__name")
            .annotate(n=Count("order__customer_id", distinct=True))
            .order_by("-n", "product_id")[:limit])
    return [(r["product_id"], r["product__name"], r["n"]) for r in rows]


def buyers_of_products(customers: QuerySet[Customer], product_ids: list[int]) -> dict[int, int]:
    """Product id -> distinct buyers among `customers`, for the given products."""
    rows = (OrderLine.objects.filter(order__status__in=Order.PURCHASE_STATUSES,
                                     order__customer__in=customers.values("pk"),
                                     product_id__in=product_ids)
            .order_by().values("product_id")
            .annotate(n=Count("order__customer_id", distinct=True)))
    return {r["product_id"]: r["n"] for r in rows}


# Products ------------------------------------------------------------------------


def product_list(user, *, search: str = "", category: str = "", active_only: bool = False
                 ) -> QuerySet[Product]:
    """The catalogue; everyone who may view customers may read it."""
    user.access.require("customer.view")
    products = Product.objects.all()
    if search:
        products = products.filter(Q(sku__icontains=search) | Q(name__icontains=search))
    if category:
        products = products.filter(category=category)
    if active_only:
        products = products.filter(is_active=True)
    return products.order_by("sku")


def product_names(codes: set[str]) -> dict[str, str]:
    """Product code (SKU) -> name, for labelling what events and imports name by code.
    Product names are catalogue data every signed-in user may read."""
    return dict(Product.objects.filter(sku__in=sorted(codes)).values_list("sku", "name"))


def product_get(user, product_id: int) -> Product:
    product = product_list(user).filter(pk=product_id).first()
    if product is None:
        raise NotFound()
    return product


def product_categories(user) -> list[str]:
    return list(product_list(user).exclude(category="").order_by("category")
                .values_list("category", flat=True).distinct())


# Orders --------------------------------------------------------------------------


def _lines_prefetch() -> Prefetch:
    return Prefetch("lines", queryset=OrderLine.objects.select_related("product").order_by("id"))


def order_list(
    user,
    *,
    customer_id: int | None = None,
    status: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    search: str = "",
    sales_channel: str = "",
) -> QuerySet[Order]:
    """Orders of the customers in the user's scope, newest first."""
    orders = rows_of_visible_customers(user=user, queryset=Order.objects.all()).select_related(
        "customer", "salesperson")
    if customer_id is not None:
        orders = orders.filter(customer_id=customer_id)
    if status:
        orders = orders.filter(status=status)
    if sales_channel:
        orders = orders.filter(sales_channel=sales_channel)
    if since is not None:
        orders = orders.filter(ordered_at__gte=since)
    if until is not None:
        orders = orders.filter(ordered_at__lt=until)
    if search:
        orders = orders.filter(Q(number__icontains=search) | Q(customer__name__icontains=search))
    return orders.order_by("-ordered_at", "-id")


def order_get(user, order_id: int) -> Order:
    """One order with its lines and their products (three queries)."""
    order = (order_list(user).prefetch_related(_lines_prefetch()).filter(pk=order_id).first())
    if order is None:
        raise NotFound()
    return order


@dataclass(frozen=True)
class OrderSummary:
    """A customer's buying at a glance: orders placed, net spend, last order."""

    count: int
    total_spend: Decimal
    last_ordered_at: dt.datetime | None
    returned_count: int


def customer_order_summary(user, customer: Customer) -> OrderSummary:
    """Counts and spend in one query; spend counts purchases only (`Order.PURCHASE_STATUSES`)."""
    customer_check_visible(user=user, customer=customer)
    row = Order.objects.filter(customer_id=customer.pk).exclude(status="cancelled").aggregate(
        count=Count("id"),
        spend=Sum("total_amount", filter=Q(status__in=Order.PURCHASE_STATUSES)),
        last=Max("ordered_at"),
        returned=Count("id", filter=Q(status__in=("returned", "refunded"))),
    )
    spend = Decimal(row["spend"] or 0).quantize(Decimal("0.01"))
    return OrderSummary(count=row["count"], total_spend=spend,
                        last_ordered_at=row["last"], returned_count=row["returned"])


# Tickets -------------------------------------------------------------------------


def ticket_list(
    user,
    *,
    customer_id: int | None = None,
    status: str | None = None,
    priority: str | None = None,
    kind: str | None = None,
    assignee_id: int | None = None,
    search: str = "",
) -> QuerySet[Ticket]:
    """Tickets of the customers in the user's scope, newest first."""
    tickets = rows_of_visible_customers(user=user, queryset=Ticket.objects.all()).select_related("customer", "assignee",
                                                                 "product")
    if customer_id is not None:
        tickets = tickets.filter(customer_id=customer_id)
    if status == "unresolved":
        tickets = tickets.filter(status__in=OPEN_TICKET_STATUSES)
    elif status:
        tickets = tickets.filter(status=status)
    if priority:
        tickets = tickets.filter(priority=priority)
    if kind:
        tickets = tickets.filter(kind=kind)
    if assignee_id is not None:
        tickets = tickets.filter(assignee_id=assignee_id)
    if search:
        tickets = tickets.filter(Q(number__icontains=search) | Q(subject__icontains=search)
                                 | Q(customer__name__icontains=search))
    return tickets.order_by("-opened_at", "-id")


def ticket_get(user, ticket_id: int) -> Ticket:
    ticket = ticket_list(user).filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound()
    return ticket


@dataclass(frozen=True)
class ServiceSummary:
    """A customer's service at a glance: tickets still open and the average rating."""

    open_count: int
    total_count: int
    average_satisfaction: float | None


def customer_service_summary(user, customer: Customer) -> ServiceSummary:
    customer_check_visible(user=user, customer=customer)
    row = Ticket.objects.filter(customer_id=customer.pk).aggregate(
        open=Count("id", filter=Q(status__in=OPEN_TICKET_STATUSES)),
        total=Count("id"),
        rating=Avg("satisfaction"),
    )
    rating = round(float(row["rating"]), 1) if row["rating"] is not None else None
    return ServiceSummary(open_count=row["open"], total_count=row["total"],
                          average_satisfaction=rating)


# Timeline ------------------------------------------------------------------------


def order_timeline_item(order: Order) -> TimelineItem:
    """How one order reads on the card: number and status, then what was bought."""
    lines = list(order.lines.all())
    products = ", ".join(f"{line.product.name} × {line.quantity.normalize():f}"
                         for line in lines[:3])
    if len(lines) > 3:
        products += " " + _("and %d more") % (len(lines) - 3)
    return TimelineItem(
        kind="order",
        at=order.ordered_at,
        title=_("Order %(number)s · %(status)s") % {"number": order.number,
                                                     "status": order.get_status_display()},
        body=products,
        meta={"number": order.number, "status": order.status,
              "status_label": str(order.get_status_display()),
              "total_amount": f"{order.total_amount:.2f}", "currency": "CNY",
              "sales_channel": order.sales_channel, "line_count": len(lines)},
        object_id=order.pk,
    )


def ticket_timeline_item(ticket: Ticket) -> TimelineItem:
    """How one ticket reads on the card: kind, subject and where it stands."""
    return TimelineItem(
        kind="ticket",
        at=ticket.opened_at,
        title=f"{ticket.get_kind_display()} {ticket.number} · {ticket.get_status_display()}",
        body=ticket.subject,
        meta={"number": ticket.number, "status": ticket.status, "priority": ticket.priority,
              "priority_label": str(ticket.get_priority_display()),
              "type": ticket.kind, "satisfaction": ticket.satisfaction,
              "assignee": str(ticket.assignee) if ticket.assignee_id else "",
              "resolution": ticket.resolution},
        object_id=ticket.pk,
    )


def timeline_items(
    user,
    customer: Customer,
    *,
    kinds: set[str] | None = None,
    cursor: TimelineCursor | None = None,
    limit: int = 20,
) -> list[TimelineItem]:
    """The newest `limit` orders and tickets of a customer after `cursor`, newest first.

    Three queries at most: orders, their lines with products, tickets with assignee.
    The card merges this with kehu.interactions.selectors.timeline_items.
    """
    customer_check_visible(user=user, customer=customer)
    wanted = TIMELINE_KINDS if kinds is None else TIMELINE_KINDS & set(kinds)
    limit = max(0, int(limit))
    if not wanted or limit == 0:
        return []
    items: list[TimelineItem] = []
    if "order" in wanted:
        orders = Order.objects.filter(customer_id=customer.pk)
        if cursor is not None:
            orders = orders.filter(cursor.older_q(kind="order", time_field="ordered_at"))
        orders = orders.order_by("-ordered_at", "-id").prefetch_related(_lines_prefetch())
        items += [order_timeline_item(o) for o in orders[:limit]]
    if "ticket" in wanted:
        tickets = Ticket.objects.filter(customer_id=customer.pk).select_related("assignee")
        if cursor is not None:
            tickets = tickets.filter(cursor.older_q(kind="ticket", time_field="opened_at"))
        items += [ticket_timeline_item(t) for t in tickets.order_by("-opened_at", "-id")[:limit]]
    items.sort(key=timeline_sort_key, reverse=True)
    return items[:limit]


def customer_get(user, customer_id: int) -> Customer:
    """The live customer if the user may see it, else NotFound (existence never revealed)."""
    return customer_get_plain(user=user, customer_id=customer_id)
