"""Quote arithmetic: Decimal throughout, tax rounded on each line as a VAT invoice does."""

from decimal import Decimal

import pytest

from kehu.pipeline.money import line_totals, money, quote_totals, tax_rate_of, weighted

D = Decimal


def test_money_rounds_half_up_to_the_cent():
    assert money("0.005") == D("0.01")
    assert money("2.675") == D("2.68")  # binary floats would give 2.67
    assert money("-1.005") == D("-1.01")


@pytest.mark.parametrize(("text", "rate"), [("13%", "0.13"), ("9%", "0.09"), (6, "0.06"),
                                            ("0.13", "0.13"), ("0%", "0.00"), (0, "0.00")])
def test_tax_rates_accepted(text, rate):
    assert tax_rate_of(text) == D(rate)


@pytest.mark.parametrize("text", ["17%", "5", "abc", None, "0.10"])
def test_other_tax_rates_refused(text):
    assert tax_rate_of(text) is None


def test_line_with_discount_and_tax():
    # 3 × 33.33 = 99.99; less 10 % = 89.991 -> 89.99; 13 % tax = 11.6987 -> 11.70
    line = line_totals(quantity=D("3"), unit_price=D("33.33"), discount=D("10"),
                       tax_rate=D("0.13"))
    assert (line.net, line.tax, line.gross) == (D("89.99"), D("11.70"), D("101.69"))


def test_tax_is_rounded_per_line_not_on_the_total():
    # Three lines of 0.05 at 9 %: each tax 0.0045 -> 0.00; on the subtotal 0.15 × 9 % = 0.0135
    # would give 0.01. The invoice's way is the sum of the rounded line taxes: 0.00.
    lines = [line_totals(quantity=D("1"), unit_price=D("0.05"), discount=D("0"),
                         tax_rate=D("0.09")) for _ in range(3)]
    totals = quote_totals(lines)
    assert totals.net == D("0.15")
    assert totals.tax == D("0.00")
    assert totals.gross == D("0.15")
    # and the other way round: 0.07 at 13 % = 0.0091 -> 0.01 per line, 0.03 for three
    lines = [line_totals(quantity=D("1"), unit_price=D("0.07"), discount=D("0"),
                         tax_rate=D("0.13")) for _ in range(3)]
    assert quote_totals(lines).tax == D("0.03")  # 0.21 × 13 % = 0.0273 would round to 0.03 too
    lines = [line_totals(quantity=D("1"), unit_price=D("0.04"), discount=D("0"),
                         tax_rate=D("0.13")) for _ in range(4)]
    assert quote_totals(lines).tax == D("0.04")  # 0.16 × 13 % = 0.0208 -> 0.02 on the total


def test_weighted_amount():
    assert weighted(D("12345.67"), 30) == D("3703.70")
