"""Value pages: the RFM grid with the tier summary, scoring settings, and the card's lifecycle
panel. Thin: selectors read, services write."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.actor import Actor
from kehu.core.errors import DomainError
from kehu.core.pages import requires, show_errors
from kehu.customers import selectors as customer_selectors
from kehu.scoring import selectors, services
from kehu.scoring.forms import LifecycleForm, ScoringSettingsForm


@requires("scoring.view")
def rfm(request):
    grid = selectors.rfm_grid(user=request.user)
    chart = {
        "cells": [{"r": c["r"], "f": c["f"], "count": c["count"], "revenue": str(c["revenue"]),
                   "segment": c["segment_label"],
                   "url": f"?r_score={c['r']}&f_score={c['f']}"} for c in grid["cells"]],
        "labels": {"r": _("Recency score (R)"), "f": _("Frequency score (F)"),
                   "count": _("Customers"), "revenue": _("Revenue (CNY)")},
    }
    rows = [[cell for cell in grid["cells"] if cell["r"] == r] for r in range(5, 0, -1)]
    return render(request, "scoring/rfm.html", {
        "grid": grid, "rows": rows, "chart": chart,
        "runs": selectors.scoring_runs(user=request.user, limit=5),
        "can_configure": request.user.access.can("scoring.configure"),
    })


@requires("scoring.configure")
@require_POST
def score_now(request):
    full = request.POST.get("full") == "1"
    try:
        run = services.rfm_score(actor=Actor.from_request(request), full=full)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Scored %(n)d customers (%(changed)d rows changed).")
                         % {"n": run.scored, "changed": run.changed})
    return redirect("scoring:rfm")


@requires("scoring.configure")
def settings_page(request):
    current = selectors.scoring_settings_read(user=request.user)
    form = ScoringSettingsForm(request.POST or None, instance=current)
    if request.method == "POST" and form.is_valid():
        changes = {name: form.cleaned_data[name] for name in form.changed_data}
        try:
            services.scoring_settings_update(actor=Actor.from_request(request), changes=changes)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Settings saved. The next scoring run is a full one."))
            return redirect("scoring:settings")
    return render(request, "scoring/settings.html", {"form": form})


@requires("customer.view")
def lifecycle(request, customer_id: int):
    """The card's lifecycle panel (htmx): the history, and the stage control for editors."""
    customer = customer_selectors.customer_get_plain(user=request.user, customer_id=customer_id)
    error = None
    saved = False
    if request.method == "POST":
        form = LifecycleForm(request.POST)
        if not request.user.access.can("customer.change"):
            error = _("You may not change this customer.")
        elif form.is_valid():
            try:
                customer = services.lifecycle_set(
                    actor=Actor.from_request(request), customer=customer,
                    stage=form.cleaned_data["stage"], note=form.cleaned_data["note"],
                    expected_version=form.cleaned_data["version"])
                saved = True
            except DomainError as exc:
                details = exc.details if isinstance(exc.details, dict) else {}
                error = " ".join(str(m) for v in details.values() if isinstance(v, list)
                                 for m in v) or str(exc.message)
                customer = customer_selectors.customer_get_plain(user=request.user,
                                                                 customer_id=customer_id)
    return render(request, "scoring/_lifecycle.html", {
        "customer": customer, "saved": saved, "error": error,
        "form": LifecycleForm(initial={"stage": customer.lifecycle_stage,
                                       "version": customer.version}),
        "history": selectors.lifecycle_history(user=request.user, customer=customer),
        "can_edit": request.user.access.can("customer.change"),
    })
