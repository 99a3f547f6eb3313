"""API of automation rules: CRUD, activation, pause, dry run and the run log.

A rule is `{"name", "trigger", "conditions", "actions"}`: the trigger and actions in the
shapes of docs/automation.md, the conditions a segment definition (docs/segments.md). Invalid
input answers 422 naming each bad path (`trigger.days`, `actions[1].title`,
`conditions.conditions[0].value`). Needs `rule.manage`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Query, Router, Schema, Status

from kehu.automation import selectors, services, triggers
from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Flag, Id, Input, Limit
from kehu.customers.api import CustomerRowOut

router = Router(tags=["automation"])


class RuleIn(Input):
    name: str = Field(..., max_length=80)
    description: str = Field("", max_length=2000)
    trigger: dict[str, Any] = Field(..., description="e.g. {\"kind\": \"no_interaction\", "
                                                     "\"days\": 30}; see docs/automation.md.")
    conditions: dict[str, Any] | None = Field(None, description="A segment definition.")
    actions: list[dict[str, Any]] = Field(..., max_length=10)
    max_runs_per_hour: int = Field(1000, ge=1, le=services.MAX_PER_HOUR)


class RuleOut(Schema):
    id: int
    name: str
    description: str
    trigger: dict[str, Any]
    trigger_label: str
    conditions: dict[str, Any]
    actions: list[dict[str, Any]]
    status: str
    paused_reason: str
    version: int
    max_runs_per_hour: int
    owner: dict[str, Any] | None
    template: str
    activated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ActivateIn(Input):
    backfill: Flag = Field(False, description="Also act on customers who qualify now.")


class ActivateOut(RuleOut):
    backfill_customers: int


class SampleOut(CustomerRowOut):
    why: list[str] = Field(..., description="Why this customer qualifies.")


class DryRunOut(Schema):
    would_fire: int = Field(..., description="Customers the rule would act on now.")
    visible: int = Field(..., description="Of them, in the caller's record scope.")
    trigger: str
    sample: list[SampleOut] = Field(..., description="Up to 10 the caller may see, "
                                                          "masked for them, each with `why`.")


class RunOut(Schema):
    id: int
    customer: dict[str, Any]
    status: str
    status_label: str
    trigger: str
    key: str
    version: int
    depth: int
    attempts: int
    error: str
    next_attempt_at: datetime | None
    created_at: datetime
    finished_at: datetime | None
    actions: list[dict[str, Any]]


class RunsQuery(Schema):
    status: str | None = Field(None, pattern="^(pending|done|retry|failed|skipped)$")
    limit: Limit = 50


def _out(rule) -> dict[str, Any]:
    return {"id": rule.pk, "name": rule.name, "description": rule.description,
            "trigger": rule.trigger, "trigger_label": triggers.describe(rule.trigger),
            "conditions": rule.conditions, "actions": rule.actions, "status": rule.status,
            "paused_reason": rule.paused_reason, "version": rule.version,
            "max_runs_per_hour": rule.max_runs_per_hour,
            "owner": {"id": rule.owner.pk, "name": str(rule.owner)} if rule.owner_id else None,
            "template": rule.template, "activated_at": rule.activated_at,
            "created_at": rule.created_at, "updated_at": rule.updated_at}


@router.get("/rules", response={200: list[RuleOut], **ERROR_RESPONSES}, summary="List rules")
def list_rules(request):
    return [_out(r) for r in selectors.rule_list(user=request.user)]


@router.post("/rules", response={201: RuleOut, **ERROR_RESPONSES},
             summary="Create a rule (a draft)")
def create_rule(request, payload: RuleIn):
    rule = services.rule_create(actor=actor_of(request), **payload.dict())
    return Status(201, _out(selectors.rule_get(user=request.user, rule_id=rule.pk)))


@router.get("/rules/{rule_id}", response={200: RuleOut, **ERROR_RESPONSES},
            summary="Read a rule")
def get_rule(request, rule_id: Id):
    return _out(selectors.rule_get(user=request.user, rule_id=rule_id))


@router.put("/rules/{rule_id}", response={200: RuleOut, **ERROR_RESPONSES},
            summary="Replace a rule (a new version)")
def update_rule(request, rule_id: Id, payload: RuleIn):
    rule = selectors.rule_get(user=request.user, rule_id=rule_id)
    services.rule_update(actor=actor_of(request), rule=rule, **payload.dict())
    return _out(selectors.rule_get(user=request.user, rule_id=rule_id))


@router.delete("/rules/{rule_id}", response={204: None, **ERROR_RESPONSES},
               summary="Delete a rule")
def delete_rule(request, rule_id: Id):
    rule = selectors.rule_get(user=request.user, rule_id=rule_id)
    services.rule_delete(actor=actor_of(request), rule=rule)
    return Status(204, None)


@router.post("/rules/{rule_id}/activate", response={200: ActivateOut, **ERROR_RESPONSES},
             summary="Turn a rule on (optionally backfilling)")
def activate_rule(request, rule_id: Id, payload: ActivateIn):
    rule = selectors.rule_get(user=request.user, rule_id=rule_id)
    rule, covered = services.rule_activate(actor=actor_of(request), rule=rule,
                                           backfill=payload.backfill)
    return {**_out(rule), "backfill_customers": covered}


@router.post("/rules/{rule_id}/pause", response={200: RuleOut, **ERROR_RESPONSES},
             summary="Pause a rule")
def pause_rule(request, rule_id: Id):
    rule = selectors.rule_get(user=request.user, rule_id=rule_id)
    return _out(services.rule_pause(actor=actor_of(request), rule=rule))


@router.post("/rules/{rule_id}/dry-run", response={200: DryRunOut, **ERROR_RESPONSES},
             summary="Who the rule would fire for now")
def dry_run(request, rule_id: Id):
    rule = selectors.rule_get(user=request.user, rule_id=rule_id)
    result = selectors.rule_dry_run(user=request.user, rule=rule)
    return {"would_fire": result.would_fire, "visible": result.visible,
            "trigger": result.trigger, "sample": result.sample}


@router.get("/rules/{rule_id}/runs", response={200: list[RunOut], **ERROR_RESPONSES},
            summary="The rule's run log, newest first")
def rule_runs(request, rule_id: Id, query: Query[RunsQuery]):
    rule = selectors.rule_get(user=request.user, rule_id=rule_id)
    return selectors.rule_runs(user=request.user, rule=rule, status=query.status,
                               limit=query.limit)
