"""The prediction columns and filters of the customer list (P(alive), 12-month CLV, expected
purchases), registered into the customer field catalogue in PredictionConfig.ready, so the
list page, the API, exports and the CLI offer them without the customers app reaching up.
Like the value layer, they need scoring.view."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext_lazy as _

CLV_MAX = 10**12


def _percent(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and 1 <= int(text) <= 100 else None


def _amount(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and int(text) <= CLV_MAX else None


def _display(column: str, value):
    if column == "p_alive":
        return f"{round(float(value) * 100)}%"
    if column == "clv_12m":
        return f"¥{Decimal(value):,.0f}"
    return f"{float(value):.1f}"


def register_list_extensions() -> None:
    from ninja import Field

    from kehu.customers.fields import ListColumns, ListFilter, register_columns, register_filter

    register_filter(ListFilter(
        "p_alive_below", _("P(alive) below (%)"), _percent,
        lambda qs, value: qs.filter(prediction__p_alive__lt=value / 100),
        permission="scoring.view", widget="number",
        api_field=(int | None, Field(None, ge=1, le=100,
                                     description="P(alive) below this percentage"))))
    register_filter(ListFilter(
        "clv_min", _("12-month CLV at least (CNY)"), _amount,
        lambda qs, value: qs.filter(prediction__clv_12m__gte=value),
        permission="scoring.view", widget="number",
        api_field=(int | None, Field(None, ge=0, le=CLV_MAX,
                                     description="12-month CLV at least this (CNY)"))))

    def present(access, customer, row) -> dict:
        if row is None or not access.can("scoring.view"):
            return {"p_alive": None, "clv_12m": None, "expected_purchases_90d": None}
        return {"p_alive": row.p_alive, "clv_12m": row.clv_12m,
                "expected_purchases_90d": row.expected_purchases_90d}

    register_columns(ListColumns(
        related="prediction", fields=("p_alive", "clv_12m", "expected_purchases_90d"),
        columns={"p_alive": _("P(alive)"), "clv_12m": _("12-month CLV (CNY)"),
                 "expected_purchases_90d": _("Expected purchases (90 days)")},
        present=present, display=_display, card_joins=("prediction__fit",)))
