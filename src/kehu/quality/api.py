"""API: a customer's quality score, the steward's summary, field rules and scoring settings.
Thin: schemas in, services and selectors, schemas out."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from ninja import Field, Router, Schema, Status

from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.models import FieldRule
from kehu.core.schemas import Days, Flag, Id, Input, Weight
from kehu.quality import selectors, services

router = Router(tags=["quality"])

RuleKind = Literal[tuple(code for code, _label in FieldRule.CHECKS)]  # type: ignore
Applies = Literal[tuple(code for code, _label in FieldRule.APPLIES)]  # type: ignore


class PartOut(Schema):
    key: str
    label: str
    score: int


class FieldRefOut(Schema):
    field: str
    label: str


class QualityOut(Schema):
    customer_id: int
    score: int | None = None
    parts: list[PartOut] = []
    missing: list[FieldRefOut] = []
    invalid: list[FieldRefOut] = []
    age_days: int | None = None
    pending_duplicates: int | None = None
    computed_at: dt.datetime | None = None
    outdated: bool = False


class FieldFigureOut(Schema):
    field: str
    label: str
    count: int
    total: int
    percent: float
    missing: int = 0


class SummaryOut(Schema):
    customers: int
    scored: int
    average_score: float | None
    bands: dict[str, int]
    completeness: list[FieldFigureOut]
    invalid: list[FieldFigureOut]
    stale_days: int
    stale_customers: int
    pending_duplicates: int | None
    trend: list[dict[str, Any]]


class QualityRuleOut(Schema):
    id: int
    field: str
    rule: str
    applies_to: str
    pattern: str
    min_value: str
    max_value: str
    allowed_values: list[str]
    message: str
    is_active: bool


class QualityRuleIn(Input):
    field: str = Field(..., description="A customer field key (`email`, `custom.level` …)")
    rule: RuleKind
    applies_to: Applies = "both"
    pattern: str = Field("", description="Regular expression the whole value must match")
    min_value: str = Field("", description="Number or date (YYYY-MM-DD)")
    max_value: str = Field("", description="Number or date (YYYY-MM-DD)")
    allowed_values: list[str] = []
    message: str = Field("", max_length=200, description="Own error message; %(field)s "
                                                         "is replaced by the field's label")
    is_active: Flag = True


class RulePatch(Input):
    field: str | None = None
    rule: RuleKind | None = None
    applies_to: Applies | None = None
    pattern: str | None = None
    min_value: str | None = None
    max_value: str | None = None
    allowed_values: list[str] | None = None
    message: str | None = Field(None, max_length=200)
    is_active: Flag | None = None


class SettingsOut(Schema):
    completeness_weights: dict[str, dict[str, int]]
    component_weights: dict[str, int]
    fresh_days: int
    expired_days: int
    stale_days: int


class SettingsIn(Input):
    completeness_weights: dict[str, dict[str, Weight]] | None = None
    component_weights: dict[str, Weight] | None = None
    fresh_days: Days | None = None
    expired_days: Days | None = None
    stale_days: Days | None = None


class RecomputeOut(Schema):
    customers: int
    removed: int
    seconds: float


@router.get("/customers/{customer_id}/quality", response={200: QualityOut, **ERROR_RESPONSES},
            summary="A customer's data-quality score and its breakdown")
def customer_quality(request, customer_id: Id):
    found = selectors.customer_quality_by_id(user=request.user, customer_id=customer_id)
    if found is None:
        return QualityOut(customer_id=customer_id)
    return QualityOut(customer_id=customer_id, **found.__dict__)


@router.get("/quality/summary", response={200: SummaryOut, **ERROR_RESPONSES},
            summary="Data-quality figures over the customers the caller sees")
def summary(request):
    return selectors.quality_summary(user=request.user).__dict__


@router.get("/quality/rules", response={200: list[QualityRuleOut], **ERROR_RESPONSES},
            summary="List field validation rules")
def list_rules(request):
    return selectors.field_rule_list(user=request.user)


@router.post("/quality/rules", response={201: QualityRuleOut, **ERROR_RESPONSES},
             summary="Add a field validation rule")
def create_rule(request, payload: QualityRuleIn):
    rule = services.field_rule_create(actor=actor_of(request), **payload.dict())
    return Status(201, rule)


@router.get("/quality/rules/{rule_id}", response={200: QualityRuleOut, **ERROR_RESPONSES},
            summary="One field validation rule")
def get_rule(request, rule_id: Id):
    return selectors.field_rule_get(user=request.user, rule_id=rule_id)


@router.patch("/quality/rules/{rule_id}", response={200: QualityRuleOut, **ERROR_RESPONSES},
              summary="Change a field validation rule")
def update_rule(request, rule_id: Id, payload: RulePatch):
    rule = selectors.field_rule_get(user=request.user, rule_id=rule_id)
    return services.field_rule_update(actor=actor_of(request), rule=rule,
                                      **payload.dict(exclude_none=True))


@router.delete("/quality/rules/{rule_id}", response={204: None, **ERROR_RESPONSES},
               summary="Remove a field validation rule")
def delete_rule(request, rule_id: Id):
    rule = selectors.field_rule_get(user=request.user, rule_id=rule_id)
    services.field_rule_delete(actor=actor_of(request), rule=rule)
    return Status(204, None)


@router.get("/quality/settings", response={200: SettingsOut, **ERROR_RESPONSES},
            summary="Quality scoring settings")
def get_settings(request):
    _row, config = selectors.quality_settings_get(user=request.user)
    return SettingsOut(completeness_weights=config.completeness_weights,
                       component_weights=config.component_weights,
                       fresh_days=config.fresh_days, expired_days=config.expired_days,
                       stale_days=config.stale_days)


@router.patch("/quality/settings", response={200: SettingsOut, **ERROR_RESPONSES},
              summary="Change quality scoring settings")
def update_settings(request, payload: SettingsIn):
    services.quality_settings_update(actor=actor_of(request), **payload.dict(exclude_none=True))
    return get_settings(request)


@router.post("/quality/recompute", response={200: RecomputeOut, **ERROR_RESPONSES},
             summary="Recompute stored quality scores now")
def recompute(request, changed_only: Flag = False):
    return services.quality_recompute(actor=actor_of(request), only_dirty=changed_only).__dict__
