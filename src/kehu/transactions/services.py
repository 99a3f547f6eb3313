"""Every write to the transaction and service layers: products, orders, service tickets.

Each service checks its permission, validates, runs in one transaction and
records an audit entry with before/after. Money is CNY as Decimal with two
places, rounded half up, as a Chinese invoice rounds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.bulkdb import allocate_ids, insert_rows, update_rows
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import Change, record_change, record_changes_many
from kehu.core.validation import check_not_future, full_clean
from kehu.customers.models import Customer
from kehu.customers.services import (
    customer_lock_for_write,
    customer_touch_activity,
    customers_touch_activity,
)
from kehu.transactions.models import Order, OrderLine, Product
from kehu.transactions.numbering import _choice, _final_number, _numbered

CENT = Decimal("0.01")

# Which status an order may move to from each status.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"paid", "cancelled"}),
    "paid": frozenset({"shipped", "cancelled", "refunded"}),
    "shipped": frozenset({"completed", "returned"}),
    "completed": frozenset({"returned"}),
    "returned": frozenset({"refunded"}),
    "cancelled": frozenset(),
    "refunded": frozenset(),
}


def money(value: Any) -> Decimal:
    """A CNY amount: Decimal with two places, half up (0.005 -> 0.01)."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None






# Products --------------------------------------------------------------------------


def _product_snapshot(product: Product) -> dict[str, Any]:
    return {"sku": product.sku, "name": product.name, "category": product.category,
            "unit_price": product.unit_price, "is_active": product.is_active}


def _product_fields(errors: dict, sku: str, name: str, unit_price: Any) -> tuple[str, str, Any]:
    sku, name = (sku or "").strip(), (name or "").strip()
    if not sku:
        errors["sku"] = [_("Give the SKU.")]
    if not name:
        errors["name"] = [_("Give the product name.")]
    price = _decimal(unit_price)
    if price is None or price < 0:
        errors["unit_price"] = [_("The price is an amount of zero or more.")]
    return sku, name, money(price) if price is not None and price >= 0 else price


def product_create(
    *,
    actor: Actor,
    sku: str,
    name: str,
    unit_price: Decimal | str | float,
    category: str = "",
    is_active: bool = True,
) -> Product:
    """Add a product to the catalogue orders pick their lines from."""
    actor.require("order.manage")
    errors: dict[str, list[str]] = {}
    sku, name, price = _product_fields(errors, sku, name, unit_price)
    if sku and Product.objects.filter(sku=sku).exists():
        errors["sku"] = [_("Another product already has this SKU.")]
    if errors:
        raise ValidationFailed(details=errors)
    product = Product(sku=sku, name=name, category=(category or "").strip(), unit_price=price,
                      is_active=is_active)
    full_clean(product)
    with transaction.atomic():
        product.save()
        record_change(actor=actor, action="product.create", event="product.created",
                      object_type="product",
                      object_id=product.pk, object_repr=product.sku,
                      changes=diff({}, _product_snapshot(product)))
    return product


def product_update(
    *,
    actor: Actor,
    product: Product,
    sku: str,
    name: str,
    unit_price: Decimal | str | float,
    category: str = "",
    is_active: bool = True,
) -> Product:
    """Change a product; past order lines keep the price they were sold at."""
    actor.require("order.manage")
    errors: dict[str, list[str]] = {}
    sku, name, price = _product_fields(errors, sku, name, unit_price)
    if sku and Product.objects.filter(sku=sku).exclude(pk=product.pk).exists():
        errors["sku"] = [_("Another product already has this SKU.")]
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        before = _product_snapshot(product)
        product.sku, product.name, product.unit_price = sku, name, price
        product.category, product.is_active = (category or "").strip(), is_active
        full_clean(product)
        product.save(update_fields=["sku", "name", "category", "unit_price", "is_active"])
        record_change(actor=actor, action="product.update", event="product.updated",
                      object_type="product",
                      object_id=product.pk, object_repr=product.sku,
                      changes=diff(before, _product_snapshot(product)))
    return product


# Orders ----------------------------------------------------------------------------


def _order_snapshot(order: Order, lines: list[OrderLine] | None = None) -> dict[str, Any]:
    data = {
        "number": order.number, "customer": order.customer_id, "status": order.status,
        "ordered_at": order.ordered_at, "total_amount": order.total_amount,
        "payment_method": order.payment_method, "sales_channel": order.sales_channel,
        "salesperson": order.salesperson_id, "notes": order.notes,
    }
    if lines is not None:
        data["lines"] = [{"product": line.product.sku, "quantity": line.quantity,
                          "unit_price": line.unit_price, "amount": line.amount}
                         for line in lines]
    return data


def _order_lines(errors: dict, lines: Any) -> list[OrderLine]:
    """Validate the lines and price them; errors are keyed lines[i].field."""
    if not isinstance(lines, list | tuple) or not lines:
        errors["lines"] = [_("An order needs at least one line.")]
        return []
    wanted = {line.get("product") for line in lines if isinstance(line, dict)}
    ids = {p for p in wanted if isinstance(p, int) and not isinstance(p, bool)}
    products = {p.pk: p for p in Product.objects.filter(pk__in=ids)} if ids else {}
    result = []
    for index, line in enumerate(lines):
        key = f"lines[{index}]"
        if not isinstance(line, dict):
            errors[key] = [_("Each line is {product, quantity, unit_price}.")]
            continue
        product = line.get("product")
        if isinstance(product, int) and not isinstance(product, bool):
            product = products.get(product)
        if not isinstance(product, Product):
            errors[f"{key}.product"] = [_("No such product.")]
        elif not product.is_active:
            errors[f"{key}.product"] = [_("This product is no longer sold.")]
        quantity = _decimal(line.get("quantity"))
        if quantity is None or quantity <= 0:
            errors[f"{key}.quantity"] = [_("The quantity must be more than zero.")]
        given = line.get("unit_price")
        if given in (None, ""):
            given = product.unit_price if isinstance(product, Product) else 0
        price = _decimal(given)
        if price is None or price < 0:
            errors[f"{key}.unit_price"] = [_("The price is an amount of zero or more.")]
        if any(name.startswith(key) for name in errors):
            continue
        quantity, price = money(quantity), money(price)
        result.append(OrderLine(product=product, quantity=quantity, unit_price=price,
                                amount=money(quantity * price)))
    return result


def order_check(
    errors: dict[str, list[str]],
    *,
    lines: Any,
    ordered_at: dt.datetime,
    status: str,
    payment_method: str,
    sales_channel: str,
    number_taken: bool = False,
) -> list[OrderLine]:
    """The rules every new order obeys (order_create and bulk imports): its time, status,
    payment and channel, then its lines, validated and priced. Adds to `errors` (keyed as
    order_create reports them) and returns the priced lines; no query when the lines name
    Product instances. `number_taken`: the caller found the number already recorded."""
    check_not_future(errors, "ordered_at", ordered_at)
    _choice(errors, "status", status, Order.STATUSES)
    _choice(errors, "payment_method", payment_method, Order.PAYMENT_METHODS, blank=True)
    _choice(errors, "sales_channel", sales_channel, Order.SALES_CHANNELS, blank=True)
    if number_taken:
        errors["number"] = [_("Another order already has this number.")]
    return _order_lines(errors, lines)


def order_build(*, customer_id: int, number: str, status: str, ordered_at: dt.datetime,
                payment_method: str, sales_channel: str, notes: str, salesperson_id: int | None,
                lines: list[OrderLine]) -> Order:
    """The unsaved order of checked lines, its total computed, each field checked
    (full_clean; ValidationFailed). Built without a primary key, so no query runs."""
    order = Order(
        customer_id=customer_id, number=number, status=status, ordered_at=ordered_at,
        payment_method=payment_method, sales_channel=sales_channel,
        notes=(notes or "").strip(), salesperson_id=salesperson_id,
        total_amount=money(sum((line.amount for line in lines), Decimal(0))),
    )
    full_clean(order, exclude=["customer", "salesperson", "number"])
    return order


def order_activity_at(order: Order) -> dt.datetime | None:
    """When the order moves its customer's last activity: its time, unless it was cancelled."""
    return None if order.status == "cancelled" else order.ordered_at


def order_status_refusal(current: str, status: str) -> str | None:
    """Why an order may not move from `current` to `status` (ORDER_TRANSITIONS), or None."""
    if status in ORDER_TRANSITIONS[current]:
        return None
    labels = dict(Order.STATUSES)
    return _("An order cannot go from “%(from)s” to “%(to)s”.") % {
        "from": labels[current], "to": labels[status]}


def order_create(
    *,
    actor: Actor,
    customer: Customer,
    lines: list[dict[str, Any]],
    number: str | None = None,
    ordered_at: dt.datetime | None = None,
    status: str = "pending",
    payment_method: str = "",
    sales_channel: str = "",
    salesperson=None,
    notes: str = "",
) -> Order:
    """Record an order with its lines; line amounts and the total are computed here, in CNY.

    Lines are {product: Product or id, quantity, unit_price (default: list price)}.
    Without a number one is generated (SO + order date + row id, e.g. SO20261123-000123).
    """
    actor.require("order.manage")
    errors: dict[str, list[str]] = {}
    ordered_at = ordered_at or timezone.now()
    number = (number or "").strip()
    priced = order_check(errors, lines=lines, ordered_at=ordered_at, status=status,
                         payment_method=payment_method, sales_channel=sales_channel,
                         number_taken=bool(number)
                         and Order.objects.filter(number=number).exists())
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        customer = customer_lock_for_write(actor=actor, customer=customer)
        salesperson = salesperson if salesperson is not None else actor.user
        order = order_build(
            customer_id=customer.pk, number=number or _numbered("SO", ordered_at),
            status=status, ordered_at=ordered_at, payment_method=payment_method,
            sales_channel=sales_channel, notes=notes,
            salesperson_id=salesperson.pk if salesperson is not None else None, lines=priced)
        order.customer, order.salesperson = customer, salesperson
        try:
            with transaction.atomic():
                order.save()
        except IntegrityError as exc:
            raise ValidationFailed(
                details={"number": [_("Another order already has this number.")]}) from exc
        if not number:
            order.number = _final_number("SO", Order, order)
            order.save(update_fields=["number"])
        for line in priced:
            line.order = order
        OrderLine.objects.bulk_create(priced)
        activity_at = order_activity_at(order)
        if activity_at is not None:
            customer_touch_activity(customer=customer, at=activity_at)
        record_change(actor=actor, action="order.create", event="order.created",
                      customer_id=order.customer_id, object_type="order",
                      object_id=order.pk, object_repr=order.number,
                      changes=diff({}, _order_snapshot(order, priced)))
    return order


def order_update_status(*, actor: Actor, order: Order, status: str, notes: str | None = None
                        ) -> Order:
    """Move an order along its life: pending → paid → shipped → completed, or off to the side.

    Cancel before shipping; return once shipped or completed; refund when paid or
    returned. Anything else is refused naming the `status` field.
    """
    actor.require("order.manage")
    errors: dict[str, list[str]] = {}
    _choice(errors, "status", status, Order.STATUSES)
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        current = Order.objects.select_for_update().filter(pk=order.pk).first()
        if current is None:
            raise NotFound()
        customer_lock_for_write(actor=actor, customer=current.customer)
        refusal = order_status_refusal(current.status, status)
        if refusal is not None:
            raise ValidationFailed(details={"status": [refusal]})
        before = _order_snapshot(current)
        current.status = status
        fields = ["status"]
        if notes is not None:
            current.notes = notes.strip()
            fields.append("notes")
        current.save(update_fields=fields)
        record_change(actor=actor, action="order.status", event="order.status_changed",
                      customer_id=current.customer_id, object_type="order",
                      object_id=current.pk, object_repr=current.number,
                      changes=diff(before, _order_snapshot(current)))
    return current


# Orders in bulk (imports) ------------------------------------------------------------


@dataclass
class OrderStatusMove:
    """A recorded order (locked by `orders_lock_by_number`) moving to `status`, already
    allowed by `order_status_refusal`."""

    order: Order
    status: str


@dataclass
class OrderNew:
    """An order from `order_build` with its lines from `order_check`, to insert."""

    order: Order
    lines: list[OrderLine]


_ORDER_COLUMNS = ("id", "customer_id", "number", "status", "ordered_at", "total_amount",
                  "payment_method", "sales_channel", "salesperson_id", "notes", "created_at")
_LINE_COLUMNS = ("id", "order_id", "product_id", "quantity", "unit_price", "amount")


def orders_lock_by_number(*, numbers: Iterable[str]) -> dict[str, Order]:
    """The recorded orders with these numbers, locked for this transaction (as
    order_update_status locks one), each with `stored_lines`: its lines as (product id,
    quantity, unit price) in line order. Two queries."""
    numbers = sorted(set(numbers))
    if not numbers:
        return {}
    orders = {order.pk: order for order in Order.objects.select_for_update()
              .filter(number__in=numbers).order_by("pk")}
    for order in orders.values():
        order.stored_lines = []
    for order_id, product_id, quantity, unit_price in OrderLine.objects.filter(
            order_id__in=list(orders)).order_by("id").values_list(
            "order_id", "product_id", "quantity", "unit_price"):
        orders[order_id].stored_lines.append((product_id, quantity, unit_price))
    return {order.number: order for order in orders.values()}


def orders_record_many(*, actor: Actor, customers: dict[int, Customer],
                       writes: list[OrderNew | OrderStatusMove]) -> None:
    """What order_create and order_update_status write, for many orders at once (imports):
    new orders and their lines inserted set-based, status moves in one `executemany`, the
    customers' last activity moved forward, and one audit entry per order, in the order of
    `writes`, with the actions and changes the single services record.

    The caller checked everything first (order_check, order_build, order_status_refusal)
    and holds the locks (`customers_lock_for_write` for `customers`, which must hold every
    order's customer; `orders_lock_by_number`), all in its own transaction.
    """
    actor.require("order.manage")
    if not writes:
        return
    new = [write for write in writes if isinstance(write, OrderNew)]
    order_ids = allocate_ids(Order, len(new))
    line_ids = allocate_ids(OrderLine, sum(len(write.lines) for write in new))
    now = timezone.now()
    order_rows, line_rows, moments = [], [], {}
    next_line_id = iter(line_ids)
    for write, order_id in zip(new, order_ids, strict=True):
        order = write.order
        order.pk, order.created_at = order_id, now
        order_rows.append([getattr(order, name) for name in _ORDER_COLUMNS])
        for line in write.lines:
            line.pk, line.order = next(next_line_id), order
            line_rows.append([line.pk, order_id, line.product.pk, line.quantity,
                              line.unit_price, line.amount])
        activity_at = order_activity_at(order)
        if activity_at is not None and (order.customer_id not in moments
                                        or moments[order.customer_id] < activity_at):
            moments[order.customer_id] = activity_at
    insert_rows(Order, _ORDER_COLUMNS, order_rows)
    insert_rows(OrderLine, _LINE_COLUMNS, line_rows)
    entries, moves = [], []
    for write in writes:
        order = write.order
        if isinstance(write, OrderNew):
            entries.append(Change(action="order.create", event="order.created",
                                  customer_id=order.customer_id, object_type="order",
                                  object_id=order.pk, object_repr=order.number,
                                  changes=diff({}, _order_snapshot(order, write.lines))))
            continue
        before = _order_snapshot(order)
        order.status = write.status
        moves.append((order.pk, write.status))
        entries.append(Change(action="order.status", event="order.status_changed",
                              customer_id=order.customer_id, object_type="order",
                              object_id=order.pk, object_repr=order.number,
                              changes=diff(before, _order_snapshot(order))))
    update_rows(Order, ["status"], moves)
    customers_touch_activity(customers=customers, moments=moments)
    record_changes_many(actor=actor, entries=entries)


# Tickets live in ticket_services; these names stay importable from here.
from kehu.transactions.ticket_services import (  # noqa: E402, F401
    TICKET_DONE,
    TICKET_TRANSITIONS,
    ticket_escalate,
    ticket_merge,
    ticket_message_add,
    ticket_open,
    ticket_rate,
    ticket_unmerge,
    ticket_update,
)
