"""The form designer's writes: per-role layouts of the customer form and card, and field
behaviour rules. Each needs form.design, is validated against the field catalogue, audited
and emits its event (docs/forms.md)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from kehu.accounts.models import Role
from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import record_change
from kehu.customers import layouts
from kehu.customers.models import FieldBehaviour, FormLayout


def form_layout_save(*, actor: Actor, role: Role | None, sections: Any) -> FormLayout:
    """Lay out the customer form and card for a role (None: the default layout)."""
    actor.require("form.design")
    clean = layouts.sections_validate(sections, layouts.field_labels())
    key = layouts.layout_key(role)
    with transaction.atomic():
        row = FormLayout.objects.select_for_update().filter(key=key).first()
        before = {"sections": row.sections} if row is not None else {}
        if row is None:
            row = FormLayout(key=key, role=role)
        row.sections, row.updated_by = clean, actor.user
        row.save()
        record_change(actor=actor, action="formlayout.save", event="formlayout.saved",
                      object_type="formlayout", object_id=row.pk,
                      object_repr=role.code if role is not None else layouts.DEFAULT_KEY,
                      changes=diff(before, {"sections": clean}))
    return row


def form_layout_reset(*, actor: Actor, role: Role | None) -> None:
    """Drop a role's layout (it gets the default one again; the default: the built-in)."""
    actor.require("form.design")
    with transaction.atomic():
        row = FormLayout.objects.select_for_update().filter(key=layouts.layout_key(role)).first()
        if row is None:
            return
        pk, sections = row.pk, row.sections
        row.delete()
        record_change(actor=actor, action="formlayout.delete", event="formlayout.deleted",
                      object_type="formlayout", object_id=pk,
                      object_repr=role.code if role is not None else layouts.DEFAULT_KEY,
                      changes={"sections": {"before": sections, "after": None}})


def _behaviour_state(rule: FieldBehaviour) -> dict[str, Any]:
    return {"field": rule.field, "effect": rule.effect, "condition": rule.condition,
            "roles": rule.roles, "is_active": rule.is_active}


def field_behaviour_save(*, actor: Actor, rule: FieldBehaviour | None = None, field: str,
                         effect: str, condition: Any = None, roles: list[str] | None = None,
                         is_active: bool = True) -> FieldBehaviour:
    """Create (rule=None) or replace a field behaviour rule: `field` becomes `effect`
    (required / readonly / hidden) for `roles` (empty: everyone) when `condition` holds."""
    actor.require("form.design")
    labels = layouts.field_labels()
    errors: dict[str, list[str]] = {}
    if field not in labels or field not in (*layouts.BEHAVIOUR_FIELDS, *(
            k for k in labels if k.startswith("custom."))):
        errors["field"] = [_("Unknown field: %s") % field]
    if effect not in dict(FieldBehaviour.EFFECTS):
        errors["effect"] = [_("Choose required, read-only or hidden.")]
    roles = sorted({str(r) for r in roles or []})
    known = set(Role.objects.filter(code__in=roles).values_list("code", flat=True))
    if set(roles) - known:
        errors["roles"] = [_("Unknown role: %s") % ", ".join(sorted(set(roles) - known))]
    try:
        condition = layouts.condition_validate(condition, labels)
    except ValidationFailed as exc:
        errors.update(exc.details)
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        if rule is not None:
            rule = FieldBehaviour.objects.select_for_update().filter(pk=rule.pk).first()
            if rule is None:
                raise NotFound()
            before = _behaviour_state(rule)
        else:
            rule, before = FieldBehaviour(), {}
        rule.field, rule.effect, rule.condition = field, effect, condition
        rule.roles, rule.is_active = roles, bool(is_active)
        rule.save()
        record_change(actor=actor, action="fieldbehaviour.save", event="fieldbehaviour.saved",
                      object_type="fieldbehaviour", object_id=rule.pk,
                      object_repr=f"{field} {effect}",
                      changes=diff(before, _behaviour_state(rule)))
    return rule


def field_behaviour_delete(*, actor: Actor, rule: FieldBehaviour) -> None:
    actor.require("form.design")
    with transaction.atomic():
        state, pk = _behaviour_state(rule), rule.pk
        rule.delete()
        record_change(actor=actor, action="fieldbehaviour.delete",
                      event="fieldbehaviour.deleted", object_type="fieldbehaviour",
                      object_id=pk, object_repr=f"{state['field']} {state['effect']}",
                      changes=diff(state, {}))
