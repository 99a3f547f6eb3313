"""Pages of the pipeline: the kanban board, the deal list and page, deal forms and moves.
Quotes, contracts, receivables and the forecast are in views_money. Thin: forms in,
services do the work, selectors read; htmx and the board's script get partials or JSON."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.actor import Actor
from kehu.core.errors import DomainError, NotFound
from kehu.core.pages import requires, show_errors
from kehu.customers.selectors import customer_get_plain
from kehu.pipeline import selectors, services
from kehu.pipeline.forms import (
    BoardFilterForm,
    DealContactFormSet,
    DealForm,
    DealLineFormSet,
    MoveForm,
    PipelineForm,
    StageFormSet,
)

PAGE_SIZE = 50


def found(read, *args, **kwargs):
    try:
        return read(*args, **kwargs)
    except NotFound as exc:
        raise Http404 from exc


def _filters(request):
    """The board's and list's filter form, and its cleaned values."""
    user = request.user
    pipelines = list(selectors.pipeline_list(user))
    if not pipelines:
        services.pipeline_ensure_default(actor=Actor.from_request(request))
        pipelines = list(selectors.pipeline_list(user))
    people, teams = selectors.filter_people(user)
    form = BoardFilterForm(request.GET or None, pipelines=pipelines, users=people, teams=teams)
    data = form.cleaned_data if form.is_valid() else {}
    pipeline = next((p for p in pipelines if p.pk == data.get("pipeline")), None) or next(
        (p for p in pipelines if p.is_default), pipelines[0])
    return form, pipeline, {"owner_id": data.get("owner"), "team_id": data.get("team"),
                            "close_month": data.get("month")}, data


@requires("customer.view")
def board(request):
    form, pipeline, filters, _data = _filters(request)
    columns = selectors.board(request.user, pipeline, **filters)
    return render(request, "pipeline/board.html", {
        "form": form, "pipeline": pipeline, "columns": columns,
        "can_manage": request.user.access.can("deal.manage"),
        "query": request.GET.urlencode()})


@requires("customer.view")
def board_column(request, stage_id: int):
    """More cards of one column (htmx "show more")."""
    _form, pipeline, filters, _data = _filters(request)
    stage = found(selectors.stage_get, request.user, pipeline, stage_id)
    offset = int(request.GET.get("offset", "0") or 0) if request.GET.get(
        "offset", "0").isdigit() else 0
    deals, more = selectors.board_column_page(request.user, pipeline, stage, offset=offset,
                                              **filters)
    return render(request, "pipeline/_board_cards.html", {
        "deals": deals, "more": more, "stage": stage, "next_offset": offset + len(deals),
        "query": request.GET.urlencode(), "can_manage": request.user.access.can("deal.manage")})


@require_POST
@requires("deal.manage")
def deal_move(request, deal_id: int):
    """Move a deal (the board's drop, or the deal page's form). The board gets JSON with
    the new totals of the two columns; a refusal comes back as {"error": message}."""
    deal = found(selectors.deal_get, request.user, deal_id)
    wants_json = request.headers.get("Accept", "").startswith("application/json")
    stage_id = request.POST.get("stage", "")
    try:
        if not stage_id.isdigit():
            raise NotFound()
        stage = selectors.stage_get(request.user, deal.pipeline, int(stage_id))
        old_stage = deal.stage
        services.deal_move(actor=Actor.from_request(request), deal=deal, stage=stage,
                           lost_reason=request.POST.get("lost_reason", ""))
    except DomainError as exc:
        message = "; ".join(str(m) for ms in (exc.details or {}).values()
                            for m in (ms if isinstance(ms, list) else [ms])) or str(exc.message)
        if wants_json:
            return JsonResponse({"error": message, "code": exc.code}, status=exc.status)
        messages.error(request, message)
        return redirect("pipeline:deal", deal_id)
    if wants_json:
        _form, pipeline, filters, _data = _filters(request)
        columns = {c.stage.pk: c for c in selectors.board(request.user, pipeline, per_stage=0,
                                                          **filters)}
        return JsonResponse({"ok": True, "columns": {
            str(s.pk): {"count": columns[s.pk].count,
                        "header": render_to_string("pipeline/_column_totals.html",
                                                   {"column": columns[s.pk]}, request)}
            for s in (old_stage, stage) if s.pk in columns}})
    messages.success(request, _("Moved to “%s”.") % stage.name)
    return redirect("pipeline:deal", deal_id)


@requires("customer.view")
def deal_list(request):
    form, pipeline, filters, data = _filters(request)
    rows = selectors.deal_list(request.user, pipeline_id=pipeline.pk,
                               status=data.get("status") or "", search=data.get("q") or "",
                               stalled=bool(data.get("stalled")),
                               reached_stage_id=data.get("reached_stage"),
                               created_from=data.get("created_from"),
                               created_to=data.get("created_to"), **filters)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "pipeline/deal_list.html", {
        "form": form, "pipeline": pipeline, "page": page, "deals": page.object_list,
        "query": query.urlencode(), "can_manage": request.user.access.can("deal.manage"),
        "can_export": request.user.access.can("customer.export")})


@requires("customer.view")
def deal_detail(request, deal_id: int):
    deal = found(selectors.deal_get, request.user, deal_id)
    return render(request, "pipeline/deal_detail.html", {
        "deal": deal,
        "contacts": [selectors.contact_present(request.user, c) for c in deal.contacts.all()],
        "days_in_stage": selectors.days_in_stage(deal.stage_entered_at),
        "stalled": deal.status == "open" and selectors.days_in_stage(
            deal.stage_entered_at) >= deal.stage.stalled_days,
        "quotes": selectors.quote_list(request.user, deal_id=deal.pk),
        "contracts": selectors.contract_list(request.user, deal_id=deal.pk),
        "move_form": MoveForm(stages=[s for s in deal.pipeline.stages.all()
                                      if s.pk != deal.stage_id]),
        "can_manage": request.user.access.can("deal.manage")})


@requires("deal.manage")
def deal_edit(request, deal_id: int | None = None):
    """Create (?customer=ID) or edit a deal, with its contacts and product lines."""
    user = request.user
    deal = found(selectors.deal_get, user, deal_id) if deal_id else None
    customer = deal.customer if deal else found(customer_get_plain, user=user, customer_id=int(
        request.GET.get("customer") or request.POST.get("customer") or 0))
    initial = {}
    if deal:
        initial = {name: getattr(deal, name) for name in (
            "title", "amount", "expected_close_date", "probability", "forecast_category",
            "source", "competitor", "next_step")}
        initial["owner"] = deal.owner_id
    people, _teams = selectors.filter_people(user)
    form = DealForm(request.POST or None, initial=initial, users=people)
    contacts = DealContactFormSet(
        request.POST or None, prefix="contacts",
        initial=[{"person": c.person_id, "decision_role": c.decision_role}
                 for c in deal.contacts.all()] if deal else [],
        form_kwargs={"people": selectors.customer_contacts(user, customer)})
    lines = DealLineFormSet(
        request.POST or None, prefix="lines",
        initial=[{"product": line.product_id, "quantity": line.quantity,
                  "unit_price": line.unit_price} for line in deal.lines.all()] if deal else [],
        form_kwargs={"products": selectors.product_choices(user)})
    if request.method == "POST" and form.is_valid() and contacts.is_valid() and lines.is_valid():
        data = dict(form.cleaned_data)
        owner_id = data.pop("owner")
        owner = next((p for p in people if p.pk == owner_id), None)
        chosen = {"contacts": [{"person": f.cleaned_data["person"],
                                "decision_role": f.cleaned_data.get("decision_role") or ""}
                               for f in contacts.forms if f.cleaned_data.get("person")],
                  "lines": [{"product": f.cleaned_data["product"],
                             "quantity": f.cleaned_data.get("quantity") or 1,
                             "unit_price": f.cleaned_data.get("unit_price")}
                            for f in lines.forms if f.cleaned_data.get("product")]}
        actor = Actor.from_request(request)
        try:
            if deal is None:
                deal = services.deal_create(
                    actor=actor, customer=customer, owner=owner,
                    forecast_category=data.pop("forecast_category") or None, **data, **chosen)
            else:
                changes = {k: v for k, v in data.items() if k != "forecast_category"}
                if data["forecast_category"]:
                    changes["forecast_category"] = data["forecast_category"]
                for name in ("probability", "amount"):
                    if changes.get(name) is None:
                        changes.pop(name, None)
                if owner is not None:
                    changes["owner"] = owner
                if deal.status != "open":
                    for name in ("amount", "expected_close_date", "probability"):
                        if changes.get(name) == getattr(deal, name):
                            changes.pop(name)
                services.deal_update(actor=actor, deal=deal, changes={**changes, **chosen})
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Deal saved."))
            return redirect("pipeline:deal", deal.pk)
    return render(request, "pipeline/deal_form.html", {
        "form": form, "deal": deal, "customer": customer, "contacts": contacts,
        "lines": lines})


@require_POST
@requires("deal.manage")
def deal_order(request, deal_id: int):
    deal = found(selectors.deal_get, request.user, deal_id)
    try:
        order = services.deal_create_order(actor=Actor.from_request(request), deal=deal)
    except DomainError as exc:
        messages.error(request, "; ".join(str(m) for ms in exc.details.values() for m in ms)
                       if isinstance(exc.details, dict) and exc.details else str(exc.message))
        return redirect("pipeline:deal", deal_id)
    messages.success(request, _("Order %s created.") % order.number)
    return redirect("transactions:order", order.pk)


@requires("pipeline.configure")
def pipelines(request):
    return render(request, "pipeline/pipelines.html", {
        "pipelines": selectors.pipeline_list(request.user, include_inactive=True)})


@requires("pipeline.configure")
def pipeline_edit(request, pipeline_id: int | None = None):
    """A pipeline's name and its stages in order (blank rows are ignored)."""
    pipeline = found(selectors.pipeline_get, request.user, pipeline_id) if pipeline_id else None
    stages = list(pipeline.stages.all()) if pipeline else []
    form = PipelineForm(request.POST or None, initial={
        "name": pipeline.name if pipeline else "", "is_default": bool(pipeline and
                                                                       pipeline.is_default),
        "is_active": pipeline.is_active if pipeline else True})
    rows = StageFormSet(request.POST or None, prefix="stages", initial=[
        {"id": s.pk, "name": s.name, "probability": s.probability, "kind": s.kind,
         "forecast_category": s.forecast_category, "stalled_days": s.stalled_days}
        for s in stages] if pipeline else [dict(s) for s in services.DEFAULT_STAGES])
    if request.method == "POST" and form.is_valid() and rows.is_valid():
        specs = [{k: v for k, v in r.cleaned_data.items() if v not in (None, "") or k == "id"}
                 for r in rows.forms if r.cleaned_data.get("name")]
        actor = Actor.from_request(request)
        try:
            if pipeline is None:
                pipeline = services.pipeline_create(actor=actor, name=form.cleaned_data["name"],
                                                    stages=specs,
                                                    is_default=form.cleaned_data["is_default"])
            else:
                services.pipeline_update(actor=actor, pipeline=pipeline, stages=specs,
                                         **form.cleaned_data)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Pipeline saved."))
            return redirect("pipeline:pipelines")
    return render(request, "pipeline/pipeline_form.html", {"form": form, "rows": rows,
                                                           "pipeline": pipeline})
