"""Report pages: the builder (htmx preview), saved reports, dashboards, drill-down, export."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from kehu.core.errors import DomainError, ValidationFailed
from kehu.core.pages import requires
from kehu.dashboards.periods import PERIODS
from kehu.reports import forms, selectors, services
from kehu.reports import render as rendering
from kehu.reports.models import DashboardSubscription
from kehu.reports.query import BUCKETS, CHARTS, MEASURES, cell_rows, read_drill_token, run_report
from kehu.reports.subjects import SUBJECTS
from kehu.segments.describe import describe
from kehu.segments.views import builder_context

DRILL_PAGE = 50


def _errors_of(exc: DomainError) -> list[str]:
    details = exc.details if isinstance(exc.details, dict) else {}
    messages = [f"{path}: {message}" for path, items in details.items()
                for message in (items if isinstance(items, list) else [items])]
    return messages or [str(exc.message)]


def _shown(result, *, key: str) -> dict:
    return {"result": result, "option": rendering.chart_option(result),
            "table": rendering.table(result), "key": key}


@requires("report.view")
@require_GET
def index(request):
    return render(request, "reports/index.html", {
        "reports": selectors.report_list(user=request.user),
        "dashboards": selectors.dashboard_list(user=request.user),
        "can_share": request.user.access.can("report.share")})


def _builder_context(request, values: dict, definition: dict, report=None) -> dict:
    """The builder page: the report's fields, and the segment condition builder (offering
    only the fields the user may put conditions on) showing `definition`."""
    subject = values.get("subject") if values.get("subject") in SUBJECTS else "orders"
    values["subject"] = subject
    return {**builder_context(request, definition), "values": values, "subjects": SUBJECTS,
            "subject": SUBJECTS[subject],
            "measures": MEASURES, "buckets": BUCKETS, "charts": CHARTS, "periods": PERIODS,
            "groups": forms.group_choices(subject, request.user), "report": report,
            "dashboards": selectors.dashboard_list(user=request.user).filter(
                owner_id=request.user.pk)}


@requires("report.view")
@require_GET
def builder(request, report_id: int | None = None):
    report = None
    if report_id is not None:
        report = selectors.report_get(user=request.user, report_id=report_id)
        values = forms.form_values(report.spec)
        values["name"] = report.name
        definition = forms.filters_definition(report.spec.get("filters"))
        if request.GET.get("subject") in SUBJECTS:
            values["subject"] = request.GET["subject"]
    else:
        values = {"subject": request.GET.get("subject", ""), "measure": "count",
                  "chart": "bar", "group1": "date", "bucket1": "month", "period": "last_365"}
        definition = forms.filters_definition(None)
    return render(request, "reports/builder.html",
                  _builder_context(request, values, definition, report))


@requires("report.view")
@require_POST
def preview(request):
    context = {"errors": []}
    try:
        context.update(_shown(run_report(forms.spec_from_post(request.POST), user=request.user),
                              key="preview"))
    except ValidationFailed as exc:
        context["errors"] = _errors_of(exc)
    # htmx swaps only 2xx answers: the builder shows the errors in place of the preview.
    status = 422 if context["errors"] and not request.htmx else 200
    return render(request, "reports/_result.html", context, status=status)


@requires("report.view")
@require_POST
def save(request, report_id: int | None = None):
    spec = forms.spec_from_post(request.POST)
    try:
        report = services.report_save(user=request.user, name=request.POST.get("name"),
                                      spec=spec, report_id=report_id)
        dashboard_id = (request.POST.get("dashboard") or "").strip()
        if dashboard_id.isdigit():
            services.dashboard_add_report(user=request.user, dashboard_id=int(dashboard_id),
                                          report_id=report.pk)
            return redirect("reports:dashboard", dashboard_id=int(dashboard_id))
        return redirect("reports:report", report_id=report.pk)
    except DomainError as exc:
        messages = _errors_of(exc)
    values = dict(request.POST.items())
    report = selectors.report_get(user=request.user, report_id=report_id) if report_id else None
    context = _builder_context(request, values, forms.filters_definition(spec["filters"]),
                               report)
    context["save_errors"] = messages
    return render(request, "reports/builder.html", context, status=422)


@requires("report.view")
@require_GET
def report(request, report_id: int):
    saved = selectors.report_get(user=request.user, report_id=report_id)
    context = {"report": saved, "filters": describe(saved.spec.get("filters")),
               "dashboards": selectors.dashboard_list(user=request.user)
               .filter(owner_id=request.user.pk)}
    try:
        context.update(_shown(run_report(saved.spec, user=request.user), key=f"r{saved.pk}"))
    except ValidationFailed as exc:
        context["errors"] = _errors_of(exc)
    return render(request, "reports/report.html", context)


@requires("report.view")
@require_POST
def report_delete(request, report_id: int):
    services.report_delete(user=request.user, report_id=report_id)
    return redirect("reports:index")


@requires("report.view")
@require_POST
def report_add_to_dashboard(request, report_id: int):
    dashboard_id = (request.POST.get("dashboard") or "").strip()
    if not dashboard_id.isdigit():
        return redirect("reports:report", report_id=report_id)
    services.dashboard_add_report(user=request.user, dashboard_id=int(dashboard_id),
                                  report_id=report_id)
    return redirect("reports:dashboard", dashboard_id=int(dashboard_id))


@requires("report.view")
@require_GET
def report_xlsx(request, report_id: int):
    saved, data = services.report_export(user=request.user, report_id=report_id)
    response = HttpResponse(data, content_type=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    response["Content-Disposition"] = f'attachment; filename="report-{saved.pk}.xlsx"'
    return response


@requires("report.view")
@require_POST
def dashboard_create(request):
    try:
        dashboard = services.dashboard_save(user=request.user, name=request.POST.get("name"),
                                            shared=bool(request.POST.get("shared")))
    except DomainError as exc:
        return render(request, "reports/index.html", {
            "reports": selectors.report_list(user=request.user),
            "dashboards": selectors.dashboard_list(user=request.user),
            "can_share": request.user.access.can("report.share"),
            "errors": _errors_of(exc)}, status=422)
    return redirect("reports:dashboard", dashboard_id=dashboard.pk)


@requires("report.view")
@require_GET
def dashboard(request, dashboard_id: int):
    board = selectors.dashboard_get(user=request.user, dashboard_id=dashboard_id)
    panels = []
    for saved in selectors.dashboard_reports(user=request.user, dashboard=board):
        panel = {"report": saved}
        try:
            # Always the viewer's scope and masking, whoever saved the report.
            panel.update(_shown(run_report(saved.spec, user=request.user), key=f"r{saved.pk}"))
        except ValidationFailed as exc:
            panel["errors"] = _errors_of(exc)
        panels.append(panel)
    subscription = selectors.subscription_of(user=request.user, dashboard=board)
    return render(request, "reports/dashboard.html", {
        "dashboard": board, "panels": panels, "subscription": subscription,
        "frequencies": DashboardSubscription.FREQUENCIES,
        "own_reports": selectors.report_list(user=request.user)
        if board.owner_id == request.user.pk else []})


@requires("report.view")
@require_POST
def dashboard_add(request, dashboard_id: int):
    report_id = (request.POST.get("report") or "").strip()
    if report_id.isdigit():
        services.dashboard_add_report(user=request.user, dashboard_id=dashboard_id,
                                      report_id=int(report_id))
    return redirect("reports:dashboard", dashboard_id=dashboard_id)


@requires("report.view")
@require_POST
def dashboard_remove(request, dashboard_id: int, report_id: int):
    services.dashboard_remove_report(user=request.user, dashboard_id=dashboard_id,
                                     report_id=report_id)
    return redirect("reports:dashboard", dashboard_id=dashboard_id)


@requires("report.view")
@require_POST
def dashboard_subscribe(request, dashboard_id: int):
    try:
        services.subscription_set(user=request.user, dashboard_id=dashboard_id,
                                  frequency=request.POST.get("frequency") or "")
    except ValidationFailed as exc:
        return HttpResponse("; ".join(_errors_of(exc)), status=422)
    return redirect("reports:dashboard", dashboard_id=dashboard_id)


@requires("report.view")
@require_GET
def drill(request):
    try:
        raw, chosen = read_drill_token(request.GET.get("t") or "")
        spec, rows = cell_rows(raw, chosen, user=request.user)
    except ValidationFailed as exc:
        return render(request, "reports/drill.html", {"errors": _errors_of(exc)}, status=422)
    subject = SUBJECTS[spec["subject"]]
    page = Paginator(rows.order_by("-pk").values(*subject.detail_fields),
                     DRILL_PAGE).get_page(request.GET.get("page"))
    items = [{"values": row, "url": subject.detail(row), "title": _row_title(spec, row),
              "customer": row.get("customer__name") or row.get("order__customer__name") or "",
              "when": row.get(subject.date_path)} for row in page.object_list]
    return render(request, "reports/drill.html", {
        "subject": subject, "page": page, "items": items, "count": page.paginator.count,
        "token": request.GET.get("t")})


def _row_title(spec: dict, row: dict) -> str:
    for key in ("number", "order__number", "title", "name"):
        if row.get(key):
            return str(row[key])
    return f"#{row['id']}"
