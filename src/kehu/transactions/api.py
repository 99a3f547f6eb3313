"""API: products, orders with lines, service tickets. Thin: schemas in, services and
selectors, schemas out; domain errors become {"code","message","details"} upstream."""

import datetime as dt
from decimal import Decimal
from typing import Literal

from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from kehu.accounts import selectors as accounts
from kehu.core.errors import ValidationFailed
from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Flag, Id, Input, Moment, Money, Page, Quantity, Rating
from kehu.transactions import selectors, services, ticket_services
from kehu.transactions.models import Order, Ticket

router = Router(tags=["transactions"])


def _codes(choices):
    return Literal[tuple(code for code, _label in choices)]  # type: ignore[valid-type]


OrderStatus = _codes(Order.STATUSES)
PaymentMethod = _codes(Order.PAYMENT_METHODS + [("", "")])
SalesChannel = _codes(Order.SALES_CHANNELS + [("", "")])
TicketKind = _codes(Ticket.KINDS)
TicketStatus = _codes(Ticket.STATUSES)
TicketPriority = _codes(Ticket.PRIORITIES)


# Products ------------------------------------------------------------------------


class ProductIn(Input):
    sku: str = Field(..., min_length=1, max_length=40)
    name: str = Field(..., min_length=1, max_length=200)
    category: str = Field("", max_length=60)
    unit_price: Money
    is_active: Flag = True


class ProductPatch(Input):
    sku: str | None = Field(None, min_length=1, max_length=40)
    name: str | None = Field(None, min_length=1, max_length=200)
    category: str | None = Field(None, max_length=60)
    unit_price: Money | None = None
    is_active: Flag | None = None


class ProductOut(Schema):
    id: int
    sku: str
    name: str
    category: str
    unit_price: Decimal
    is_active: bool


@router.get("/products", response=list[ProductOut], summary="The product catalogue")
@paginate(Page)
def list_products(request, search: str = "", category: str = "", active_only: Flag = False):
    return selectors.product_list(request.user, search=search, category=category,
                                  active_only=active_only)


@router.get("/products/{product_id}", response={200: ProductOut, **ERROR_RESPONSES},
            summary="One product")
def get_product(request, product_id: Id):
    return selectors.product_get(request.user, product_id)


@router.post("/products", response={201: ProductOut, **ERROR_RESPONSES},
             summary="Add a product")
def create_product(request, payload: ProductIn):
    return Status(201, services.product_create(actor=actor_of(request), **payload.dict()))


@router.patch("/products/{product_id}", response={200: ProductOut, **ERROR_RESPONSES},
              summary="Change a product")
def update_product(request, product_id: Id, payload: ProductPatch):
    product = selectors.product_get(request.user, product_id)
    fields = {"sku": product.sku, "name": product.name, "category": product.category,
              "unit_price": product.unit_price, "is_active": product.is_active}
    fields.update({k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None})
    return services.product_update(actor=actor_of(request), product=product, **fields)


# Orders --------------------------------------------------------------------------


class ProductLineIn(Input):
    """A product line of an order or of a deal (the pipeline's deals use this schema too)."""
    product_id: Id
    quantity: Quantity = Decimal("1")
    unit_price: Money | None = Field(None, description="Default: the product's list price.")


class OrderIn(Input):
    customer_id: Id
    lines: list[ProductLineIn] = Field(..., min_length=1, max_length=200)
    number: str | None = Field(None, max_length=40, description="Generated when absent.")
    ordered_at: Moment | None = None
    status: OrderStatus = "pending"
    payment_method: PaymentMethod = ""
    sales_channel: SalesChannel = ""
    salesperson: str | None = Field(None, description="Username; default the caller.")
    notes: str = ""


class ProductLineOut(Schema):
    """A priced product line of an order or of a deal."""
    id: int
    product_id: int
    sku: str
    product_name: str
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal

    @staticmethod
    def resolve_sku(line):
        return line.product.sku

    @staticmethod
    def resolve_product_name(line):
        return line.product.name


class OrderOut(Schema):
    id: int
    number: str
    customer_id: int
    customer_name: str
    status: str
    ordered_at: dt.datetime
    total_amount: Decimal
    currency: str = "CNY"
    payment_method: str
    sales_channel: str
    salesperson: str | None
    notes: str

    @staticmethod
    def resolve_customer_name(order):
        return order.customer.name

    @staticmethod
    def resolve_salesperson(order):
        return order.salesperson.username if order.salesperson_id else None


class OrderDetailOut(OrderOut):
    lines: list[ProductLineOut]

    @staticmethod
    def resolve_lines(order):
        return list(order.lines.all())


class OrderStatusIn(Input):
    status: OrderStatus
    notes: str | None = None


class OrderFilters(Schema):
    customer_id: Id | None = None
    status: OrderStatus | None = None
    since: Moment | None = None
    until: Moment | None = None
    search: str = ""


class OrderSummaryOut(Schema):
    count: int
    total_spend: Decimal
    last_ordered_at: dt.datetime | None
    returned_count: int
    currency: str = "CNY"


def _user_named(request, username: str | None, field: str):
    if not username:
        return None
    user = accounts.user_list(user=request.user).filter(username=username).first()
    if user is None:
        raise ValidationFailed(details={field: [_("No such active user.")]})
    return user


@router.get("/orders", response=list[OrderOut], summary="Orders, newest first")
@paginate(Page)
def list_orders(request, filters: Query[OrderFilters]):
    return selectors.order_list(request.user, **filters.dict())


@router.get("/orders/{order_id}", response={200: OrderDetailOut, **ERROR_RESPONSES},
            summary="One order with its lines")
def get_order(request, order_id: Id):
    return selectors.order_get(request.user, order_id)


@router.post("/orders", response={201: OrderDetailOut, **ERROR_RESPONSES},
             summary="Record an order with its lines")
def create_order(request, payload: OrderIn):
    customer = selectors.customer_get(request.user, payload.customer_id)
    order = services.order_create(
        actor=actor_of(request), customer=customer,
        lines=[{"product": line.product_id, "quantity": line.quantity,
                "unit_price": line.unit_price} for line in payload.lines],
        number=payload.number, ordered_at=payload.ordered_at, status=payload.status,
        payment_method=payload.payment_method, sales_channel=payload.sales_channel,
        salesperson=_user_named(request, payload.salesperson, "salesperson"),
        notes=payload.notes,
    )
    return Status(201, selectors.order_get(request.user, order.pk))


@router.patch("/orders/{order_id}", response={200: OrderDetailOut, **ERROR_RESPONSES},
              summary="Move an order to another status")
def update_order_status(request, order_id: Id, payload: OrderStatusIn):
    order = selectors.order_get(request.user, order_id)
    services.order_update_status(actor=actor_of(request), order=order, status=payload.status,
                                 notes=payload.notes)
    return selectors.order_get(request.user, order_id)


@router.get("/customers/{customer_id}/order-summary",
            response={200: OrderSummaryOut, **ERROR_RESPONSES},
            summary="A customer's order count, net spend and last order")
def order_summary(request, customer_id: Id):
    customer = selectors.customer_get(request.user, customer_id)
    return selectors.customer_order_summary(request.user, customer)


# Tickets -------------------------------------------------------------------------


class TicketIn(Input):
    customer_id: Id
    kind: TicketKind
    subject: str = Field(..., min_length=1, max_length=200)
    description: str = ""
    priority: TicketPriority = "normal"
    assignee: str | None = Field(None, description="Username; default the caller.")
    product_id: Id | None = None
    opened_at: Moment | None = None
    number: str | None = Field(None, max_length=40)


class TicketPatch(Input):
    status: TicketStatus | None = None
    priority: TicketPriority | None = None
    assignee: str | None = Field(None, description="Username; empty string unassigns.")
    resolution: str | None = None


class RatingIn(Input):
    satisfaction: Rating = Field(..., description="1 (very unhappy) to 5 (very happy).")
    source: Literal["agent_phone"] = Field(
        ..., description="Only what the customer said on the phone, typed by the agent, is "
                         "recorded here (marked as such); the customer's own answer comes "
                         "from the satisfaction survey.")


class TicketHeadOut(Schema):
    """What every ticket schema shows (the service queue's rows extend it with their SLA)."""
    id: int
    number: str
    customer_id: int
    customer_name: str
    kind: str
    subject: str
    status: str
    priority: str
    assignee: str | None
    opened_at: dt.datetime

    @staticmethod
    def resolve_customer_name(ticket):
        return ticket.customer.name

    @staticmethod
    def resolve_assignee(ticket):
        return ticket.assignee.username if ticket.assignee_id else None


class TicketOut(TicketHeadOut):
    """A ticket (the service desk's detail extends it with SLA, complaint, thread, surveys)."""
    description: str
    product_id: int | None
    satisfaction: int | None
    satisfaction_source: str
    resolution: str
    resolved_at: dt.datetime | None
    merged_into_id: int | None


class TicketFilters(Schema):
    customer_id: Id | None = None
    status: Literal["open", "in_progress", "waiting_customer", "resolved", "closed",
                    "unresolved"] | None = None
    priority: TicketPriority | None = None
    kind: TicketKind | None = None
    search: str = ""


@router.get("/tickets", response=list[TicketOut], summary="Service tickets, newest first")
@paginate(Page)
def list_tickets(request, filters: Query[TicketFilters]):
    return selectors.ticket_list(request.user, **filters.dict())


@router.get("/tickets/{ticket_id}", response={200: TicketOut, **ERROR_RESPONSES},
            summary="One ticket")
def get_ticket(request, ticket_id: Id):
    return selectors.ticket_get(request.user, ticket_id)


@router.post("/tickets", response={201: TicketOut, **ERROR_RESPONSES},
             summary="Open a service ticket")
def open_ticket(request, payload: TicketIn):
    customer = selectors.customer_get(request.user, payload.customer_id)
    product = (selectors.product_get(request.user, payload.product_id)
               if payload.product_id else None)
    ticket = ticket_services.ticket_open(
        actor=actor_of(request), customer=customer, kind=payload.kind, subject=payload.subject,
        description=payload.description, priority=payload.priority,
        assignee=_user_named(request, payload.assignee, "assignee"), product=product,
        opened_at=payload.opened_at, number=payload.number,
    )
    return Status(201, selectors.ticket_get(request.user, ticket.pk))


@router.patch("/tickets/{ticket_id}", response={200: TicketOut, **ERROR_RESPONSES},
              summary="Work a ticket: status, priority, assignee, resolution")
def update_ticket(request, ticket_id: Id, payload: TicketPatch):
    ticket = selectors.ticket_get(request.user, ticket_id)
    fields = payload.dict(exclude_unset=True)
    assignee = ticket.assignee
    if "assignee" in fields:
        assignee = _user_named(request, fields["assignee"], "assignee")
    ticket_services.ticket_update(
        actor=actor_of(request), ticket=ticket,
        status=fields.get("status") or ticket.status,
        priority=fields.get("priority") or ticket.priority,
        assignee=assignee,
        resolution=fields["resolution"] if fields.get("resolution") is not None
        else ticket.resolution,
    )
    return selectors.ticket_get(request.user, ticket_id)


@router.post("/tickets/{ticket_id}/rate", response={200: TicketOut, **ERROR_RESPONSES},
             summary="Record what the customer said on the phone about a resolved ticket "
                     "(marked as entered by the agent)")
def rate_ticket(request, ticket_id: Id, payload: RatingIn):
    ticket = selectors.ticket_get(request.user, ticket_id)
    ticket_services.ticket_rate(actor=actor_of(request), ticket=ticket,
                                satisfaction=payload.satisfaction, source=payload.source)
    return selectors.ticket_get(request.user, ticket_id)
