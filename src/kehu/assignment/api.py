"""API of lead assignment: rules (CRUD, reorder, preview), applying them, book transfers.
Thin handlers over the services and selectors; docs/assignment.md is the reference."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Router, Schema, Status

from kehu.accounts import selectors as account_selectors
from kehu.assignment import selectors, services
from kehu.assignment.models import AssignmentRule
from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Flag, Id, Input

router = Router(tags=["assignment"])

MAX_IDS = 5000


class AssignmentRuleIn(Input):
    name: str = Field(..., max_length=80)
    description: str = Field("", max_length=200)
    condition: dict[str, Any] = Field(default_factory=dict,
                                      description="A segment definition (docs/segments.md); "
                                                  "empty matches everyone.")
    team: Id | None = None
    method: Literal["round_robin", "least_loaded", "fixed"] = "round_robin"
    fixed_user: Id | None = None
    capacity: int | None = Field(None, ge=1, le=100_000)
    priority: int | None = Field(None, ge=0, le=1_000_000)
    is_active: Flag = True


class AssignmentRuleOut(Schema):
    id: int
    name: str
    description: str
    condition: dict[str, Any]
    team: dict[str, Any] | None
    method: str
    fixed_user: dict[str, Any] | None
    capacity: int | None
    priority: int
    is_active: bool
    created_at: datetime
    updated_at: datetime


class DecisionOut(Schema):
    customer_id: int
    rule_id: int | None
    rule: str
    team_id: int | None
    team: str
    user_id: int | None
    user: str
    method: str
    reason: str
    open_items: int | None
    explanation: str


class PreviewIn(Input):
    customer_ids: list[Id] | None = Field(None, max_length=MAX_IDS)


class AssignmentPreviewOut(Schema):
    matches: int
    decisions: list[DecisionOut]


class ApplyIn(Input):
    customer_ids: list[Id] = Field(..., min_length=1, max_length=MAX_IDS)
    rule_id: Id | None = None


class ReorderIn(Input):
    ids: list[Id] = Field(..., min_length=1, max_length=1000)


class TransferIn(Input):
    from_user: Id
    to_user: Id
    filters: str = Field("", max_length=2000,
                         description="A customers-list query string, e.g. region=华东&lifecycle=lead")
    preview: Flag = False


class TransferOut(Schema):
    id: int | None
    status: str
    customers: int
    tasks: int
    job_id: int | None


def _out(rule: AssignmentRule) -> dict[str, Any]:
    return {"id": rule.pk, "name": rule.name, "description": rule.description,
            "condition": rule.condition or {}, "method": rule.method,
            "team": {"id": rule.team.pk, "name": rule.team.name} if rule.team_id else None,
            "fixed_user": {"id": rule.fixed_user.pk, "name": str(rule.fixed_user)}
            if rule.fixed_user_id else None,
            "capacity": rule.capacity, "priority": rule.priority, "is_active": rule.is_active,
            "created_at": rule.created_at, "updated_at": rule.updated_at}


def _save(request, payload: AssignmentRuleIn, rule: AssignmentRule | None = None) -> AssignmentRule:
    user = request.user
    team = account_selectors.team_get(user=user, team_id=payload.team) if payload.team else None
    fixed = (account_selectors.user_get(user=user, user_id=payload.fixed_user)
             if payload.fixed_user else None)
    return services.assignment_rule_save(
        actor=actor_of(request), rule=rule, name=payload.name, description=payload.description,
        condition=payload.condition, team=team, method=payload.method, fixed_user=fixed,
        capacity=payload.capacity, priority=payload.priority, is_active=payload.is_active)


@router.get("/assignment-rules", response={200: list[AssignmentRuleOut], **ERROR_RESPONSES},
            summary="List assignment rules in priority order")
def list_rules(request):
    return [_out(r) for r in selectors.assignment_rule_list(user=request.user)]


@router.post("/assignment-rules", response={201: AssignmentRuleOut, **ERROR_RESPONSES},
             summary="Create an assignment rule")
def create_rule(request, payload: AssignmentRuleIn):
    rule = _save(request, payload)
    return Status(201, _out(selectors.assignment_rule_get(user=request.user, rule_id=rule.pk)))


@router.post("/assignment-rules/reorder", response={200: list[AssignmentRuleOut], **ERROR_RESPONSES},
             summary="Set the rules' priorities in the given order")
def reorder_rules(request, payload: ReorderIn):
    services.assignment_rules_reorder(actor=actor_of(request), rule_ids=payload.ids)
    return [_out(r) for r in selectors.assignment_rule_list(user=request.user)]


@router.post("/assignment-rules/apply", response={200: list[DecisionOut], **ERROR_RESPONSES},
             summary="Assign customers now (first matching active rule, or the rule given)")
def apply_rules(request, payload: ApplyIn):
    decisions = services.assignment_apply(actor=actor_of(request),
                                          customer_ids=payload.customer_ids,
                                          rule_id=payload.rule_id)
    return [d.as_dict() for d in decisions]


@router.get("/assignment-rules/{rule_id}", response={200: AssignmentRuleOut, **ERROR_RESPONSES},
            summary="Read an assignment rule")
def get_rule(request, rule_id: Id):
    return _out(selectors.assignment_rule_get(user=request.user, rule_id=rule_id))


@router.put("/assignment-rules/{rule_id}", response={200: AssignmentRuleOut, **ERROR_RESPONSES},
            summary="Replace an assignment rule")
def update_rule(request, rule_id: Id, payload: AssignmentRuleIn):
    rule = selectors.assignment_rule_get(user=request.user, rule_id=rule_id)
    _save(request, payload, rule)
    return _out(selectors.assignment_rule_get(user=request.user, rule_id=rule_id))


@router.delete("/assignment-rules/{rule_id}", response={204: None, **ERROR_RESPONSES},
               summary="Delete an assignment rule")
def delete_rule(request, rule_id: Id):
    rule = selectors.assignment_rule_get(user=request.user, rule_id=rule_id)
    services.assignment_rule_delete(actor=actor_of(request), rule=rule)
    return Status(204, None)


@router.post("/assignment-rules/{rule_id}/preview", response={200: AssignmentPreviewOut, **ERROR_RESPONSES},
             summary="Dry run: what the rule would decide, writing nothing")
def preview_rule(request, rule_id: Id, payload: PreviewIn):
    """With `customer_ids`, those customers; without, the customers in the caller's scope the
    rule's condition matches (`matches` counts them; `decisions` covers the first 20)."""
    rule = selectors.assignment_rule_get(user=request.user, rule_id=rule_id)
    if payload.customer_ids:
        ids, matches = list(payload.customer_ids), len(set(payload.customer_ids))
    else:
        matches, ids = selectors.rule_matching_ids(user=request.user, rule=rule, limit=20)
    decisions = services.assignment_preview(actor=actor_of(request), customer_ids=ids,
                                            rule_id=rule.pk) if ids else []
    return {"matches": matches, "decisions": [d.as_dict() for d in decisions]}


@router.post("/book-transfers", response={200: TransferOut, 201: TransferOut, **ERROR_RESPONSES},
             summary="Transfer a user's customers (all or filtered) and open tasks to another")
def book_transfer(request, payload: TransferIn):
    """`preview: true` only counts; otherwise the transfer runs at once (201, status done) or,
    for more than 500 customers, as a background job (201, status queued, `job_id`)."""
    user = request.user
    from_user = account_selectors.user_get(user=user, user_id=payload.from_user)
    to_user = account_selectors.user_get(user=user, user_id=payload.to_user)
    if payload.preview:
        counts = selectors.book_transfer_preview(user=user, from_user=from_user,
                                                 filters=payload.filters)
        return Status(200, {"id": None, "status": "preview", "job_id": None, **counts})
    transfer = services.book_transfer_create(actor=actor_of(request), from_user=from_user,
                                             to_user=to_user, filters=payload.filters)
    return Status(201, {"id": transfer.pk, "status": transfer.status,
                        "customers": transfer.customers_moved if transfer.status == "done"
                        else transfer.expected, "tasks": transfer.tasks_moved,
                        "job_id": transfer.job_id})
