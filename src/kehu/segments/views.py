"""Segment pages: the list, the builder (live count and sample as you edit), a segment's
page (size over time, members, bulk actions, export)."""

from __future__ import annotations

import json

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.actor import Actor
from kehu.core.errors import DomainError, ValidationFailed
from kehu.core.pages import requires
from kehu.customers.listing import DEFAULT_COLUMNS, cell_value, choice_labels, list_columns
from kehu.customers.selectors import customer_present
from kehu.interactions.models import Event, Interaction
from kehu.segments import selectors, services
from kehu.segments.builder import apply_edit, node_types, parse, view_tree
from kehu.segments.definition import Catalogue
from kehu.segments.describe import describe
from kehu.segments.library import TEMPLATES
from kehu.transactions.models import Ticket
from kehu.transactions.selectors import product_categories, product_list


def _card_url(customer_id: int) -> str:
    return reverse("cards:card", args=[customer_id])


def _pickers(request):

    catalogue = Catalogue.load()
    groups: dict[str, list] = {}
    for spec in catalogue.fields.values():
        if not request.user.access.may_condition_on(
                spec.sensitive or f"customer.{spec.key}", presence=spec.kind == "presence"):
            continue  # the picker offers only fields the caller may put conditions on
        groups.setdefault(str(spec.group), []).append((spec.key, spec.label))
    return catalogue, {
        "field_groups": list(groups.items()), "node_types": node_types(),
        "event_types": Event.TYPES, "interaction_kinds": Interaction.KINDS,
        "ticket_kinds": Ticket.KINDS,
        "products": list(product_list(request.user, active_only=True)
                         .values_list("sku", "name")[:300]),
        "categories": product_categories(request.user)[:100],
        "count_ops": [("gte", "≥"), ("gt", ">"), ("lte", "≤"), ("lt", "<"), ("eq", "=")],
        "prop_ops": [("contains", _("contains")), ("eq", _("is")), ("ne", _("is not")),
                     ("starts_with", _("starts with")), ("gt", ">"), ("gte", "≥"), ("lt", "<"),
                     ("lte", "≤"), ("is_set", _("is set")), ("is_not_set", _("is not set"))],
    }


def _errors(exc: DomainError) -> list[str]:
    details = exc.details if isinstance(exc.details, dict) else {}
    found = [f"{path}: {message}" for path, msgs in details.items() if isinstance(msgs, list)
             for message in msgs]
    return found or [str(exc.message)]


def _preview_context(request, definition):
    try:
        preview = selectors.segment_preview(user=request.user, definition=definition)
    except ValidationFailed as exc:
        return {"errors": _errors(exc), "count": None, "sample": []}
    return {"errors": [], "count": preview.count, "sample": preview.sample,
            "json": json.dumps(preview.definition, ensure_ascii=False, indent=2),
            "described": describe(preview.definition)}


def _builder_context(request, definition, **extra):
    catalogue, pickers = _pickers(request)
    return {"tree": view_tree(definition, catalogue.fields), **pickers,
            "preview": _preview_context(request, definition), **extra}


def builder_context(request, definition, **extra):
    """The condition builder's template context, for other pages that embed the builder (the
    rule editor's conditions)."""
    return _builder_context(request, definition, **extra)


@requires("segment.view")
def segment_list(request):
    return render(request, "segments/list.html", {
        "segments": selectors.segment_list(user=request.user),
        "templates": [(key, t["label"]) for key, t in TEMPLATES.items()],
        "can_manage": request.user.access.can("segment.manage")})


@requires("segment.view")
def segment_builder(request):
    """GET: a new definition (optionally from a template) or a saved one (?segment=ID).
    POST (htmx): the builder re-rendered after an edit (add / remove / a picker changed)."""
    segment = None
    if request.method == "POST":
        catalogue = Catalogue.load()
        definition = parse(request.POST, catalogue.fields)
        if request.POST.get("edit"):
            definition = apply_edit(definition, request.POST["edit"])
        return render(request, "segments/_builder.html", _builder_context(
            request, definition, oob=True))
    if request.GET.get("segment", "").isdigit():
        segment = selectors.segment_get(user=request.user, segment_id=int(request.GET["segment"]))
        definition = segment.definition
    else:
        template = TEMPLATES.get(request.GET.get("template", ""))
        definition = template["definition"] if template else {
            "type": "group", "match": "all", "conditions": []}
    return render(request, "segments/builder.html", _builder_context(
        request, definition, segment=segment,
        templates=[(key, t["label"]) for key, t in TEMPLATES.items()],
        can_manage=request.user.access.can("segment.manage")))


@require_POST
@requires("segment.view")
def segment_preview(request):
    catalogue = Catalogue.load()
    definition = parse(request.POST, catalogue.fields)
    return render(request, "segments/_preview.html", {"preview": _preview_context(
        request, definition)})


@require_POST
@requires("segment.manage")
def segment_save(request):
    catalogue = Catalogue.load()
    definition = parse(request.POST, catalogue.fields)
    actor = Actor.from_request(request)
    fields = {"name": request.POST.get("name", ""),
              "description": request.POST.get("description", ""),
              "dynamic": request.POST.get("dynamic") == "on",
              "tag_name": request.POST.get("tag", "").strip() or None}
    segment = None
    try:
        if request.POST.get("segment", "").isdigit():
            segment = selectors.segment_get(user=request.user,
                                            segment_id=int(request.POST["segment"]))
            segment = services.segment_update(actor=actor, segment=segment,
                                              definition=definition, **fields)
        else:
            segment = services.segment_create(actor=actor, definition=definition, **fields)
    except DomainError as exc:
        return render(request, "segments/builder.html", _builder_context(
            request, definition, segment=segment, save_errors=_errors(exc), form=fields,
            templates=[(key, t["label"]) for key, t in TEMPLATES.items()], can_manage=True),
            status=422)
    messages.success(request, _("Segment “%(name)s” saved: %(n)d customers.") % {
        "name": segment.name, "n": segment.size or 0})
    return redirect("segments:detail", segment_id=segment.pk)


@requires("segment.view")
def segment_detail(request, segment_id: int):
    segment = selectors.segment_get(user=request.user, segment_id=segment_id)
    items, following = selectors.segment_members_page(
        user=request.user, segment=segment, cursor=request.GET.get("cursor") or None, limit=50)
    labels = choice_labels()
    rows = []
    for customer in items:
        data = customer_present(request.user, customer, detail=False)
        data["card_url"] = _card_url(customer.pk)
        data["cells"] = [cell_value(data, c, labels=labels) for c in DEFAULT_COLUMNS]
        rows.append(data)
    history = selectors.segment_history(user=request.user, segment=segment)
    access = request.user.access
    base = reverse("segments:detail", args=[segment.pk])
    return render(request, "segments/detail.html", {
        "segment": segment, "rows": rows,
        "headers": [{"label": list_columns()[c]} for c in DEFAULT_COLUMNS],
        "page": {"count": selectors.segment_visible_size(user=request.user, segment=segment)},
        "next_url": f"{base}?cursor={following}" if following else None,
        "first_url": base if request.GET.get("cursor") else None,
        "history": {"at": [s.at.isoformat() for s in history], "size": [s.size for s in history]},
        "definition_json": json.dumps(segment.definition, ensure_ascii=False, indent=2),
        "described": describe(segment.definition),
        "can_manage": access.can("segment.manage"), "can_export": access.can("customer.export"),
        "can_assign": access.can("customer.assign"), "can_tag": access.can("segment.manage"),
        "users": _assignable(request.user) if access.can("customer.assign") else []})


def _assignable(user):
    from kehu.accounts.selectors import user_list

    return user_list(user=user)


@require_POST
@requires("segment.manage")
def segment_refresh(request, segment_id: int):
    segment = selectors.segment_get(user=request.user, segment_id=segment_id)
    try:
        segment = services.segment_refresh(actor=Actor.from_request(request), segment=segment)
        messages.success(request, _("Recomputed: %d customers.") % (segment.size or 0))
    except DomainError as exc:
        messages.error(request, " ".join(_errors(exc)))
    return redirect("segments:detail", segment_id=segment.pk)


@require_POST
@requires("segment.manage")
def segment_delete(request, segment_id: int):
    segment = selectors.segment_get(user=request.user, segment_id=segment_id)
    try:
        services.segment_delete(actor=Actor.from_request(request), segment=segment)
    except DomainError as exc:
        messages.error(request, " ".join(_errors(exc)))
        return redirect("segments:detail", segment_id=segment.pk)
    messages.success(request, _("Segment deleted."))
    return redirect("segments:list")
