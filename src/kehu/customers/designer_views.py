"""The form designer page: per-role layouts of the customer form and card (sections, order,
width by drag and drop) and field behaviour rules. Thin: layouts and services decide."""

from __future__ import annotations

import json

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from kehu.accounts import selectors as account_selectors
from kehu.core.actor import Actor
from kehu.core.errors import DomainError
from kehu.core.pages import requires
from kehu.customers import layouts, selectors, services
from kehu.customers.models import FieldBehaviour

OPS = [("eq", gettext_lazy("is")), ("ne", gettext_lazy("is not")),
       ("in", gettext_lazy("is one of")), ("not_in", gettext_lazy("is none of")),
       ("contains", gettext_lazy("contains")), ("is_set", gettext_lazy("is set")),
       ("is_not_set", gettext_lazy("is not set"))]
TESTS = 3


def _errors(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    return " ".join(f"{path}: {m}" for path, msgs in details.items()
                    if isinstance(msgs, list) for m in msgs) or str(exc.message)


def _value_text(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _role(request):
    role_id = request.GET.get("role") or request.POST.get("role") or ""
    if role_id.isdigit():
        return account_selectors.role_get(user=request.user, role_id=int(role_id))
    return None


def _back(role) -> str:
    url = reverse("customers:designer")
    return f"{url}?role={role.pk}" if role is not None else url


@requires("form.design")
def designer(request):
    role = _role(request)
    definitions = list(selectors.custom_field_list(user=request.user))
    labels = layouts.field_labels(definitions)
    stored = layouts.layout_is_stored(role)
    sections = layouts.layout_sections(role=role, definitions=definitions)
    for section in sections:
        for item in section["fields"]:
            item["label"] = labels.get(item["field"], item["field"])
    behaviour_fields = [(k, labels[k]) for k in labels
                        if k in layouts.BEHAVIOUR_FIELDS or k.startswith("custom.")]
    condition_fields = [("kind", _("Customer type")), *behaviour_fields,
                        ("province", _("Province")), ("city", _("City"))]
    rules = []
    field_names = dict(condition_fields)
    op_names = dict(OPS)
    for rule in layouts.behaviour_rule_list(user=request.user):
        tests = [" ".join(str(part) for part in (
            field_names.get(t.get("field"), t.get("field")), op_names.get(t.get("op"), t.get("op")),
            _value_text(t.get("value", ""))) if part != "").strip()
            for t in (rule.condition or {}).get("conditions", [])]
        joiner = _(" or ") if (rule.condition or {}).get("match") == "any" else _(" and ")
        rules.append({"rule": rule, "field": labels.get(rule.field, rule.field),
                      "when": joiner.join(tests) or _("always"),
                      "roles": ", ".join(rule.roles) or _("everyone")})
    return render(request, "customers/designer.html", {
        "role": role, "roles": account_selectors.role_list(user=request.user),
        "sections": sections,
        "stored": stored, "widths": [(w, label) for w, label in layouts.WIDTH_LABELS],
        "behaviour_fields": behaviour_fields, "condition_fields": condition_fields,
        "effects": FieldBehaviour.EFFECTS, "ops": OPS, "tests": range(TESTS), "rules": rules})


@require_POST
@requires("form.design")
def designer_save(request):
    role = _role(request)
    try:
        sections = json.loads(request.POST.get("sections") or "[]")
        services.form_layout_save(actor=Actor.from_request(request), role=role,
                                  sections=sections)
    except ValueError:
        messages.error(request, _("The layout could not be read; reload the page."))
    except DomainError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("Layout saved."))
    return redirect(_back(role))


@require_POST
@requires("form.design")
def designer_reset(request):
    role = _role(request)
    services.form_layout_reset(actor=Actor.from_request(request), role=role)
    messages.success(request, _("Layout reset."))
    return redirect(_back(role))


@require_POST
@requires("form.design")
def behaviour_add(request):
    data = request.POST
    tests = []
    for i in range(TESTS):
        name = data.get(f"t{i}.field", "")
        if not name:
            continue
        tests.append({"field": name, "op": data.get(f"t{i}.op", "eq"),
                      "value": data.get(f"t{i}.value", "")})
    try:
        services.field_behaviour_save(
            actor=Actor.from_request(request), field=data.get("field", ""),
            effect=data.get("effect", ""), roles=data.getlist("roles"),
            condition={"match": data.get("match", "all"), "conditions": tests})
    except DomainError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("Field rule added."))
    return redirect(reverse("customers:designer") + "#behaviour")


@require_POST
@requires("form.design")
def behaviour_delete(request, rule_id: int):
    rule = layouts.behaviour_rule_get(user=request.user, rule_id=rule_id)
    services.field_behaviour_delete(actor=Actor.from_request(request), rule=rule)
    messages.success(request, _("Field rule deleted."))
    return redirect(reverse("customers:designer") + "#behaviour")
