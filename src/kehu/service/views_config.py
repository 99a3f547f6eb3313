"""Configuration pages of the service desk: SLA policies and business calendars."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.actor import Actor
from kehu.core.errors import DomainError, NotFound
from kehu.core.pages import requires, show_errors
from kehu.service import selectors
from kehu.service.calendar import prc_holiday_data
from kehu.service.forms import CalendarDayForm, CalendarForm, LoadYearForm, PolicyForm
from kehu.service.services import calendars as calendar_services
from kehu.service.services import sla as sla_services


def _found(read, *args, **kwargs):
    try:
        return read(*args, **kwargs)
    except NotFound as exc:
        raise Http404 from exc


@requires("customer.view")
def policies(request):
    return render(request, "service/policies.html", {
        "policies": selectors.policy_list(request.user),
        "can_configure": request.user.access.can("service.configure")})


@requires("service.configure")
def policy_edit(request, policy_id: int | None = None):
    policy = _found(selectors.policy_get, request.user, policy_id) if policy_id else None
    initial = None
    if policy is not None:
        initial = {name: getattr(policy, name) for name in PolicyForm.base_fields
                   if hasattr(policy, name)}
    else:
        initial = {"pause_statuses": ["waiting_customer"], "warn_percent": 80, "position": 100,
                   "is_active": True}
    form = PolicyForm(request.POST or None, initial=initial,
                      calendars=selectors.calendar_list(request.user))
    if request.method == "POST" and form.is_valid():
        actor = Actor.from_request(request)
        try:
            if policy is None:
                sla_services.sla_policy_create(actor=actor, **form.cleaned_data)
            else:
                sla_services.sla_policy_update(actor=actor, policy=policy, **form.cleaned_data)
        except NotFound as exc:
            raise Http404 from exc
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Policy saved; the tickets' clocks are being "
                                        "recomputed."))
            return redirect("service:policies")
    return render(request, "service/form.html", {
        "form": form, "back": "service:policies",
        "title": _("Edit SLA policy %s") % policy.name if policy else _("New SLA policy"),
        "delete_url": "service:policy_delete" if policy else "", "object": policy})


@require_POST
@requires("service.configure")
def policy_delete(request, policy_id: int):
    policy = _found(selectors.policy_get, request.user, policy_id)
    try:
        sla_services.sla_policy_delete(actor=Actor.from_request(request), policy=policy)
    except NotFound as exc:
        raise Http404 from exc
    messages.success(request, _("Policy deleted."))
    return redirect("service:policies")


@requires("customer.view")
def calendars(request):
    return render(request, "service/calendars.html", {
        "calendars": selectors.calendar_list(request.user),
        "can_configure": request.user.access.can("service.configure")})


@requires("customer.view")
def calendar_detail(request, calendar_id: int):
    calendar = _found(selectors.calendar_get, request.user, calendar_id)
    can_configure = request.user.access.can("service.configure")
    action = request.POST.get("action", "") if request.method == "POST" else ""
    bundled = sorted(int(y) for y in prc_holiday_data()["years"])
    hours = CalendarForm(request.POST if action == "hours" else None, initial={
        "name": calendar.name, "time_zone": calendar.time_zone, "workdays": calendar.workdays,
        "day_start": calendar.day_start, "lunch_start": calendar.lunch_start,
        "lunch_end": calendar.lunch_end, "day_end": calendar.day_end,
        "is_default": calendar.is_default})
    day = CalendarDayForm(request.POST if action == "day" else None)
    load = LoadYearForm(request.POST if action == "load" else None, years=bundled)
    if request.method == "POST":
        if not can_configure:
            raise Http404
        actor = Actor.from_request(request)
        form = {"hours": hours, "day": day, "load": load}.get(action)
        try:
            if action == "remove":
                from datetime import date

                calendar_services.calendar_day_remove(
                    actor=actor, calendar=calendar,
                    date=date.fromisoformat(request.POST.get("date", "")))
                done = _("Day removed.")
            elif form is None:
                raise Http404
            elif not form.is_valid():
                done = None
            elif action == "hours":
                calendar_services.calendar_update(actor=actor, calendar=calendar,
                                                  **form.cleaned_data)
                done = _("Calendar saved.")
            elif action == "day":
                calendar_services.calendar_day_set(actor=actor, calendar=calendar,
                                                   **form.cleaned_data)
                done = _("Day saved.")
            else:
                written = calendar_services.calendar_load_prc(
                    actor=actor, calendar=calendar, years=[form.cleaned_data["year"]])
                done = _("%d days loaded.") % written
        except (NotFound, ValueError) as exc:
            raise Http404 from exc
        except DomainError as exc:
            if form is not None:
                show_errors(form, exc)
            else:
                messages.error(request, str(exc.message))
            done = None
        if done:
            messages.success(request, done)
            return redirect("service:calendar", calendar_id=calendar.pk)
    year = request.GET.get("year", "")
    return render(request, "service/calendar.html", {
        "calendar": calendar, "can_configure": can_configure, "hours": hours, "day": day,
        "load": load, "years": selectors.calendar_years(calendar),
        "days": selectors.calendar_days(calendar, year=int(year) if year.isdigit() else None),
        "year": year})
