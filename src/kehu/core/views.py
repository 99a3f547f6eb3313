"""The audit log pages (filter, page through, export) and the domain events' dead letters.
Reads go through core.selectors."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from kehu.core.actor import Actor
from kehu.core.audit import audit_record
from kehu.core.errors import NotFound
from kehu.core.events import delivery_replay
from kehu.core.forms import AuditFilterForm
from kehu.core.models import EventDelivery
from kehu.core.pages import requires
from kehu.core.selectors import (
    AuditFilter,
    audit_changes_present,
    audit_entry_list,
    dead_letters,
    subscriber_lag,
)
from kehu.core.spreadsheet import csv_stream, xlsx_bytes


def _filters(form: AuditFilterForm) -> AuditFilter:
    if not form.is_valid():
        return AuditFilter()
    data = form.cleaned_data
    tz = timezone.get_current_timezone()

    def day_start(day):
        return dt.datetime.combine(day, dt.time.min, tzinfo=tz) if day else None

    until = day_start(data["until"] + dt.timedelta(days=1)) if data["until"] else None
    return AuditFilter(actor=data["actor"], action=data["action"],
                       object_type=data["object_type"], object_id=data["object_id"],
                       since=day_start(data["since"]), until=until)


@login_required
def audit_list(request):
    form = AuditFilterForm(request.GET or None)
    entries = audit_entry_list(user=request.user, filters=_filters(form))
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    for entry in page.object_list:  # shown only, never saved: masked per field
        entry.changes = audit_changes_present(request.user, entry)
    context = {"form": form, "page": page, "entries": page.object_list,
               "can_export": request.user.access.can("audit.export"),
               "query": request.GET.urlencode()}
    template = "core/_audit_results.html" if request.htmx else "core/audit_list.html"
    return render(request, template, context)


EXPORT_HEADER = ["seq", "time", "actor", "api_key", "via", "action", "object_type",
                 "object_id", "object", "changes", "ip", "user_agent", "hash"]


@login_required
def audit_export(request):
    request.user.access.require("audit.export")
    form = AuditFilterForm(request.GET or None)
    entries = audit_entry_list(user=request.user, filters=_filters(form))
    fmt = request.GET.get("format", "csv")
    count = entries.count()
    audit_record(actor=Actor.from_request(request), action="audit.export",
                 object_type="audit", changes={"rows": count, "format": fmt,
                                               "filters": request.GET.dict()})

    def rows():
        for e in entries.iterator(chunk_size=2000):
            yield [e.seq, e.at.isoformat(), e.actor_label, e.api_key_prefix, e.via, e.action,
                   e.object_type, e.object_id, e.object_repr,
                   str(audit_changes_present(request.user, e)), e.ip or "",
                   e.user_agent, e.hash]

    stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
    if fmt == "xlsx":
        response = HttpResponse(
            xlsx_bytes(EXPORT_HEADER, rows(), title=_("Audit log")),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="kehu-audit-{stamp}.xlsx"'
        return response
    response = StreamingHttpResponse(csv_stream(EXPORT_HEADER, rows()),
                                     content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="kehu-audit-{stamp}.csv"'
    return response


# Domain events: the dead letters an administrator sees and replays ------------------------


@requires("event.manage")
def event_deliveries(request):
    """Every subscriber's backlog and the parked (dead) deliveries, newest first."""
    page = Paginator(dead_letters(user=request.user), 50).get_page(request.GET.get("page"))
    return render(request, "core/event_deliveries.html",
                  {"page": page, "deliveries": page.object_list,
                   "subscribers": subscriber_lag()})


@require_POST
@requires("event.manage")
def event_replay(request, delivery_id: int):
    """Run a dead letter's handler again and say how it went."""
    try:
        delivery = delivery_replay(actor=Actor.from_request(request), delivery_id=delivery_id)
    except NotFound:
        raise Http404() from None
    if delivery.status == EventDelivery.DONE:
        messages.success(request, _("Delivered to %(subscriber)s: event #%(event)d.") % {
            "subscriber": delivery.subscriber, "event": delivery.event_id})
    else:
        messages.error(request, _("Event #%(event)d failed again in %(subscriber)s.") % {
            "subscriber": delivery.subscriber, "event": delivery.event_id})
    return redirect("core:events")
