"""Insights pages: the churn-warning list with the model's backtest, the card's insights
panel (htmx), next best actions as tasks, settings, and the product page's "also bought".
Thin: selectors read, services write."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.actor import Actor
from kehu.core.errors import DomainError, NotFound
from kehu.core.pages import requires, show_errors
from kehu.customers.selectors import customer_get_plain
from kehu.insights import selectors, services
from kehu.insights.forms import ChurnSettingsForm
from kehu.insights.models import CHURN_LEVELS
from kehu.transactions import selectors as transactions


def _customer(request, customer_id: int):
    try:
        return customer_get_plain(user=request.user, customer_id=customer_id)
    except NotFound:
        raise Http404 from None


def _error_text(exc: DomainError) -> str:
    details = exc.details if isinstance(exc.details, dict) else {}
    return " ".join(str(m) for v in details.values() if isinstance(v, list)
                    for m in v) or str(exc.message)


@requires("scoring.view")
def churn(request):
    level = request.GET.get("level", "")
    owner = "me" if request.GET.get("owner") == "me" else None
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    listing = selectors.churn_list(user=request.user, level=level, owner=owner, page=page)
    return render(request, "insights/churn.html", {
        "listing": listing, "overview": selectors.churn_overview(user=request.user),
        "levels": CHURN_LEVELS, "level": level, "owner": owner or "",
        "can_configure": request.user.access.can("scoring.configure"),
        "can_task": request.user.access.can("interaction.add"),
    })


@requires("scoring.configure")
@require_POST
def fit_now(request):
    try:
        fit = services.churn_fit(actor=Actor.from_request(request))
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        if fit.enough_data:
            messages.success(request, _("Churn model fitted on %(n)d customers and the book "
                                        "rescored.") % {"n": fit.labelled})
        else:
            messages.warning(request, fit.explanation())
    return redirect("insights:churn")


@requires("interaction.add")
@require_POST
def churn_task(request, customer_id: int):
    customer = _customer(request, customer_id)
    try:
        task = services.churn_follow_up_create(actor=Actor.from_request(request),
                                               customer=customer)
    except DomainError as exc:
        return render(request, "insights/_task_done.html", {"error": _error_text(exc)})
    return render(request, "insights/_task_done.html", {"task": task})


@requires("scoring.view")
def card_panel(request, customer_id: int):
    """The card's insights panel (htmx): churn risk with factors, signals, next best
    actions and recommendations."""
    customer = _customer(request, customer_id)
    return render(request, "insights/_card.html", {
        "insights": selectors.customer_insights(user=request.user, customer=customer),
        "customer": customer, "can_task": request.user.access.can("interaction.add")})


@requires("scoring.view")
@require_POST
def action_task(request, customer_id: int, code: str):
    customer = _customer(request, customer_id)
    error = task = None
    try:
        task = services.next_action_task_create(actor=Actor.from_request(request),
                                                customer=customer, code=code,
                                                user=request.user)
    except DomainError as exc:
        error = _error_text(exc)
    response = render(request, "insights/_card.html", {
        "insights": selectors.customer_insights(user=request.user, customer=customer),
        "customer": customer, "can_task": request.user.access.can("interaction.add"),
        "task": task, "error": error})
    if task is not None:
        response["HX-Trigger"] = "followUpsChanged"
    return response


@requires("scoring.configure")
def settings_page(request):
    current = services.churn_settings_get()
    form = ChurnSettingsForm(request.POST or None, instance=current, prefix="churn")
    rules = selectors.signal_rules(user=request.user)
    if request.method == "POST":
        actor = Actor.from_request(request)
        ok = form.is_valid()
        if ok and form.changed_data:
            try:
                services.churn_settings_update(actor=actor, changes={
                    name: form.cleaned_data[name] for name in form.changed_data})
            except DomainError as exc:
                show_errors(form, exc)
                ok = False
        for rule in rules:
            key = rule["kind"]
            changes = {}
            enabled = request.POST.get(f"enabled_{key}") == "1"
            if enabled != rule["enabled"]:
                changes["enabled"] = enabled
            for name in ("min_count", "days"):
                raw = request.POST.get(f"{name}_{key}", "").strip()
                if raw.isdigit() and int(raw) != rule[name]:
                    changes[name] = int(raw)
                elif raw and not raw.isdigit():
                    ok = False
                    messages.error(request, _("%(signal)s: enter a whole number.") % {
                        "signal": rule["label"]})
            if changes:
                try:
                    services.signal_rule_update(actor=actor, kind=key, changes=changes)
                except DomainError as exc:
                    ok = False
                    messages.error(request, f"{rule['label']}: {_error_text(exc)}")
        if ok:
            messages.success(request, _("Settings saved."))
            return redirect("insights:settings")
        rules = selectors.signal_rules(user=request.user)
    return render(request, "insights/settings.html", {"form": form, "rules": rules})


@requires("customer.view")
def also_bought(request, product_id: int):
    try:
        product = transactions.product_get(request.user, product_id)
    except NotFound:
        raise Http404 from None
    return render(request, "insights/_also_bought.html", {
        "product": product, "rows": selectors.also_bought(user=request.user, product=product)})
