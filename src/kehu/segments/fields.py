"""The customer fields a segment condition can name: one registry, so a new field (quality
score, RFM values …) is one `register(FieldSpec(...))` line.

A spec names the ORM path from Customer (lower layers are reached by lookup strings, never
imports), its kind (which decides the operators), an optional sensitive-field name (the access
policy refuses conditions on it when it is masked or hidden for the caller) and, for coded
values, its choices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

# kind -> the operators it accepts
OPERATORS: dict[str, tuple[str, ...]] = {
    "text": ("eq", "ne", "in", "not_in", "contains", "starts_with", "is_set", "is_not_set"),
    "choice": ("eq", "ne", "in", "not_in", "is_set", "is_not_set"),
    "number": ("eq", "ne", "gt", "gte", "lt", "lte", "between", "is_set", "is_not_set"),
    "date": ("before", "after", "between", "in_last_days", "not_in_last_days", "is_set",
             "is_not_set"),
    "anniversary": ("before", "after", "between", "in_last_days", "not_in_last_days",
                    "anniversary_next_days", "anniversary_days", "is_set", "is_not_set"),
    "datetime": ("before", "after", "between", "in_last_days", "not_in_last_days", "is_set",
                 "is_not_set"),
    "tags": ("has_any", "has_all", "has_none"),
    "user": ("eq", "ne", "in", "not_in", "is_set", "is_not_set"),
    "team": ("eq", "ne", "in", "not_in", "is_set", "is_not_set"),
    "presence": ("is_set", "is_not_set"),
    "district": ("eq", "in", "not_in"),
    "boolean": ("eq", "is_set", "is_not_set"),
    "multi_choice": ("has_any", "has_all", "has_none"),
    "custom_date": ("before", "after", "between", "in_last_days", "not_in_last_days", "is_set",
                    "is_not_set"),
}

OPERATOR_LABELS = {
    "eq": _("is"), "ne": _("is not"), "in": _("is one of"), "not_in": _("is none of"),
    "contains": _("contains"), "starts_with": _("starts with"), "is_set": _("is set"),
    "is_not_set": _("is not set"), "gt": ">", "gte": "≥", "lt": "<", "lte": "≤",
    "between": _("between"), "before": _("before"), "after": _("after"),
    "in_last_days": _("in the last N days"), "not_in_last_days": _("not in the last N days"),
    "anniversary_next_days": _("anniversary in the next N days"),
    "anniversary_days": _("anniversary between day A and day B from today"),
    "has_any": _("has any of"), "has_all": _("has all of"), "has_none": _("has none of"),
}


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: object
    kind: str
    path: str  # ORM path from Customer
    sensitive: str | None = None
    choices: Callable[[], list[tuple[str, str]]] | None = None
    group: object = field(default=_("Customer"))


FIELDS: dict[str, FieldSpec] = {}


def register(spec: FieldSpec) -> FieldSpec:
    """Make a field available to segment definitions (and the builder's picker)."""
    FIELDS[spec.key] = spec
    return spec


def _customer_choices(name: str):
    def choices():
        from django.apps import apps

        model = apps.get_model("customers", "Customer")
        return [(k, str(v)) for k, v in getattr(model, name)]
    return choices


def _regions():
    from kehu.core.normalize import REGIONS

    return [(k, str(v)) for k, v in REGIONS]


register(FieldSpec("kind", _("Kind"), "choice", "kind", choices=_customer_choices("KINDS")))
register(FieldSpec("name", _("Name"), "text", "name"))
register(FieldSpec("gender", _("Gender"), "choice", "gender",
                   choices=_customer_choices("GENDERS")))
register(FieldSpec("birthday", _("Birthday"), "anniversary", "birthday",
                   sensitive="customer.birthday"))
register(FieldSpec("region", _("Region"), "choice", "region", choices=_regions))
register(FieldSpec("province", _("Province"), "text", "province"))
register(FieldSpec("city", _("City"), "text", "city"))
register(FieldSpec("district", _("District (any address)"), "district", "addresses__district",
                   sensitive="customer.district"))
register(FieldSpec("owner", _("Owner"), "user", "owner"))
register(FieldSpec("team", _("Team"), "team", "team"))
register(FieldSpec("lifecycle_stage", _("Lifecycle stage"), "choice", "lifecycle_stage",
                   choices=_customer_choices("LIFECYCLE_STAGES")))
register(FieldSpec("source", _("Source channel"), "text", "source"))
register(FieldSpec("industry", _("Industry"), "text", "industry"))
register(FieldSpec("preferred_channel", _("Preferred channel"), "choice", "preferred_channel",
                   choices=_customer_choices("CHANNELS")))
register(FieldSpec("tags", _("Tags"), "tags", "tag_links__tag__name"))
register(FieldSpec("mobile", _("Mobile"), "presence", "primary_mobile",
                   sensitive="customer.mobile"))
register(FieldSpec("email", _("Email"), "presence", "primary_email",
                   sensitive="customer.email"))
register(FieldSpec("quality_score", _("Data quality score"), "number", "quality_score"))
register(FieldSpec("created_at", _("Created"), "datetime", "created_at"))
register(FieldSpec("last_activity_at", _("Last activity"), "datetime", "last_activity_at"))


def _scoring_choices(name: str):
    def choices():
        from kehu.scoring import models as scoring

        return [(k, str(v)) for k, v in getattr(scoring, name)]
    return choices


# Value layer (kehu.scoring's CustomerValue, reached as related_name "value").
_VALUE = _("Value (RFM)")
register(FieldSpec("rfm_segment", _("RFM segment"), "choice", "value__rfm_segment",
                   choices=_scoring_choices("RFM_SEGMENTS"), group=_VALUE))
register(FieldSpec("value_tier", _("Value tier"), "choice", "value__value_tier",
                   choices=_scoring_choices("VALUE_TIERS"), group=_VALUE))
for _key, _label in (("r_score", _("R score")), ("f_score", _("F score")),
                     ("m_score", _("M score")), ("recency_days", _("Days since last purchase")),
                     ("frequency", _("Purchases in the RFM window")),
                     ("monetary", _("Spend in the RFM window (CNY)"))):
    register(FieldSpec(_key, _label, "number", f"value__{_key}", group=_VALUE))
register(FieldSpec("scored_at", _("RFM scored"), "datetime", "value__scored_at", group=_VALUE))

# Predictions (kehu.prediction's CustomerPrediction, reached as related_name "prediction").
_PREDICTION = _("Prediction")
register(FieldSpec("p_alive", _("P(alive) (0-1)"), "number", "prediction__p_alive",
                   group=_PREDICTION))
register(FieldSpec("clv_12m", _("12-month CLV (CNY)"), "number", "prediction__clv_12m",
                   group=_PREDICTION))
register(FieldSpec("expected_purchases_90d", _("Expected purchases (90 days)"), "number",
                   "prediction__expected_purchases_90d", group=_PREDICTION))

CUSTOM_KINDS = {"text": "text", "url": "text", "choice": "choice", "user": "user",
                "number": "number", "date": "custom_date", "boolean": "boolean",
                "multi_choice": "multi_choice"}


def custom_spec(definition) -> FieldSpec:
    """The spec of a custom field (`custom.<key>`), from its definition row."""
    choices = None
    if definition.field_type in ("choice", "multi_choice"):
        values = [(str(c.get("value", c)) if isinstance(c, dict) else str(c)) for c in
                  definition.choices or []]

        def choices():
            return [(v, v) for v in values]
    return FieldSpec(f"custom.{definition.key}", definition.label,
                     CUSTOM_KINDS.get(definition.field_type, "text"),
                     f"custom__{definition.key}", choices=choices,
                     group=pgettext_lazy("segment field group", "Custom fields"))


def _insights_choices(name: str):
    def choices():
        if name == "signals":
            from kehu.insights.signals import signal_choices

            return signal_choices()
        from kehu.insights.models import CHURN_LEVELS

        return [(k, str(v)) for k, v in CHURN_LEVELS]
    return choices


# Insights (kehu.insights' CustomerChurn as "churn", CustomerSignals as "signal_set").
_INSIGHTS = _("Churn and signals")
register(FieldSpec("churn_risk", _("Churn risk (0–1)"), "number", "churn__churn_risk",
                   group=_INSIGHTS))
register(FieldSpec("churn_level", _("Churn risk level"), "choice", "churn__level",
                   choices=_insights_choices("levels"), group=_INSIGHTS))
register(FieldSpec("purchase_signal", _("Purchase signal"), "multi_choice",
                   "signal_set__kinds", choices=_insights_choices("signals"), group=_INSIGHTS))
