"""Privacy pages: the card's consent section (htmx), the request queue with its clocks, bulk
consent, retention policies, assessments, and the two public pages a customer opens on a
phone (a consent link, the request form). Thin: services and selectors do the work."""

from __future__ import annotations

import tempfile

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from kehu.core.actor import Actor
from kehu.core.errors import DomainError, NotFound
from kehu.core.pages import requires, show_errors
from kehu.privacy import forms, retention, selectors, services
from kehu.privacy import requests as dsr
from kehu.privacy.archive import customer_archive_write
from kehu.privacy.erasure import customer_erase
from kehu.privacy.models import Assessment, PrivacyRequest


def _section(request, customer_id: int, *, form=None, status: int = 200, notice: str = ""):
    try:
        consent = selectors.customer_consent(user=request.user, customer_id=customer_id)
    except NotFound:
        raise Http404 from None
    access = request.user.access
    manage = access.can("privacy.manage")
    return render(request, "privacy/_card_section.html", {
        "consent": consent, "customer_id": customer_id, "notice": notice,
        "form": form or forms.ConsentForm(),
        "can_record": manage or access.can("customer.change"), "can_manage": manage,
        "holds": selectors.active_holds(customer_id=customer_id) if manage else [],
        "requests": list(PrivacyRequest.objects.filter(customer_id=customer_id)
                         .order_by("-opened_at")[:10]) if manage else [],
        "request_form": forms.RequestForm(), "reason_form": forms.ReasonForm(),
        "viewed": selectors.sensitive_access(user=request.user, customer_id=customer_id),
    }, status=status)


@requires("customer.view")
def card_section(request, customer_id: int):
    """The card's privacy section: current consent, its history, holds, requests."""
    return _section(request, customer_id)


@requires("customer.view")
@require_POST
def card_consent(request, customer_id: int):
    form = forms.ConsentForm(request.POST)
    if not form.is_valid():
        return _section(request, customer_id, form=form, status=422)
    try:
        services.consent_record(actor=Actor.from_request(request), customer_id=customer_id,
                                **form.cleaned_data)
    except DomainError as exc:
        show_errors(form, exc)
        return _section(request, customer_id, form=form, status=exc.status)
    return _section(request, customer_id, notice=_("Consent recorded."))


@requires("privacy.manage")
@require_POST
def card_hold(request, customer_id: int):
    form = forms.ReasonForm(request.POST)
    if form.is_valid():
        try:
            services.legal_hold_place(actor=Actor.from_request(request), customer_id=customer_id,
                                      reason=form.cleaned_data["reason"])
        except DomainError as exc:
            return _section(request, customer_id, notice=str(exc.message), status=exc.status)
    if request.POST.get("release"):
        try:
            services.legal_hold_release(actor=Actor.from_request(request),
                                        hold_id=int(request.POST["release"]))
        except (DomainError, ValueError):
            raise Http404 from None
    return _section(request, customer_id, notice=_("Legal holds updated."))


@requires("privacy.manage")
@require_POST
def card_erase(request, customer_id: int):
    """Erase the customer (the form asks for the reason and a typed confirmation)."""
    form = forms.ReasonForm(request.POST)
    if not form.is_valid() or request.POST.get("confirm") != str(customer_id):
        messages.error(request, _("Type the customer number to confirm the erasure, and give "
                                  "the reason."))
        return redirect(reverse("cards:card", args=[customer_id]))
    try:
        customer_erase(actor=Actor.from_request(request), customer_id=customer_id,
                       reason=form.cleaned_data["reason"])
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect(reverse("cards:card", args=[customer_id]))
    messages.success(request, _("Customer #%s was erased.") % customer_id)
    return redirect(reverse("privacy:requests"))


@requires("privacy.manage")
def archive_download(request, customer_id: int):
    """The access / portability archive as a zip download (generated now, never stored)."""
    handle = tempfile.TemporaryFile(prefix="kehu-archive-")
    try:
        customer_archive_write(actor=Actor.from_request(request), customer_id=customer_id,
                               out=handle)
    except NotFound:
        handle.close()
        raise Http404 from None
    handle.seek(0)
    response = FileResponse(handle, content_type="application/zip", as_attachment=True,
                            filename=f"kehu-customer-{customer_id}.zip")
    response["Cache-Control"] = "private, no-store"
    return response


@requires("privacy.manage")
@require_POST
def card_request(request, customer_id: int):
    form = forms.RequestForm(request.POST)
    if form.is_valid():
        try:
            row = dsr.request_open(actor=Actor.from_request(request), customer_id=customer_id,
                                   intake="card", **form.cleaned_data)
        except DomainError as exc:
            messages.error(request, str(exc.message))
        else:
            return redirect(reverse("privacy:request", args=[row.pk]))
    return redirect(reverse("cards:card", args=[customer_id]))


@requires("customer.view")
@require_POST
def card_link(request, customer_id: int):
    """Make a confirm / withdraw link to send the customer; shown once in the section."""
    form = forms.ConsentForm(request.POST)
    form.is_valid()
    data = form.cleaned_data
    try:
        link, token = services.consent_link_create(
            actor=Actor.from_request(request), customer_id=customer_id,
            purpose=data.get("purpose", ""), channel=data.get("channel", "any"),
            action=request.POST.get("action", "confirm"),
            notice_text=data.get("notice_text", ""), notice_version=data.get("notice_version", ""))
    except DomainError as exc:
        return _section(request, customer_id, notice=str(exc.message), status=exc.status)
    url = request.build_absolute_uri(reverse("privacy:link", args=[token]))
    return _section(request, customer_id,
                    notice=_("Send this link to the customer (it works once): %s") % url)


# The request queue --------------------------------------------------------------------------


@requires("privacy.manage")
@require_http_methods(["GET", "POST"])
def request_queue(request):
    """Open requests soonest-due first, each with its working-day clock; a form for one
    received by phone or letter."""
    status = request.GET.get("status", "open")
    form = forms.RequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            row = dsr.request_open(actor=Actor.from_request(request), intake="card",
                                   **form.cleaned_data)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            return redirect(reverse("privacy:request", args=[row.pk]))
    rows = list(selectors.request_list(user=request.user, status=status)[:200])
    for row in rows:
        row.days_left = dsr.working_days_left(row.due_date)
    return render(request, "privacy/requests.html", {
        "rows": rows, "status": status, "form": form,
        "statuses": [("open", _("Open")), ("all", _("All")), *PrivacyRequest.STATUSES[2:]]})


@requires("privacy.manage")
@require_http_methods(["GET", "POST"])
def request_detail(request, request_id: int):
    try:
        row = selectors.request_get(user=request.user, request_id=request_id)
    except NotFound:
        raise Http404 from None
    action = request.POST.get("action") if request.method == "POST" else None
    forms_by_action = {"verify": forms.VerifyForm, "complete": forms.OutcomeForm,
                       "refuse": forms.RefuseForm}
    bound = {name: cls(request.POST if action == name else None)
             for name, cls in forms_by_action.items()}
    if action in bound and bound[action].is_valid():
        data, actor = bound[action].cleaned_data, Actor.from_request(request)
        try:
            if action == "verify":
                dsr.request_verify(actor=actor, request_id=row.pk, method=data["verification"],
                                   customer_id=data.get("customer_id"))
            elif action == "complete":
                dsr.request_complete(actor=actor, request_id=row.pk, outcome=data["outcome"])
            else:
                dsr.request_refuse(actor=actor, request_id=row.pk,
                                   reason=data["refusal_reason"])
        except DomainError as exc:
            show_errors(bound[action], exc)
        else:
            return redirect(reverse("privacy:request", args=[row.pk]))
    return render(request, "privacy/request.html", {
        "row": row, "days_left": dsr.working_days_left(row.due_date), "forms": bound,
        "reason_form": forms.ReasonForm()})


@requires("privacy.manage")
def access_report(request):
    """The unusual-access report: users who revealed many ID numbers in the last day (or
    `days`), with how many customers."""
    import datetime as dt

    from django.utils import timezone

    try:
        days = max(1, min(int(request.GET.get("days", "1")), 90))
    except ValueError:
        days = 1
    since = timezone.now() - dt.timedelta(days=days)
    return render(request, "privacy/access.html", {
        "rows": selectors.unusual_access(user=request.user, since=since), "days": days,
        "threshold": selectors.REVEAL_THRESHOLD})


# Bulk consent, retention, assessments --------------------------------------------------------


@requires("privacy.manage")
@require_http_methods(["GET", "POST"])
def consent_bulk(request):
    """How many customers may be contacted per purpose and channel; the same grant or
    withdrawal for a whole segment (an unsubscribe list imported as a segment)."""
    from kehu.segments.selectors import segment_list, segment_members_queryset

    segments = list(segment_list(user=request.user))
    check = forms.CheckForm(request.GET or None)
    counts = None
    if check.is_valid():
        counts = selectors.consent_counts(user=request.user, **check.cleaned_data)
    purpose_form = forms.PurposeForm(request.POST if "purpose_save" in request.POST else None)
    if purpose_form.is_bound:
        if purpose_form.is_valid():
            try:
                services.consent_purpose_save(actor=Actor.from_request(request),
                                              **purpose_form.cleaned_data)
            except DomainError as exc:
                show_errors(purpose_form, exc)
            else:
                messages.success(request, _("Purpose saved."))
                return redirect(reverse("privacy:consent_bulk"))
        form = forms.BulkConsentForm(segments=segments)
    else:
        form = forms.BulkConsentForm(request.POST or None, segments=segments)
    if request.method == "POST" and not purpose_form.is_bound and form.is_valid():
        data = dict(form.cleaned_data)
        segment = next(s for s in segments if s.pk == data.pop("segment"))
        ids = segment_members_queryset(user=request.user, segment=segment).values_list(
            "pk", flat=True)
        try:
            done = services.consents_record_bulk(
                actor=Actor.from_request(request), customer_ids=list(ids),
                purpose=data["purpose"], channel=data["channel"], status=data["status"],
                source=data["source"], notice_text=data["notice_text"],
                notice_version=data["notice_version"])
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Consent recorded for %d customers.") % done)
            return redirect(reverse("privacy:consent_bulk"))
    from kehu.privacy.consent import purpose_codes
    from kehu.privacy.models import ConsentPurpose

    purpose_codes()
    return render(request, "privacy/consent_bulk.html", {
        "check": check, "counts": counts, "form": form, "purpose_form": purpose_form,
        "purposes": ConsentPurpose.objects.all()})


@requires("privacy.manage")
@require_http_methods(["GET", "POST"])
def retention_page(request):
    result, dry = None, False
    actor = Actor.from_request(request)
    if request.method == "POST" and request.POST.get("run"):
        dry = request.POST["run"] == "dry"
        result = retention.retention_run(actor=actor, dry_run=dry)
    elif request.method == "POST":
        form = forms.PolicyForm(request.POST)
        if form.is_valid():
            try:
                retention.retention_policy_update(actor=actor, **form.cleaned_data)
            except DomainError as exc:
                messages.error(request, str(exc.message))
            else:
                messages.success(request, _("Retention policy saved."))
        else:
            messages.error(request, " ".join(str(e) for errs in form.errors.values()
                                             for e in errs))
        return redirect(reverse("privacy:retention"))
    rows = [(policy, forms.PolicyForm(initial={"data_class": policy.data_class,
                                               "days": policy.days,
                                               "is_active": policy.is_active}))
            for policy in retention.policies()]
    return render(request, "privacy/retention.html", {"rows": rows, "result": result,
                                                      "dry": dry})


@requires("privacy.manage")
@require_http_methods(["GET", "POST"])
def assessments(request):
    form = forms.AssessmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.assessment_save(actor=Actor.from_request(request), **form.cleaned_data)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Assessment saved as a new version."))
            return redirect(reverse("privacy:assessments"))
    rows = list(Assessment.objects.select_related("created_by")[:300])
    return render(request, "privacy/assessments.html", {"rows": rows, "form": form})


# Public pages (no sign-in) -------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def consent_link(request, token: str):
    """A customer's confirm / withdraw link: shows what they agree to or withdraw, applies
    it on the button (a GET never changes anything: mail scanners open links)."""
    try:
        link = services.consent_link_find(token)
    except services.LinkInvalid as exc:
        return render(request, "privacy/link.html", {"invalid": str(exc.message)}, status=410)
    if request.method == "POST":
        try:
            services.consent_link_use(token=token, ip=Actor.from_request(request).ip,
                                      user_agent=request.META.get("HTTP_USER_AGENT", ""))
        except services.LinkInvalid as exc:
            return render(request, "privacy/link.html", {"invalid": str(exc.message)},
                          status=410)
        return render(request, "privacy/link.html", {"done": link.action})
    from kehu.privacy.consent import channel_label, purpose_label

    return render(request, "privacy/link.html", {
        "link": link, "purpose": purpose_label(link.purpose),
        "channel": channel_label(link.channel)})


@require_http_methods(["GET", "POST"])
def public_request(request):
    """The public request form (access, deletion, withdrawal …): opens a request for the
    privacy team, who verify the requester's identity before acting."""
    form = forms.PublicRequestForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            row = dsr.request_open(actor=Actor.from_request(request), intake="form",
                                   **form.cleaned_data)
        except DomainError as exc:
            show_errors(form, exc)
            status = exc.status  # 429 past the hourly allowance
        else:
            return render(request, "privacy/public_request.html", {"done": row})
    return render(request, "privacy/public_request.html", {"form": form}, status=status)
