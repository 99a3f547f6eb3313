"""The audit log pages: filter, page through, export. Reads go through core.selectors."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import audit_record
from kehu.core.forms import AuditFilterForm
from kehu.core.selectors import AuditFilter, audit_changes_present, audit_entry_list
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
