"""The form designer's reads: which fields a layout may place, the default layout (today's
form), the layout a viewer gets (their role's, else the default one, else the built-in), and
the field behaviour in force for them on a record. docs/forms.md.

Layouts and behaviour rules name fields by the customer field catalogue's keys
(kehu.customers.fields) and custom fields as "custom.<key>".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from kehu.customers import fields as catalogue
from kehu.customers import planning
from kehu.customers.models import Customer, CustomFieldDefinition, FormLayout

# The fields of the customer form, in the order of the built-in layout (today's form).
FORM_FIELDS = ("name", "gender", "birthday", "title", "company", "id_number", "uscc",
               "industry", "company_size", "revenue_band", "website", "mobile", "email",
               "wechat", "address", "lifecycle_stage", "source", "preferred_channel", "owner",
               "notes")
# Fields a behaviour rule may make required, read-only or hidden (the owner is governed by
# customer.assign) and the extra ones a condition may read.
BEHAVIOUR_FIELDS = tuple(f for f in FORM_FIELDS if f != "owner")
CONDITION_EXTRA = ("kind", "province", "city")
WIDTHS = ("full", "half", "third")
WIDTH_LABELS = [("full", _lazy("Full width")), ("half", _lazy("Half")), ("third", _lazy("Third"))]
MAX_SECTIONS = 20
TITLE_MAX = 60
DEFAULT_KEY = "default"


def layout_key(role) -> str:
    return DEFAULT_KEY if role is None else f"role:{role.pk}"


def field_labels(definitions: Iterable[CustomFieldDefinition] | None = None) -> dict[str, str]:
    """Every field a layout may place: key -> label (custom fields as "custom.<key>")."""
    if definitions is None:
        definitions = CustomFieldDefinition.objects.filter(is_active=True)
    labels = {key: catalogue.label(key) for key in FORM_FIELDS}
    labels["wechat"] = str(_("WeChat ID"))
    for d in definitions:
        labels[f"custom.{d.key}"] = d.label
    return labels


def default_sections(definitions: Iterable[CustomFieldDefinition]) -> list[dict[str, Any]]:
    """The built-in layout: today's form, then the custom fields."""
    custom = [{"field": f"custom.{d.key}", "width": "half"} for d in definitions]
    sections = [{"title": "", "fields": [{"field": key, "width": "full" if key == "notes"
                                          else "half"} for key in FORM_FIELDS]}]
    if custom:
        sections.append({"title": str(_("Custom fields")), "fields": custom})
    return sections


def sections_validate(sections: Any, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """A layout's sections normalised, or ValidationFailed naming the bad part."""
    from kehu.core.errors import ValidationFailed

    errors: dict[str, list[str]] = {}
    if not isinstance(sections, list) or not sections:
        raise ValidationFailed(details={"sections": [_("Give at least one section.")]})
    if len(sections) > MAX_SECTIONS:
        raise ValidationFailed(details={"sections": [
            _("At most %(n)d sections.") % {"n": MAX_SECTIONS}]})
    seen: set[str] = set()
    out = []
    for i, section in enumerate(sections):
        path = f"sections[{i}]"
        if not isinstance(section, dict) or set(section) - {"title", "fields"}:
            errors[path] = [_("A section has a title and fields.")]
            continue
        title = str(section.get("title") or "").strip()
        if len(title) > TITLE_MAX:
            errors[f"{path}.title"] = [_("At most %(n)d characters.") % {"n": TITLE_MAX}]
        placed = []
        for j, item in enumerate(section.get("fields") or []):
            where = f"{path}.fields[{j}]"
            name = item.get("field") if isinstance(item, dict) else None
            width = item.get("width", "half") if isinstance(item, dict) else None
            if name not in labels:
                errors[where] = [_("Unknown field: %s") % name]
            elif name in seen:
                errors[where] = [_("%s is placed twice.") % labels[name]]
            elif width not in WIDTHS:
                errors[f"{where}.width"] = [_("Choose full, half or third.")]
            else:
                seen.add(name)
                placed.append({"field": name, "width": width})
        out.append({"title": title, "fields": placed})
    if errors:
        raise ValidationFailed(details=errors)
    return out


def stored_layout(role) -> FormLayout | None:
    """The layout row for a role, else the default row (None: the built-in layout)."""
    keys = [layout_key(role), DEFAULT_KEY] if role is not None else [DEFAULT_KEY]
    rows = {row.key: row for row in FormLayout.objects.filter(key__in=keys)}
    return next((rows[k] for k in keys if k in rows), None)


def layout_sections(*, role, definitions: list[CustomFieldDefinition]) -> list[dict[str, Any]]:
    """The sections a viewer with this role gets, every field placed once: fields the layout
    does not name (a custom field added since) go at the end of its last section."""
    labels = field_labels(definitions)
    row = stored_layout(role)
    sections = [dict(s, fields=[f for f in s.get("fields", []) if f.get("field") in labels])
                for s in (row.sections if row is not None else default_sections(definitions))]
    placed = {f["field"] for s in sections for f in s["fields"]}
    missing = [{"field": key, "width": "half"} for key in labels if key not in placed]
    if missing:
        if sections:
            sections[-1]["fields"].extend(missing)
        else:
            sections.append({"title": "", "fields": missing})
    return sections


@dataclass
class FieldState:
    """What the viewer may do with each field on one record."""

    hidden: set[str] = field(default_factory=set)
    readonly: set[str] = field(default_factory=set)
    required: set[str] = field(default_factory=set)


def role_code(user) -> str | None:
    return user.role.code if user is not None and getattr(user, "role_id", None) else None


def field_state(*, user, kind: str, customer: Customer | None = None,
                rules: planning.Rules | None = None) -> FieldState:
    """The behaviour in force for this viewer on this record (a new one: its kind only), as
    the write path will judge it."""
    rules = rules or planning.Rules(behaviour=planning.behaviour_rules())
    state = FieldState()
    if not rules.behaviour:
        return state
    if customer is None:
        values = planning.behaviour_values(kind, {"lifecycle_stage": "lead"})
    else:
        values = planning.behaviour_values(kind, planning.rule_values(
            columns={name: getattr(customer, name) for name in planning.COLUMN_FIELDS},
            mobile=customer.primary_mobile or "", email=customer.primary_email or "",
            wechat="", id_number=customer.id_number_masked, province=customer.province,
            city=customer.city, custom=customer.custom or {}))
    for name, effects in planning.behaviour_state(rules, kind, role_code(user), values).items():
        if planning.HIDDEN in effects:
            state.hidden.add(name)
        elif planning.READONLY in effects:
            state.readonly.add(name)
        if planning.REQUIRED in effects:
            state.required.add(name)
    return state


def hidden_everywhere(role: str | None) -> set[str]:
    """The fields the form designer hides for this role on every record (an active "hidden"
    rule for the role, or for everyone, without a condition), as access policy names
    ("customer.industry", "customer.custom.<key>"). The AccessPolicy hides them everywhere:
    list, API, exports, filters, sorts. A conditional rule depends on the record and only
    shapes the form and the card, and so does hiding the name, which names the record in
    every list (docs/forms.md)."""
    return {f"customer.{rule.field}" for rule in planning.behaviour_rules()
            if rule.effect == planning.HIDDEN and rule.concerns(role) and rule.field != "name"
            and not (rule.condition or {}).get("conditions")}


def condition_validate(condition: Any, labels: Mapping[str, str]) -> dict[str, Any]:
    """A behaviour condition normalised: {"match": "all"|"any", "conditions": [{"field",
    "op", "value"}]}, or ValidationFailed naming the bad test."""
    from kehu.core.errors import ValidationFailed

    if condition in (None, "", {}):
        return {"match": "all", "conditions": []}
    if not isinstance(condition, dict) or set(condition) - {"match", "conditions", "type"}:
        raise ValidationFailed(details={"condition": [
            _("A condition is {\"match\": \"all\", \"conditions\": [...]}.")]})
    match = condition.get("match", "all")
    errors: dict[str, list[str]] = {}
    if match not in ("all", "any"):
        errors["condition.match"] = [_("Choose all or any.")]
    tests = []
    for i, test in enumerate(condition.get("conditions") or []):
        path = f"condition.conditions[{i}]"
        if not isinstance(test, dict):
            errors[path] = [_("A test has a field, an operator and a value.")]
            continue
        name, op = test.get("field"), test.get("op", "eq")
        if name not in labels and name not in CONDITION_EXTRA:
            errors[f"{path}.field"] = [_("Unknown field: %s") % name]
        if op not in planning.CONDITION_OPS:
            errors[f"{path}.op"] = [_("Unknown operator: %s") % op]
        item = {"field": name, "op": op}
        if op not in ("is_set", "is_not_set"):
            value = test.get("value", "")
            if op in ("in", "not_in") and isinstance(value, str):
                value = [v.strip() for v in value.replace("，", ",").split(",") if v.strip()]
            item["value"] = value
        tests.append(item)
    if len(tests) > 20:
        errors["condition.conditions"] = [_("At most 20 tests.")]
    if errors:
        raise ValidationFailed(details=errors)
    return {"match": match, "conditions": tests}


def form_options(*, user, kind: str, definitions, customer: Customer | None = None
                 ) -> dict[str, Any]:
    """The CustomerForm keywords that make it render by the viewer's layout and behaviour."""
    definitions = list(definitions)
    role = user.role if getattr(user, "role_id", None) else None
    return {"layout": layout_sections(role=role, definitions=definitions),
            "state": field_state(user=user, kind=kind, customer=customer)}


def behaviour_rule_list(*, user):
    """Every field behaviour rule (the designer page; needs form.design)."""
    from kehu.customers.models import FieldBehaviour

    user.access.require("form.design")
    return FieldBehaviour.objects.order_by("field", "id")


def behaviour_rule_get(*, user, rule_id: int):
    from kehu.core.errors import NotFound

    rule = behaviour_rule_list(user=user).filter(pk=rule_id).first()
    if rule is None:
        raise NotFound()
    return rule


def layout_is_stored(role) -> bool:
    """Whether this role (None: the default) has a layout of its own."""
    return FormLayout.objects.filter(key=layout_key(role)).exists()
