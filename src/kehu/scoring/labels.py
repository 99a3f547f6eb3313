"""Codes and labels of the value layer (RFM segments, value tiers), and the filters and columns
the scoring app registers into the customer list (customers.fields.register_filter /
register_columns), so the list, the API, exports and the CLI offer them without the customers
app reaching up."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# The classic RFM segment map (on R and F scores).
RFM_SEGMENTS = [
    ("champions", _("Champions")),                      # 冠军客户
    ("loyal", pgettext_lazy("rfm segment", "Loyal")),   # 忠诚客户
    ("potential_loyalists", _("Potential loyalists")),  # 潜在忠诚客户
    ("new", _("New customers")),                        # 新客户
    ("promising", _("Promising")),                      # 有潜力客户
    ("need_attention", _("Need attention")),            # 需要关注
    ("about_to_sleep", _("About to sleep")),            # 即将沉睡
    ("at_risk", _("At risk")),                          # 有流失风险
    ("cant_lose", _("Can't lose them")),                # 不能失去
    ("hibernating", _("Hibernating")),                  # 休眠客户
]

# The seeds' four business tiers.
VALUE_TIERS = [
    ("high_value", _("High value")),    # 高价值客户
    ("potential", _("Potential")),      # 潜力客户
    ("dormant", _("Dormant")),          # 沉睡客户
    ("general", _("General value")),    # 一般价值客户
    ("no_purchases", _("No purchases")),  # 无购买: never bought; R/F/M empty
]


def _choice(codes):
    allowed = {code for code, _label in codes}
    return lambda text: text if text in allowed else None


def _score(text: str) -> int | None:
    return int(text) if text in ("1", "2", "3", "4", "5") else None


def register_list_extensions() -> None:
    """Value tier, RFM segment and R/F/M score filters and the value columns (scoring.view)."""
    from ninja import Field

    from kehu.customers.fields import ListColumns, ListFilter, register_columns, register_filter

    def by(lookup):
        return lambda qs, value: qs.filter(**{f"value__{lookup}": value})

    register_filter(ListFilter(
        "value_tier", _("Value tier"), _choice(VALUE_TIERS), by("value_tier"),
        permission="scoring.view", choices=lambda: VALUE_TIERS,
        api_field=(str, Field("", description="Value tier code (see the card's value tiers)"))))
    register_filter(ListFilter(
        "rfm_segment", _("RFM segment"), _choice(RFM_SEGMENTS), by("rfm_segment"),
        permission="scoring.view", choices=lambda: RFM_SEGMENTS,
        api_field=(str, Field("", description="RFM segment code"))))
    for key, label in (("r_score", _("R score")), ("f_score", _("F score")),
                       ("m_score", _("M score"))):
        register_filter(ListFilter(
            key, label, _score, by(key), permission="scoring.view",
            choices=lambda: [(str(n), str(n)) for n in range(1, 6)],
            api_field=(int | None, Field(None, ge=1, le=5,
                                         description=f"{key[0].upper()} score, 1-5"))))

    def reached(qs, value):
        from kehu.scoring.selectors import customers_reached_lifecycle

        return customers_reached_lifecycle(qs, value)

    funnel = ("lead", "prospect", "customer", "loyal")
    register_filter(ListFilter(
        "lifecycle_reached", _("Reached lifecycle stage"),
        lambda text: text if text in funnel else None, reached, widget="hidden",
        api_field=(str, Field("", description="Customers that reached this lifecycle stage or "
                                              "a later one (lead, prospect, customer, loyal)"))))

    def present(access, customer, value) -> dict:
        if value is None or not access.can("scoring.view"):
            return {"value_tier": None, "rfm_segment": None, "rfm_code": None, "monetary": None}
        code = (f"{value.r_score}{value.f_score}{value.m_score}"
                if value.r_score is not None else None)
        return {"value_tier": value.value_tier or None, "rfm_segment": value.rfm_segment or None,
                "rfm_code": code, "monetary": value.monetary}

    register_columns(ListColumns(
        related="value",
        fields=("value_tier", "rfm_segment", "r_score", "f_score", "m_score", "monetary"),
        columns={"value_tier": _("Value tier"), "rfm_segment": _("RFM segment"),
                 "rfm_code": _("RFM score"), "monetary": _("Spend in window (CNY)")},
        present=present,
        labels=lambda: {"value_tier": {k: str(v) for k, v in VALUE_TIERS},
                        "rfm_segment": {k: str(v) for k, v in RFM_SEGMENTS}}))
