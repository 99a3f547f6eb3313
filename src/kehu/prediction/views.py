"""Prediction pages: the validation page (fits, parameters, holdout charts, data
sufficiency, refit as a job) and the card's value-layer panel. Thin: selectors read,
services write."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.actor import Actor
from kehu.core.errors import DomainError
from kehu.core.pages import requires
from kehu.customers import selectors as customer_selectors
from kehu.prediction import selectors, services


@requires("scoring.view")
def validation(request):
    page = selectors.validation_page(user=request.user)
    v = page["validation"]
    tracking = dict(v.get("tracking") or {})
    if tracking.get("dates"):
        end = tracking.get("calibration_end", "")
        tracking["calibration_end_label"] = next(
            (d for d in tracking["dates"] if d >= end), tracking["dates"][-1])
    chart = {
        "tracking": tracking,
        "buckets": v.get("buckets") or [],
        "labels": {"actual": _("Actual"), "predicted": _("Predicted"),
                   "cumulative": _("Cumulative repeat purchases"),
                   "calibration_end": _("End of calibration"),
                   "frequency": _("Repeat purchases in the calibration period"),
                   "per_customer": _("Purchases per customer in the holdout")},
    }
    return render(request, "prediction/validation.html", {
        **page, "chart": chart,
        "can_configure": request.user.access.can("scoring.configure"),
    })


@requires("scoring.configure")
@require_POST
def refit(request):
    from kehu.prediction.tasks import clv_score_task

    model = request.POST.get("model") or ""
    try:
        job = services.clv_score_request(actor=Actor.from_request(request), model=model)
    except DomainError as exc:
        messages.error(request, str(exc.message))
    else:
        clv_score_task(job.pk, model=model, full=True)
        messages.success(request, _("Refit started as background job #%(id)d.") % {"id": job.pk})
    return redirect("prediction:validation")


@requires("customer.view")
def card_panel(request, customer_id: int):
    """The card's value-layer panel (htmx partial)."""
    customer = customer_selectors.customer_get_plain(user=request.user, customer_id=customer_id)
    return render(request, "prediction/_card_value.html", {
        "prediction": selectors.card_prediction(user=request.user, customer=customer)})
