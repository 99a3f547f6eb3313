"""Quotes (报价单): lines priced before tax with a discount and a VAT rate, totals computed
per line (kehu.pipeline.money), versions, and a status that moves only along
QUOTE_TRANSITIONS: 草稿 → 已发送 → 已接受 / 已拒绝, and 草稿/已发送 → 已过期."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import record_change
from kehu.pipeline.models import LOST, Quote, QuoteLine
from kehu.pipeline.money import (
    TAX_RATES,
    decimal_or_none,
    line_totals,
    money,
    quote_totals,
    tax_rate_of,
)
from kehu.pipeline.services.common import lock_deal, may_touch, numbered, placeholder, products_by_id

QUOTE_TRANSITIONS: dict[str, frozenset[str]] = {
    Quote.DRAFT: frozenset({Quote.SENT, Quote.EXPIRED}),
    Quote.SENT: frozenset({Quote.ACCEPTED, Quote.REJECTED, Quote.EXPIRED}),
    Quote.ACCEPTED: frozenset(),
    Quote.REJECTED: frozenset(),
    Quote.EXPIRED: frozenset(),
}
MAX_LINES = 200


def _snapshot(quote: Quote, lines: list[QuoteLine] | None = None) -> dict[str, Any]:
    data = {"number": quote.number, "version": quote.version, "deal": quote.deal_id,
            "status": quote.status, "valid_until": quote.valid_until, "notes": quote.notes,
            "subtotal": quote.subtotal, "tax_total": quote.tax_total, "total": quote.total}
    if lines is not None:
        data["lines"] = [{"product": line.product_id, "quantity": line.quantity,
                          "unit_price": line.unit_price, "discount": line.discount,
                          "tax_rate": line.tax_rate, "net": line.net_amount,
                          "tax": line.tax_amount} for line in lines]
    return data


def quote_lines_price(errors: dict, lines: Any) -> list[QuoteLine]:
    """Validate and price quote lines {product, quantity, unit_price (default list price),
    discount (percent, 0-100), tax_rate (13/9/6/0 %, default 13%), description}; errors
    keyed lines[i]."""
    if not isinstance(lines, list | tuple) or not lines:
        errors["lines"] = [_("A quote needs at least one line.")]
        return []
    if len(lines) > MAX_LINES:
        errors["lines"] = [_("At most %(n)d lines.") % {"n": MAX_LINES}]
        return []
    ids = {getattr(i.get("product"), "pk", i.get("product")) for i in lines if isinstance(i, dict)}
    products = products_by_id({p for p in ids if isinstance(p, int) and not isinstance(p, bool)})
    priced = []
    for index, item in enumerate(lines):
        item = item if isinstance(item, dict) else {}
        product = products.get(getattr(item.get("product"), "pk", item.get("product")))
        quantity = decimal_or_none(item.get("quantity", 1))
        raw_price = item.get("unit_price")
        price = (decimal_or_none(raw_price) if raw_price not in (None, "")
                 else (product.unit_price if product else None))
        discount = decimal_or_none(item.get("discount") or 0)
        rate_raw = item.get("tax_rate")
        rate = Decimal("0.13") if rate_raw in (None, "") else tax_rate_of(rate_raw)
        description = str(item.get("description") or "").strip()
        problems: dict[str, str] = {}
        if product is None:
            problems["product"] = _("Choose a product from the catalogue.")
        if quantity is None or quantity <= 0 or quantity > Decimal("9999999999"):
            problems["quantity"] = _("The quantity is a number greater than zero.")
        if (product is not None or raw_price not in (None, "")) and (
                price is None or price < 0 or price > Decimal("9999999999")):
            problems["unit_price"] = _("The price is an amount of zero or more.")
        if discount is None or not 0 <= discount <= 100:
            problems["discount"] = _("The discount is a percentage from 0 to 100.")
        if rate is None:
            problems["tax_rate"] = _("The tax rate is one of 13%, 9%, 6% and 0%.")
        if len(description) > 200:
            problems["description"] = _("At most %(n)d characters.") % {"n": 200}
        for name, message in problems.items():
            errors.setdefault(f"lines[{index}].{name}", []).append(message)
        if problems:
            continue
        quantity, price = quantity.quantize(Decimal("0.01")), money(price)
        discount = discount.quantize(Decimal("0.01"))
        totals = line_totals(quantity=quantity, unit_price=price, discount=discount,
                             tax_rate=rate)
        priced.append(QuoteLine(position=index, product=product,
                                description=description or product.name, quantity=quantity,
                                unit_price=price, discount=discount, tax_rate=rate,
                                net_amount=totals.net, tax_amount=totals.tax,
                                gross_amount=totals.gross))
    return priced


def _set_totals(quote: Quote, lines: list[QuoteLine]) -> None:
    totals = quote_totals([line_totals(quantity=line.quantity, unit_price=line.unit_price,
                                       discount=line.discount, tax_rate=line.tax_rate)
                           for line in lines])
    quote.subtotal, quote.tax_total, quote.total = totals.net, totals.tax, totals.gross


def _check_valid_until(errors: dict, valid_until: Any) -> None:
    if not isinstance(valid_until, dt.date):
        errors["valid_until"] = [_("Choose the date the quote is valid until.")]
    elif valid_until < timezone.localdate():
        errors["valid_until"] = [_("The validity date cannot be in the past.")]


def _insert(actor: Actor, deal, *, number: str | None, version: int, lines: list[QuoteLine],
            valid_until: dt.date, notes: str) -> Quote:
    quote = Quote(deal=deal, number=number or placeholder("QT"), version=version,
                  valid_until=valid_until, notes=notes,
                  created_by=actor.user if getattr(actor.user, "pk", None) else None)
    _set_totals(quote, lines)
    quote.save()
    if number is None:
        quote.number = numbered("QT", quote.pk)
        quote.save(update_fields=["number"])
    for line in lines:
        line.quote = quote
    QuoteLine.objects.bulk_create(lines)
    record_change(actor=actor, action="quote.create", event="quote.created",
                  object_type="quote", object_id=quote.pk, object_repr=str(quote),
                  customer_id=deal.customer_id, changes=diff({}, _snapshot(quote, lines)))
    return quote


def quote_create(*, actor: Actor, deal, lines: list[dict[str, Any]], valid_until: dt.date,
                 notes: str = "") -> Quote:
    """A draft quote (version 1) for an open deal."""
    actor.require("deal.manage")
    errors: dict[str, list[str]] = {}
    priced = quote_lines_price(errors, lines)
    _check_valid_until(errors, valid_until)
    with transaction.atomic():
        deal = lock_deal(actor, deal)
        if deal.status == LOST:
            errors["deal"] = [_("This deal is lost: reopen it before quoting.")]
        if errors:
            raise ValidationFailed(details=errors)
        return _insert(actor, deal, number=None, version=1, lines=priced,
                       valid_until=valid_until, notes=(notes or "").strip())


def _lock(actor: Actor, quote: Quote) -> Quote:
    row = Quote.objects.select_for_update().select_related("deal").filter(pk=quote.pk).first()
    if row is None or not may_touch(actor, owner_id=row.deal.owner_id, team_id=row.deal.team_id):
        raise NotFound()
    return row


def _refuse(quote: Quote, target: str) -> None:
    if target not in QUOTE_TRANSITIONS[quote.status]:
        labels = dict(Quote.STATUSES)
        message = _("A quote that is “%(from)s” cannot become “%(to)s”.") % {
            "from": labels[quote.status], "to": labels[target]}
        raise ValidationFailed(message, details={"status": [message]},
                               code="invalid_transition")


def quote_update(*, actor: Actor, quote: Quote, lines: list[dict[str, Any]],
                 valid_until: dt.date, notes: str = "") -> Quote:
    """Change a draft's lines, validity and notes (a sent quote is revised instead)."""
    actor.require("deal.manage")
    errors: dict[str, list[str]] = {}
    priced = quote_lines_price(errors, lines)
    _check_valid_until(errors, valid_until)
    with transaction.atomic():
        quote = _lock(actor, quote)
        if quote.status != Quote.DRAFT:
            message = _("Only a draft can be edited; revise the quote to make a new version.")
            raise ValidationFailed(message, details={"status": [message]},
                                   code="invalid_transition")
        if errors:
            raise ValidationFailed(details=errors)
        before = _snapshot(quote, list(quote.lines.all()))
        quote.valid_until, quote.notes = valid_until, (notes or "").strip()
        _set_totals(quote, priced)
        quote.save(update_fields=["valid_until", "notes", "subtotal", "tax_total", "total"])
        quote.lines.all().delete()
        for line in priced:
            line.quote = quote
        QuoteLine.objects.bulk_create(priced)
        record_change(actor=actor, action="quote.update", event="quote.updated",
                      object_type="quote", object_id=quote.pk, object_repr=str(quote),
                      customer_id=quote.deal.customer_id,
                      changes=diff(before, _snapshot(quote, priced)))
    return quote


def quote_revise(*, actor: Actor, quote: Quote, valid_until: dt.date | None = None) -> Quote:
    """A new draft version of a quote with the same number and a copy of its lines."""
    actor.require("deal.manage")
    with transaction.atomic():
        quote = _lock(actor, quote)
        deal = lock_deal(actor, quote.deal)
        if quote.status == Quote.ACCEPTED:
            message = _("An accepted quote is final; make a new quote instead.")
            raise ValidationFailed(message, details={"status": [message]},
                                   code="invalid_transition")
        errors: dict[str, list[str]] = {}
        valid_until = valid_until or max(quote.valid_until, timezone.localdate())
        _check_valid_until(errors, valid_until)
        if errors:
            raise ValidationFailed(details=errors)
        latest = Quote.objects.filter(number=quote.number).order_by("-version").first()
        lines = [QuoteLine(position=line.position, product_id=line.product_id,
                           description=line.description, quantity=line.quantity,
                           unit_price=line.unit_price, discount=line.discount,
                           tax_rate=line.tax_rate, net_amount=line.net_amount,
                           tax_amount=line.tax_amount, gross_amount=line.gross_amount)
                 for line in quote.lines.all()]
        return _insert(actor, deal, number=quote.number, version=latest.version + 1,
                       lines=lines, valid_until=valid_until, notes=quote.notes)


def _move(actor: Actor, quote: Quote, target: str, event: str) -> Quote:
    actor.require("deal.manage")
    with transaction.atomic():
        quote = _lock(actor, quote)
        _refuse(quote, target)
        if target == Quote.ACCEPTED:
            if quote.valid_until < timezone.localdate():
                message = _("This quote expired on %s; revise it first.") % quote.valid_until
                raise ValidationFailed(message, details={"valid_until": [message]},
                                       code="invalid_transition")
            if Quote.objects.filter(deal_id=quote.deal_id, status=Quote.ACCEPTED).exists():
                message = _("Another quote of this deal is already accepted.")
                raise ValidationFailed(message, details={"status": [message]},
                                       code="invalid_transition")
        before = _snapshot(quote)
        quote.status = target
        now = timezone.now()
        fields = ["status"]
        if target == Quote.SENT:
            quote.sent_at = now
            fields.append("sent_at")
        elif target in (Quote.ACCEPTED, Quote.REJECTED):
            quote.decided_at = now
            fields.append("decided_at")
        quote.save(update_fields=fields)
        record_change(actor=actor, action="quote.status", event=event, object_type="quote",
                      object_id=quote.pk, object_repr=str(quote),
                      customer_id=quote.deal.customer_id, changes=diff(before, _snapshot(quote)))
    return quote


def quote_send(*, actor: Actor, quote: Quote) -> Quote:
    """Mark a draft as sent to the customer (草稿 → 已发送)."""
    return _move(actor, quote, Quote.SENT, "quote.sent")


def quote_accept(*, actor: Actor, quote: Quote) -> Quote:
    """The customer accepted a sent quote still within its validity (已发送 → 已接受)."""
    return _move(actor, quote, Quote.ACCEPTED, "quote.accepted")


def quote_reject(*, actor: Actor, quote: Quote) -> Quote:
    """The customer turned a sent quote down (已发送 → 已拒绝)."""
    return _move(actor, quote, Quote.REJECTED, "quote.rejected")


def quote_expire(*, actor: Actor, quote: Quote) -> Quote:
    """A draft or sent quote past its validity is expired (→ 已过期)."""
    return _move(actor, quote, Quote.EXPIRED, "quote.expired")


def quotes_expire_due(*, actor: Actor, today: dt.date | None = None) -> int:
    """Expire every draft or sent quote whose validity ended before `today` (periodic,
    idempotent: an expired quote is not touched again). Returns how many expired."""
    today = today or timezone.localdate()
    count = 0
    due = Quote.objects.filter(status__in=(Quote.DRAFT, Quote.SENT),
                               valid_until__lt=today).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            quote = Quote.objects.select_for_update().select_related("deal").filter(
                pk=pk, status__in=(Quote.DRAFT, Quote.SENT), valid_until__lt=today).first()
            if quote is None:
                continue
            before = _snapshot(quote)
            quote.status = Quote.EXPIRED
            quote.save(update_fields=["status"])
            record_change(actor=actor, action="quote.status", event="quote.expired",
                          object_type="quote", object_id=quote.pk, object_repr=str(quote),
                          customer_id=quote.deal.customer_id,
                          changes=diff(before, _snapshot(quote)))
            count += 1
    return count


__all__ = ["QUOTE_TRANSITIONS", "TAX_RATES", "quote_accept", "quote_create", "quote_expire",
           "quote_lines_price", "quote_reject", "quote_revise", "quote_send", "quote_update",
           "quotes_expire_due"]
