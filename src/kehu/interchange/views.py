"""Import and export pages. The customer export downloads what the list shows, as the list
shows it: same query string, same columns, same masking (through `customers_export`).

The import page: upload a file (a queued job with the suggested mapping), correct the
mapping over a preview of the first rows, then dry-run or import it; files up to
SYNC_ROWS rows run in the request, larger ones in the Huey worker while the job page
polls its progress."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from kehu.core.actor import Actor
from kehu.core.errors import DomainError, NotFound
from kehu.core.pages import requires, show_errors

# The list page's own query-string parser, so the export filters exactly as the page did.
from kehu.customers.listing import filters_from_query as list_filters
from kehu.customers.selectors import DEFAULT_SORT, custom_field_list
from kehu.interchange.export import ExportResult, customers_export, segment_members_export
from kehu.interchange.forms import ImportMappingForm, ImportUploadForm
from kehu.interchange.models import ImportJob
from kehu.interchange.selectors import (
    import_job_get,
    import_job_preview,
    import_jobs_recent,
    import_row_errors,
)
from kehu.interchange.services import import_job_configure, import_job_create, import_job_run
from kehu.interchange.setup import (
    import_job_choose_sheet,
    import_template_mapping,
    import_template_save,
    import_templates,
)
from kehu.interchange.tasks import import_job_task

SYNC_ROWS = 5000
REPORT_ROWS = 50


def export_response(result: ExportResult) -> HttpResponse:
    """The export as a download: CSV streamed while it is produced, xlsx from its temporary
    file. The name is Chinese for browsers that read RFC 5987 `filename*`, ASCII otherwise."""
    if result.format == "csv":
        response: HttpResponse = StreamingHttpResponse(result.content,
                                                       content_type=result.content_type)
    else:
        response = FileResponse(result.content, content_type=result.content_type)
    response["Content-Disposition"] = (
        f'attachment; filename="{result.ascii_filename}"; '
        f"filename*=UTF-8''{quote(result.filename, safe='')}")
    response["Cache-Control"] = "private, no-store"  # personal data: never in shared caches
    response["X-Kehu-Skipped-No-Consent"] = str(result.skipped)
    return response


def _marketing_channel(params) -> str:
    """The export form always sends a channel ("any" selected); it counts only with a
    purpose (no purpose: not a marketing export)."""
    return params.get("channel", "") if params.get("purpose") else ""


def _consent_note(request, result: ExportResult) -> None:
    """A marketing export says how many customers it left out for want of consent (shown on
    the next page; the download carries it in X-Kehu-Skipped-No-Consent)."""
    purpose = request.GET.get("purpose", "")
    if not purpose:
        return
    from kehu.privacy.consent import channel_label, purpose_label

    channel = request.GET.get("channel", "") or "any"
    messages.info(request, _(
        "Marketing export: %(rows)d customers exported, %(n)d left out without consent for "
        "%(purpose)s (%(channel)s).") % {
        "rows": result.rows or 0, "n": result.skipped,
        "purpose": purpose_label(purpose), "channel": channel_label(channel)})


@requires("customer.export")
def segment_export(request, segment_id: int):
    """Export a saved segment's members (`cols`, `format` as for the list export); a refused
    export returns to the segment's page with the reason."""
    params = request.GET
    try:
        result = segment_members_export(actor=Actor.from_request(request), segment_id=segment_id,
                                        columns=params.getlist("cols"),
                                        fmt=params.get("format", "csv"),
                                        purpose=params.get("purpose", ""),
                                        channel=_marketing_channel(params))
    except DomainError as exc:
        reasons = [str(m) for msgs in (exc.details or {}).values() if isinstance(msgs, list)
                   for m in msgs] if isinstance(exc.details, dict) else []
        messages.error(request, " ".join(reasons) or str(exc.message))
        return redirect(reverse("segments:list"))
    _consent_note(request, result)
    return export_response(result)


@requires("customer.export")
def customer_export(request):
    """Export the customer list as filtered on the page (`cols` picks columns, `format` is
    csv or xlsx); a refused export returns to the list with the reason."""
    params = request.GET
    try:
        definitions = list(custom_field_list(user=request.user))
        result = customers_export(
            actor=Actor.from_request(request), filters=list_filters(params, definitions),
            columns=params.getlist("cols"), fmt=params.get("format", "csv"),
            sort=params.get("sort") or DEFAULT_SORT, purpose=params.get("purpose", ""),
            channel=_marketing_channel(params))
    except DomainError as exc:
        reasons = [str(m) for msgs in (exc.details or {}).values() if isinstance(msgs, list)
                   for m in msgs] if isinstance(exc.details, dict) else []
        messages.error(request, " ".join(reasons) or str(exc.message))
        query = params.copy()
        query.pop("format", None)
        return redirect(f"{reverse('customers:list')}?{query.urlencode()}")
    _consent_note(request, result)
    return export_response(result)


# Import ----------------------------------------------------------------------------------------


def _job_or_404(request, job_id: int) -> ImportJob:
    try:
        return import_job_get(user=request.user, job_id=job_id)
    except NotFound:
        raise Http404 from None


@requires("customer.import")
@require_http_methods(["GET", "POST"])
def imports(request):
    """Upload a file (creating a queued job) and the recent jobs."""
    actor = Actor.from_request(request)
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            # Orders, interactions and events may be uploaded before their columns are all
            # recognised: the mapping step (sheet, template, drop-downs) completes them.
            job = import_job_create(actor=actor, file=upload, filename=upload.name,
                                    sheet=form.cleaned_data["sheet"] or None,
                                    kind=form.cleaned_data["kind"] or "customers",
                                    options={"map_later": True})
        except DomainError as exc:
            show_errors(form, exc)
        else:
            return redirect("interchange:import_mapping", job_id=job.pk)
    return render(request, "interchange/imports.html",
                  {"form": form, "jobs": import_jobs_recent(user=request.user)})


def _mapping_context(request, job: ImportJob, *, data=None, mapping=None,
                     template_name: str = "") -> dict:
    """The mapping step: sheet picker, saved templates, one drop-down per column, preview.
    `mapping` (a template applied) overrides the job's stored mapping."""
    preview = import_job_preview(user=request.user, job_id=job.pk)
    form = ImportMappingForm(data, headers=preview.headers,
                             mapping=mapping if mapping is not None else preview.mapping,
                             choices=preview.choices, kind=job.kind,
                             initial={"skip_invalid_fields":
                                      job.options.get("skip_invalid_fields", False),
                                      "create_products": job.options.get("create_products", False),
                                      "on_name_conflict":
                                      job.options.get("on_name_conflict", "review"),
                                      "template_name": template_name})
    return {"job": job, "form": form, "preview_rows": preview.rows, "headers": preview.headers,
            "sheets": preview.sheets,
            "templates": import_templates(user=request.user, kind=job.kind)}


@requires("customer.import")
@require_http_methods(["GET", "POST"])
def import_mapping(request, job_id: int):
    """Each column with its field, the first rows; "Dry run" or "Import" runs the job, "Save
    as template" keeps the mapping under a name; `?template=<id>` applies a saved one."""
    actor = Actor.from_request(request)
    job = _job_or_404(request, job_id)
    mapping, template_name = None, ""
    try:
        if request.method == "GET" and request.GET.get("template", "").isdigit():
            preview = import_job_preview(user=request.user, job_id=job.pk)
            template_id = int(request.GET["template"])
            mapping = import_template_mapping(user=request.user, template_id=template_id,
                                              kind=job.kind, headers=preview.headers)
            template_name = next((t.name for t in import_templates(user=request.user,
                                                                   kind=job.kind)
                                  if t.pk == template_id), "")
        context = _mapping_context(request, job, data=request.POST or None, mapping=mapping,
                                   template_name=template_name)
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("interchange:imports")
    form = context["form"]
    if request.method == "POST" and form.is_valid():
        action = request.POST.get("action")
        try:
            if action == "save_template":
                template = import_template_save(
                    actor=actor, name=form.cleaned_data["template_name"], kind=job.kind,
                    headers=context["headers"], mapping=form.chosen_mapping())
                messages.success(request, _("The mapping was saved as the template “%s”.")
                                 % template.name)
                return redirect(f"{reverse('interchange:import_mapping', args=[job.pk])}"
                                f"?template={template.pk}")
            job = import_job_configure(
                actor=actor, job_id=job.pk, mapping=form.chosen_mapping(),
                dry_run=action != "import",
                skip_invalid_fields=form.cleaned_data.get("skip_invalid_fields", False),
                create_products=form.cleaned_data.get("create_products", False),
                on_name_conflict=(form.cleaned_data.get("on_name_conflict") or "review")
                if job.kind == "customers" else None)
            if job.total_rows <= SYNC_ROWS:
                import_job_run(job_id=job.pk, actor=actor)
            else:
                import_job_task(job.pk)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            return redirect("interchange:import_job", job_id=job.pk)
    return render(request, "interchange/mapping.html", context)


@requires("customer.import")
@require_http_methods(["POST"])
def import_sheet(request, job_id: int):
    """Switch the job to another sheet of its workbook; htmx gets the re-read mapping step."""
    job = _job_or_404(request, job_id)
    error = ""
    try:
        job = import_job_choose_sheet(actor=Actor.from_request(request), job_id=job.pk,
                                      sheet=request.POST.get("sheet", ""))
    except DomainError as exc:
        error = str(exc.message)
    if request.htmx:
        return render(request, "interchange/_mapping.html",
                      {**_mapping_context(request, job), "sheet_error": error})
    if error:
        messages.error(request, error)
    return redirect("interchange:import_mapping", job_id=job.pk)


def _progress(job: ImportJob) -> dict:
    """Rate (rows per second) and seconds left, once the job has run a while."""
    finished = job.status in (ImportJob.DONE, ImportJob.FAILED, ImportJob.CANCELLED)
    rate = left = None
    if job.started_at and job.rows_done:
        elapsed = ((job.finished_at or timezone.now()) - job.started_at).total_seconds()
        if elapsed > 0:
            rate = job.rows_done / elapsed
            if not finished and job.total_rows > job.rows_done:
                left = int((job.total_rows - job.rows_done) / rate)
    return {"finished": finished, "rate": rate, "seconds_left": left,
            "total": max(job.total_rows, job.rows_done)}


@requires("customer.import")
@require_http_methods(["GET"])
def import_job(request, job_id: int):
    """Status, progress, counts and the first report rows; htmx polls the partial."""
    job = _job_or_404(request, job_id)
    context = {"job": job, "progress": _progress(job),
               "report_rows": import_row_errors(job)[:REPORT_ROWS]}
    if request.htmx:
        return render(request, "interchange/_job.html", context)
    return render(request, "interchange/job.html", context)


@requires("customer.import")
@require_http_methods(["GET"])
def import_report(request, job_id: int):
    """The job's xlsx report (rows, columns, values, reasons)."""
    job = _job_or_404(request, job_id)
    path = Path(job.report_path) if job.report_path else None
    if path is None or not path.is_file():
        raise Http404(_("The report is not ready."))
    name = f"import-{job.pk}-report{path.suffix}"
    response = FileResponse(open(path, "rb"), as_attachment=True, filename=name)
    response["Cache-Control"] = "private, no-store"
    return response


def _deal_filters(params) -> dict:
    """The deal list's query string as deal_list's keywords (bad values are ignored)."""
    import datetime as dt

    def number(name):
        value = params.get(name, "")
        return int(value) if value.isdigit() else None

    month = None
    text = params.get("month", "")
    if len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit() \
            and 1 <= int(text[5:]) <= 12:
        month = dt.date(int(text[:4]), int(text[5:]), 1)
    status = params.get("status", "")

    def day(name):
        try:
            return dt.date.fromisoformat(params.get(name, ""))
        except ValueError:
            return None

    reached = number("reached_stage")
    return {"pipeline_id": number("pipeline"), "owner_id": number("owner"),
            "team_id": number("team"), "close_month": month,
            "status": status if status in ("open", "won", "lost") else "",
            "search": params.get("q", "")[:100], "stalled": params.get("stalled") == "on",
            "reached_stage_id": reached if reached and reached <= 2**31 - 1 else None,
            "created_from": day("created_from"), "created_to": day("created_to")}


@requires("customer.export")
def deals_export(request):
    """The deal list as CSV or xlsx (`format`), with the list's filters."""
    from kehu.interchange.pipeline_export import deals_export as export

    try:
        result = export(actor=Actor.from_request(request),
                        fmt=request.GET.get("format", "csv"), **_deal_filters(request.GET))
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("pipeline:deals")
    return export_response(result)


@requires("customer.export")
def payments_export(request):
    """Payments received as CSV or xlsx."""
    from kehu.interchange.pipeline_export import payments_export as export

    try:
        result = export(actor=Actor.from_request(request), fmt=request.GET.get("format", "csv"))
    except DomainError as exc:
        messages.error(request, str(exc.message))
        return redirect("pipeline:receivables")
    return export_response(result)
