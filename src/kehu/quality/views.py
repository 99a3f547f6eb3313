"""Pages of the data-quality app: the steward's dashboard, field rules and scoring settings.
Thin: selectors read, services write, forms carry input."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.actor import Actor
from kehu.core.errors import DomainError, NotFound
from kehu.core.pages import requires, show_errors
from kehu.customers.selectors import may_filter_on
from kehu.quality import selectors, services
from kehu.quality.forms import FieldRuleForm, QualitySettingsForm
from kehu.quality.tasks import quality_recompute_task


def _customers_url(**params) -> str:
    return f"{reverse('customers:list')}?{urlencode(params)}"


def _duplicates_url() -> str | None:
    """The duplicate review queue (kehu.identity), when it is installed."""
    try:
        return reverse("identity:queue")
    except NoReverseMatch:
        return None


@requires("quality.view")
def dashboard(request):
    summary = selectors.quality_summary(user=request.user)
    # "Worst fields" are those somebody lacks; fully filled fields are not among them. No
    # drill-down into a field masked or hidden for the user (the list would refuse it).
    completeness = [{"figure": f, "url": _customers_url(quality_missing=f.field)
                     if may_filter_on(request.user, f.field, presence=True) else None}
                    for f in summary.completeness if f.missing]
    invalid = [{"figure": f, "url": _customers_url(quality_invalid=f.field)
                if may_filter_on(request.user, f.field) else None}
               for f in summary.invalid]
    return render(request, "quality/dashboard.html", {
        "summary": summary, "completeness": completeness, "invalid": invalid,
        "stale_url": _customers_url(stale_days=summary.stale_days),
        "low_url": _customers_url(quality_below=50),
        "duplicates_url": _duplicates_url(),
        "trend": {"labels": {
            "average_score": _("Average score"), "completeness": _("Completeness"),
            "validity": _("Validity"), "freshness": _("Freshness")},
            "points": summary.trend},
        "can_configure": request.user.access.can("quality.configure"),
    })


@requires("quality.view")
def rules(request):
    fields = selectors.rule_field_labels(user=request.user)
    form = FieldRuleForm(request.POST or None, fields=fields)
    if request.method == "POST":
        request.user.access.require("quality.configure")
        if form.is_valid():
            try:
                services.field_rule_create(actor=Actor.from_request(request), **form.values())
            except DomainError as exc:
                show_errors(form, exc)
            else:
                messages.success(request, _("Rule added."))
                return redirect("quality:rules")
    return render(request, "quality/rules.html", {
        "rules": selectors.field_rule_list(user=request.user), "fields": fields, "form": form,
        "can_configure": request.user.access.can("quality.configure"),
    })


@requires("quality.configure")
def rule_edit(request, rule_id: int):
    try:
        rule = selectors.field_rule_get(user=request.user, rule_id=rule_id)
    except NotFound as exc:
        raise Http404 from exc
    fields = selectors.rule_field_labels(user=request.user)
    form = FieldRuleForm(request.POST or None, fields=fields,
                         initial=FieldRuleForm.initial_for(rule))
    if request.method == "POST" and form.is_valid():
        try:
            services.field_rule_update(actor=Actor.from_request(request), rule=rule,
                                       **form.values())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Rule saved."))
            return redirect("quality:rules")
    return render(request, "quality/rule_edit.html", {"rule": rule, "form": form})


@requires("quality.configure")
@require_POST
def rule_delete(request, rule_id: int):
    try:
        rule = selectors.field_rule_get(user=request.user, rule_id=rule_id)
    except NotFound as exc:
        raise Http404 from exc
    services.field_rule_delete(actor=Actor.from_request(request), rule=rule)
    messages.success(request, _("Rule removed."))
    return redirect("quality:rules")


@requires("quality.configure")
def settings_page(request):
    _row, config = selectors.quality_settings_get(user=request.user)
    form = QualitySettingsForm(request.POST or None,
                               initial=QualitySettingsForm.initial_for(config))
    if request.method == "POST" and form.is_valid():
        try:
            services.quality_settings_update(actor=Actor.from_request(request), **form.values())
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Settings saved; scores follow at the next "
                                        "recompute."))
            return redirect("quality:settings")
    return render(request, "quality/settings.html", {"form": form})


@requires("quality.configure")
@require_POST
def recompute(request):
    quality_recompute_task(request.user.pk, request.POST.get("changed") == "1")
    messages.success(request, _("Scores are being recomputed in the background."))
    return redirect("quality:dashboard")
