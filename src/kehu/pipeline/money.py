"""CNY amounts and quote arithmetic, in one place.

Amounts are Decimal with two places, rounded half up (0.005 -> 0.01), as Chinese invoices
round. A quote line is priced the way a VAT invoice (增值税发票) line is: prices are before
tax; the line's amount before tax is quantity × unit price less the discount, rounded to the
cent; its tax is that amount × the rate, rounded to the cent ON THE LINE; the line's amount
with tax is the sum of the two. The quote's totals add the rounded lines, so the tax total
is the sum of the line taxes (never the rate applied to the subtotal), exactly the figures an
invoice printed from the quote shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
# The VAT rates a quote line may carry: 13% goods, 9% transport/construction, 6% services,
# 0% exempt or export.
TAX_RATES = (Decimal("0.13"), Decimal("0.09"), Decimal("0.06"), Decimal("0.00"))


def money(value: Any) -> Decimal:
    """A CNY amount: Decimal with two places, half up."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def decimal_or_none(value: Any) -> Decimal | None:
    """The value as a finite Decimal, or None when it is not a number (booleans are not)."""
    if isinstance(value, bool) or value is None or value == "":
        return None
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def tax_rate_of(value: Any) -> Decimal | None:
    """13, "13%", 0.13, "0.13" -> Decimal("0.13"); None unless it is one of TAX_RATES."""
    text = str(value).strip().rstrip("%") if value is not None else ""
    number = decimal_or_none(text)
    if number is None:
        return None
    if number >= 1 or (isinstance(value, str) and value.strip().endswith("%")):
        number = number / HUNDRED
    number = number.quantize(CENT)
    return number if number in TAX_RATES else None


@dataclass(frozen=True)
class LineTotals:
    net: Decimal    # before tax, after discount
    tax: Decimal
    gross: Decimal  # with tax


def line_totals(*, quantity: Decimal, unit_price: Decimal, discount: Decimal,
                tax_rate: Decimal) -> LineTotals:
    """One quote line: net = round(qty × price × (1 − discount%)), tax = round(net × rate),
    gross = net + tax, each rounded to the cent half up."""
    net = money(quantity * unit_price * (HUNDRED - discount) / HUNDRED)
    tax = money(net * tax_rate)
    return LineTotals(net=net, tax=tax, gross=net + tax)


def quote_totals(lines: list[LineTotals]) -> LineTotals:
    """The quote's totals: the sums of its rounded lines."""
    net = sum((line.net for line in lines), Decimal("0.00"))
    tax = sum((line.tax for line in lines), Decimal("0.00"))
    return LineTotals(net=net, tax=tax, gross=net + tax)


def weighted(amount: Decimal, probability: int) -> Decimal:
    """amount × probability%, to the cent."""
    return money(amount * probability / HUNDRED)
