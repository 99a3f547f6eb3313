"""API of the form designer: layouts per role and field rules (docs/forms.md). Thin."""

from __future__ import annotations

from typing import Any, Literal

from ninja import Field, Router, Schema, Status

from kehu.accounts import selectors as account_selectors
from kehu.accounts.models import Role
from kehu.core.errors import NotFound
from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Flag, Id, Input
from kehu.customers import layouts, selectors, services

router = Router(tags=["form designer"])


class LayoutIn(Input):
    sections: list[dict[str, Any]] = Field(..., max_length=layouts.MAX_SECTIONS)


class LayoutOut(Schema):
    role: str = Field(..., description="A role code, or `default`")
    stored: bool = Field(..., description="False: the role gets the default (or built-in) one")
    sections: list[dict[str, Any]]


class FieldRuleIn(Input):
    field: str = Field(..., max_length=60)
    effect: Literal["required", "readonly", "hidden"]
    condition: dict[str, Any] = Field(default_factory=dict)
    roles: list[str] = Field(default_factory=list, max_length=50)
    is_active: Flag = True


class FieldRuleOut(Schema):
    id: int
    field: str
    effect: str
    condition: dict[str, Any]
    roles: list[str]
    is_active: bool


def _role(request, code: str) -> Role | None:
    request.user.access.require("form.design")
    if code == layouts.DEFAULT_KEY:
        return None
    role = account_selectors.role_list(user=request.user).filter(code=code).first()
    if role is None:
        raise NotFound()
    return role


def _layout(request, role: Role | None) -> dict[str, Any]:
    definitions = list(selectors.custom_field_list(user=request.user))
    return {"role": role.code if role else layouts.DEFAULT_KEY,
            "stored": layouts.layout_is_stored(role),
            "sections": layouts.layout_sections(role=role, definitions=definitions)}


def _rule_out(rule) -> dict[str, Any]:
    return {"id": rule.pk, "field": rule.field, "effect": rule.effect,
            "condition": rule.condition or {}, "roles": rule.roles or [],
            "is_active": rule.is_active}


@router.get("/form-layouts/{role}", response={200: LayoutOut, **ERROR_RESPONSES},
            summary="The layout a role gets (`default`: the default layout)")
def get_layout(request, role: str):
    return _layout(request, _role(request, role))


@router.put("/form-layouts/{role}", response={200: LayoutOut, **ERROR_RESPONSES},
            summary="Lay out the customer form and card for a role")
def put_layout(request, role: str, payload: LayoutIn):
    found = _role(request, role)
    services.form_layout_save(actor=actor_of(request), role=found, sections=payload.sections)
    return _layout(request, found)


@router.delete("/form-layouts/{role}", response={204: None, **ERROR_RESPONSES},
               summary="Drop a role's layout (it gets the default one again)")
def delete_layout(request, role: str):
    services.form_layout_reset(actor=actor_of(request), role=_role(request, role))
    return Status(204, None)


@router.get("/field-rules", response={200: list[FieldRuleOut], **ERROR_RESPONSES},
            summary="Field rules (required / read-only / hidden when …)")
def list_field_rules(request):
    return [_rule_out(r) for r in layouts.behaviour_rule_list(user=request.user)]


@router.post("/field-rules", response={201: FieldRuleOut, **ERROR_RESPONSES},
             summary="Add a field rule")
def create_field_rule(request, payload: FieldRuleIn):
    request.user.access.require("form.design")
    rule = services.field_behaviour_save(
        actor=actor_of(request), field=payload.field, effect=payload.effect,
        condition=payload.condition, roles=payload.roles, is_active=payload.is_active)
    return Status(201, _rule_out(rule))


@router.delete("/field-rules/{rule_id}", response={204: None, **ERROR_RESPONSES},
               summary="Delete a field rule")
def delete_field_rule(request, rule_id: Id):
    rule = layouts.behaviour_rule_get(user=request.user, rule_id=rule_id)
    services.field_behaviour_delete(actor=actor_of(request), rule=rule)
    return Status(204, None)
