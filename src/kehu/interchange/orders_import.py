"""`--kind orders`: each row is one order line; rows with the same order number form an order.

The lines of an order are the adjacent rows that share its number (a chunk never splits
them, so an order is written whole or not at all). Each chunk is decided in memory and
written set-based: one lookup each of the chunk's customers, products and recorded orders,
each order checked by the rules `order_create` itself applies (`order_check`,
`order_build`: products must be sold, quantities above zero, times not in the future, the
total computed from the lines), then every new order, line, status move, last-activity
touch and audit entry of the chunk written at once by `orders_record_many`.

Idempotent upsert by order number + line position: an order already recorded with the
same customer, lines, date, payment, channel and notes is "unchanged"; one whose status
differs moves to the file's status (the transition rules of `order_update_status` apply,
as `order_status_refusal` words them; a refused move is reported) and is "updated"; any
other difference is reported, since recorded order lines are never rewritten by an
import. Counts are of rows (lines).

Refunds and returns: a negative quantity or amount marks a returned line; such an order
is stored with positive lines and the status "refunded" (or the file's returned/refunded
status), so RFM nets it out by status. An order cannot mix sold and returned lines.

Products are found by SKU, else by exact name. An unknown SKU is reported unless the job
was created with the option `create_products`, which adds it to the catalogue
(`product_create`, at the row's unit price, named by the row's product name or its SKU).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext as _

from kehu.core.errors import DomainError, NotFound, ValidationFailed
from kehu.customers.services import customers_lock_for_write
from kehu.interchange.kinds import (
    CellInvalid,
    KindImporter,
    RowOutcome,
    limited,
    parse_moment,
    parse_number,
    pick_choice,
)
from kehu.interchange.rows import RowError, choice_table
from kehu.transactions.models import Order, Product
from kehu.transactions.services import (
    OrderNew,
    OrderStatusMove,
    order_build,
    order_check,
    order_status_refusal,
    orders_lock_by_number,
    orders_record_many,
    product_create,
)

CENT = Decimal("0.01")
DEFAULT_STATUS = "completed"
RETURN_STATUSES = frozenset({"returned", "refunded"})

STATUS_WORDS = {
    "pending": ("待付款", "未付款", "待支付", "等待付款", "等待买家付款", "未支付", "待确认"),
    "paid": ("已付款", "已支付", "付款成功", "支付成功", "待发货", "买家已付款", "已付"),
    "shipped": ("已发货", "待收货", "运输中", "配送中", "卖家已发货"),
    "completed": ("已完成", "完成", "交易成功", "交易完成", "已收货", "已签收", "成功",
                  "done", "complete", "finished"),
    "cancelled": ("已取消", "取消", "交易关闭", "已关闭", "关闭", "canceled", "closed"),
    "returned": ("已退货", "退货", "退货成功", "退货完成"),
    "refunded": ("已退款", "退款", "退款成功", "退款完成", "全额退款", "refund"),
}
PAYMENT_WORDS = {
    "wechat_pay": ("微信", "微信支付", "wechat", "weixin", "wxpay"),
    "alipay": ("支付宝", "zhifubao"),
    "bank_transfer": ("银行转账", "转账", "对公转账", "汇款", "transfer", "bank"),
    "card": ("银行卡", "信用卡", "刷卡", "借记卡", "银联", "credit card", "debit card",
             "unionpay"),
    "cash": ("现金", "现付"),
    "credit": ("赊账", "挂账", "月结", "账期", "on account"),
}
CHANNEL_WORDS = {
    "direct": ("直销", "直营", "销售", "direct"),
    "online": ("线上", "官网", "网店", "官方商城", "商城", "淘宝", "拼多多", "抖音", "web",
               "website"),
    "tmall": ("天猫", "天猫商城", "tmall"),
    "jd": ("京东", "京东商城", "jd", "jd.com"),
    "store": ("门店", "线下", "实体店", "店铺", "store", "shop", "offline"),
    "distributor": ("经销商", "代理", "代理商", "分销", "distributor", "dealer"),
    "wechat": ("微信小店", "微店", "小程序", "微信商城", "wechat shop", "mini program"),
}
_HEADER_FIELDS = ("ordered_at", "status", "payment_method", "sales_channel", "notes")


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class _Line:
    number: int
    cells: list[str]
    errors: list[RowError] = field(default_factory=list)
    keys: dict[str, str] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)  # ordered_at, status, … as given
    sku: str = ""
    product_name: str = ""
    quantity: Decimal = Decimal(1)
    unit_price: Decimal | None = None
    returned: bool = False
    product: Product | None = None


class OrderImporter(KindImporter):
    kind = "orders"
    # Not the status, time, quantities or money: an order without them would be another.
    skippable = frozenset({"payment_method", "sales_channel", "notes"})

    def __init__(self, job, actor):
        super().__init__(job, actor)
        self.create_products = bool(job.options.get("create_products"))
        self.statuses = choice_table(Order.STATUSES, STATUS_WORDS)
        self.payments = choice_table(Order.PAYMENT_METHODS, PAYMENT_WORDS)
        self.channels = choice_table(Order.SALES_CHANNELS, CHANNEL_WORDS)
        self.seen: dict[str, int] = {}  # order number -> first row of its lines in the file
        self.number_length = Order._meta.get_field("number").max_length

    # Grouping ---------------------------------------------------------------------------

    def group_key(self, cells: Sequence[str]) -> str | None:
        return self.text(cells, "order_no") or None

    def observe(self, number: int, cells: Sequence[str]) -> None:
        key = self.group_key(cells)
        if key:
            self.seen.setdefault(key, number)

    def process(self, rows: list[tuple[int, list[str]]]) -> list[RowOutcome]:
        lines = [self._clean(number, cells) for number, cells in rows]
        found = self.finder.find(line.keys for line in lines)
        self._products(lines)
        existing = orders_lock_by_number(
            numbers={self.text(line.cells, "order_no") for line in lines} - {""})
        self.customers = customers_lock_for_write(actor=self.actor, ids=found.values())
        self.writes: list[OrderNew | OrderStatusMove] = []
        outcomes: list[RowOutcome] = []
        group: list[_Line] = []
        for line in lines:
            if group and self.text(line.cells, "order_no") != self.text(group[0].cells,
                                                                        "order_no"):
                outcomes += self._order(group, found, existing)
                group = []
            group.append(line)
        if group:
            outcomes += self._order(group, found, existing)
        orders_record_many(actor=self.actor, customers=self.customers, writes=self.writes)
        return outcomes

    # One row ----------------------------------------------------------------------------

    def _value(self, line: _Line, name: str, parse) -> Any:
        text = self.text(line.cells, name)
        if not text:
            return None
        try:
            return parse(text)
        except CellInvalid as exc:
            self.invalid(line.errors, line.number, line.cells, name, exc.reason)
            return None

    def _clean(self, number: int, cells: list[str]) -> _Line:
        line = _Line(number=number, cells=cells)
        order_no = self.text(cells, "order_no")
        if not order_no:
            line.errors.append(self.error(number, cells, "order_no", _("Give the order number.")))
        elif len(order_no) > self.number_length:
            line.errors.append(self.error(number, cells, "order_no", _(
                "At most %(n)d characters.") % {"n": self.number_length}))
        line.keys = self.customer_keys(number, cells, line.errors)
        line.sku = self.text(cells, "sku")
        line.product_name = self.text(cells, "product_name")
        if not line.sku and not line.product_name:
            name = "sku" if "sku" in self.columns else "product_name"
            line.errors.append(self.error(number, cells, name,
                                          _("Give the product's SKU or name.")))
        quantity = self._value(line, "quantity", parse_number)
        unit_price = self._value(line, "unit_price", parse_number)
        discount = self._value(line, "discount", parse_number)
        amount = self._value(line, "amount", parse_number)
        signs = [v for v in (quantity, unit_price, amount) if v is not None]
        line.returned = any(v < 0 for v in signs)
        quantity = abs(quantity) if quantity is not None else Decimal(1)
        if quantity == 0 and "quantity" in self.columns:
            line.errors.append(self.error(number, cells, "quantity",
                                          _("The quantity must be more than zero.")))
        line.quantity = quantity
        if quantity:
            if amount is not None:
                line.unit_price = _cents(abs(amount) / quantity)
            elif unit_price is not None:
                gross = abs(unit_price) * quantity - abs(discount or 0)
                if gross < 0:
                    line.errors.append(self.error(number, cells, "discount", _(
                        "The discount is more than the line is worth.")))
                line.unit_price = _cents(max(gross, Decimal(0)) / quantity)
        header = line.header
        header["ordered_at"] = self._value(line, "ordered_at", parse_moment)
        header["status"] = self._value(line, "status",
                                       lambda t: pick_choice(self.statuses, t))
        header["payment_method"] = self._value(line, "payment_method",
                                               lambda t: pick_choice(self.payments, t))
        header["sales_channel"] = self._value(line, "sales_channel",
                                              lambda t: pick_choice(self.channels, t))
        header["notes"] = self._value(line, "notes", lambda t: limited(t, 2000))
        if line.returned and header["status"] not in (None, *RETURN_STATUSES):
            line.errors.append(self.error(number, cells, "status", _(
                "A negative quantity or amount marks a return, but the status is “%s”.")
                % self.text(cells, "status")))
        return line

    def _products(self, lines: list[_Line]) -> None:
        """Each line's product by SKU, else by exact name (one query each per chunk)."""
        skus = {line.sku for line in lines if line.sku}
        by_sku = {p.sku: p for p in Product.objects.filter(sku__in=skus)} if skus else {}
        names = {line.product_name for line in lines if not line.sku and line.product_name}
        by_name: dict[str, list[Product]] = {}
        for product in Product.objects.filter(name__in=names) if names else ():
            by_name.setdefault(product.name, []).append(product)
        for line in lines:
            if line.sku:
                line.product = by_sku.get(line.sku)
                if line.product is None and not line.errors:
                    if self.create_products:
                        line.product = self._new_product(line, by_sku)
                    else:
                        line.errors.append(self.error(line.number, line.cells, "sku", _(
                            "No product has the SKU “%s”; add it to the catalogue or import "
                            "with the option to create missing products.") % line.sku))
            elif line.product_name:
                matches = by_name.get(line.product_name, [])
                if len(matches) == 1:
                    line.product = matches[0]
                elif matches:
                    line.errors.append(self.error(line.number, line.cells, "product_name", _(
                        "%(n)d products are named “%(name)s”; give the SKU.")
                        % {"n": len(matches), "name": line.product_name}))
                else:
                    line.errors.append(self.error(line.number, line.cells, "product_name", _(
                        "No product is named “%s”; give its SKU.") % line.product_name))

    def _new_product(self, line: _Line, by_sku: dict[str, Product]) -> Product | None:
        try:
            product = product_create(actor=self.actor, sku=line.sku,
                                     name=line.product_name or line.sku,
                                     unit_price=line.unit_price or 0)
        except ValidationFailed as exc:
            line.errors += self.errors_of(exc, line.number, line.cells,
                                          {"sku": "sku", "name": "product_name",
                                           "unit_price": "unit_price"})
            return None
        by_sku[product.sku] = product
        return product

    # One order --------------------------------------------------------------------------

    def _order(self, group: list[_Line], found, existing) -> list[RowOutcome]:
        first = group[0]
        number = self.text(first.cells, "order_no")
        if number and number in self.seen and self.seen[number] < first.number:
            reason = _("The lines of order “%(number)s” must be next to each other; it also "
                       "appears at row %(row)d.") % {"number": number, "row": self.seen[number]}
            return [RowOutcome("rejected", [*line.errors, self.error(
                line.number, line.cells, "order_no", reason)]) for line in group]
        if number:
            self.seen.setdefault(number, first.number)
        customer_id = None
        for line in group:
            if line.errors or not line.keys:
                continue
            own = self.finder.pick(line.keys, found)
            if own is None:
                line.errors.append(self.no_customer(line.number, line.cells, line.keys))
            elif customer_id is None:
                customer_id = own
            elif own != customer_id:
                line.errors.append(self.error(line.number, line.cells,
                                              self.finder.first_key(line.keys), _(
                    "Another line of this order names another customer.")))
        header = self._header(group)
        if customer_id is None and not any(line.errors for line in group):
            first.errors.append(self.no_customer(first.number, first.cells, first.keys))
        if "ordered_at" not in header and not any(line.errors for line in group):
            first.errors.append(self.error(first.number, first.cells, "ordered_at",
                                           _("Give the order date.")))
        kinds = {line.returned for line in group if not line.errors}
        if len(kinds) > 1:
            for line in group:
                if line.returned and not line.errors:
                    line.errors.append(self.error(line.number, line.cells, "quantity", _(
                        "An order cannot mix sold and returned lines; give the return its "
                        "own order number.")))
        if any(line.errors for line in group):
            return self._rejected(group)
        # Without a status column an order keeps its stored status; a return is refunded.
        status = header.get("status") or ("refunded" if group[0].returned else None)
        lines = [{"product": line.product, "quantity": line.quantity,
                  "unit_price": line.unit_price} for line in group]
        order = existing.get(number)
        if order is None:
            return self._create(group, number, customer_id, lines, status or DEFAULT_STATUS,
                                header)
        return self._compare(group, order, customer_id, lines, status, header)

    def _header(self, group: list[_Line]) -> dict[str, Any]:
        """The order's date, status, payment, channel and notes: from its first line that
        gives each; a later line giving another value is an error of that line."""
        header: dict[str, Any] = {}
        origin: dict[str, int] = {}
        for line in group:
            for name in _HEADER_FIELDS:
                value = line.header.get(name)
                if value is None:
                    continue
                if name not in header:
                    header[name], origin[name] = value, line.number
                elif header[name] != value:
                    line.errors.append(self.error(line.number, line.cells, name, _(
                        "Row %d of the same order gives another value.") % origin[name]))
        return header

    def _rejected(self, group: list[_Line]) -> list[RowOutcome]:
        bad = next(line.number for line in group if line.errors)
        outcomes = []
        for line in group:
            errors = line.errors or [self.error(line.number, line.cells, "order_no", _(
                "Row %d of the same order is invalid, so the order was not imported.") % bad)]
            outcomes.append(RowOutcome("rejected", errors))
        return outcomes

    def _fail(self, group: list[_Line], exc: DomainError) -> list[RowOutcome]:
        """A service refused the order: its reasons go to the lines they name."""
        if isinstance(exc, ValidationFailed) and isinstance(exc.details, dict):
            for key, messages in exc.details.items():
                index, _dot, name = key.partition("].")
                if key.startswith("lines[") and name and index[6:].isdigit() and \
                        int(index[6:]) < len(group):
                    line = group[int(index[6:])]
                    name = {"product": "sku" if line.sku else "product_name"}.get(name, name)
                else:
                    line = group[0]
                    name = {"number": "order_no", "lines": "order_no"}.get(key, key)
                for message in messages if isinstance(messages, list | tuple) else [messages]:
                    line.errors.append(self.error(line.number, line.cells, name, message))
        if not any(line.errors for line in group):
            group[0].errors.append(RowError(row=group[0].number, column="", value="",
                                            reason=str(exc.message)))
        return self._rejected(group)

    def _create(self, group, number, customer_id, lines, status, header) -> list[RowOutcome]:
        """order_create's checks, in its order; the write is queued for the chunk."""
        errors: dict[str, list[str]] = {}
        priced = order_check(errors, lines=lines, ordered_at=header["ordered_at"], status=status,
                             payment_method=header.get("payment_method") or "",
                             sales_channel=header.get("sales_channel") or "")
        if errors:
            return self._fail(group, ValidationFailed(details=errors))
        if customer_id not in self.customers:
            return self._fail(group, NotFound())
        user = self.actor.user
        try:
            order = order_build(customer_id=customer_id, number=number, status=status,
                                ordered_at=header["ordered_at"],
                                payment_method=header.get("payment_method") or "",
                                sales_channel=header.get("sales_channel") or "",
                                notes=header.get("notes") or "",
                                salesperson_id=user.pk if user is not None else None,
                                lines=priced)
        except DomainError as exc:
            return self._fail(group, exc)
        self.writes.append(OrderNew(order=order, lines=priced))
        return [RowOutcome("created") for _line in group]

    def _compare(self, group, order: Order, customer_id, lines, status, header
                 ) -> list[RowOutcome]:
        first = group[0]
        if order.customer_id != customer_id:
            first.errors.append(self.error(first.number, first.cells, "order_no", _(
                "Order “%s” is already recorded for another customer.") % order.number))
            return self._rejected(group)
        given = [(line["product"].pk, _cents(line["quantity"]),
                  line["unit_price"] if line["unit_price"] is not None
                  else line["product"].unit_price) for line in lines]
        if order.stored_lines != given:
            first.errors.append(self.error(first.number, first.cells, "order_no", _(
                "Order “%s” is already recorded with other lines; an import does not rewrite "
                "recorded order lines.") % order.number))
            return self._rejected(group)
        for name in ("ordered_at", "payment_method", "sales_channel", "notes"):
            value = header.get(name)
            if value not in (None, "") and value != getattr(order, name):
                line = next(line for line in group if line.header.get(name) is not None)
                line.errors.append(self.error(line.number, line.cells, name, _(
                    "Order “%s” is already recorded with another value here; an import "
                    "changes only an order's status.") % order.number))
                return self._rejected(group)
        if status is None or status == order.status or (
                status == "refunded" and header.get("status") is None
                and order.status in RETURN_STATUSES):
            return [RowOutcome("unchanged") for _line in group]
        # order_update_status's checks, in its order; the move is queued for the chunk.
        if order.customer_id not in self.customers:
            return self._fail(group, NotFound())
        refusal = order_status_refusal(order.status, status)
        if refusal is not None:
            return self._fail(group, ValidationFailed(details={"status": [refusal]}))
        self.writes.append(OrderStatusMove(order=order, status=status))
        return [RowOutcome("updated") for _line in group]
