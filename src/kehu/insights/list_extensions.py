"""The churn filters and columns insights adds to the customer list (customers.fields
registries): the list, the API, exports and the CLI offer them alike, for callers with
scoring.view."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from kehu.insights.models import CHURN_LEVELS


def _level(text: str) -> str | None:
    return text if text in {code for code, _label in CHURN_LEVELS} else None


def _risk(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if 0 <= value <= 1 else None


def register_list_extensions() -> None:
    from ninja import Field

    from kehu.customers.fields import ListColumns, ListFilter, register_columns, register_filter

    register_filter(ListFilter(
        "churn_level", _("Churn risk level"), _level,
        lambda qs, value: qs.filter(churn__level=value), permission="scoring.view",
        choices=lambda: CHURN_LEVELS,
        api_field=(str, Field("", description="Churn risk level: low, medium or high"))))
    register_filter(ListFilter(
        "churn_risk_min", _("Churn risk at least"), _risk,
        lambda qs, value: qs.filter(churn__churn_risk__gte=value), permission="scoring.view",
        choices=lambda: [(f"{n / 10:.1f}", f"≥ {n * 10}%") for n in range(1, 10)],
        api_field=(float | None, Field(None, ge=0, le=1,
                                       description="Churn risk at least (0-1)"))))

    def at_risk(qs, value):
        from kehu.insights.selectors import at_risk_condition

        return qs.filter(at_risk_condition())

    register_filter(ListFilter(
        "at_risk", _("At risk of churning"), lambda text: True if text == "1" else None,
        at_risk, permission="scoring.view", widget="hidden",
        api_field=(str, Field("", description="1: customers at risk (an at-risk RFM segment, "
                                              "or medium/high churn risk)"))))

    def present(access, customer, row) -> dict:
        if row is None or not access.can("scoring.view"):
            return {"churn_risk": None, "churn_level": None}
        return {"churn_risk": round(row.churn_risk, 4), "churn_level": row.level}

    register_columns(ListColumns(
        related="churn", fields=("churn_risk", "level"),
        columns={"churn_risk": _("Churn risk"), "churn_level": _("Churn risk level")},
        present=present,
        labels=lambda: {"churn_level": {k: str(v) for k, v in CHURN_LEVELS}}))
