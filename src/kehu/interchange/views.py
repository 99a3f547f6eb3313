"""Import and export pages. The customer export downloads what the list shows, as the list
shows it: same query string, same columns, same masking (through `customers_export`)."""

from __future__ import annotations

from urllib.parse import quote

from django.contrib import messages
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from kehu.core.actor import Actor
from kehu.core.errors import DomainError
from kehu.core.pages import requires

# The list page's own query-string parser, so the export filters exactly as the page did.
from kehu.customers.listing import filters_from_query as list_filters
from kehu.customers.selectors import DEFAULT_SORT, custom_field_list
from kehu.interchange.export import ExportResult, customers_export


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
    return response


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
            sort=params.get("sort") or DEFAULT_SORT)
    except DomainError as exc:
        reasons = [str(m) for msgs in (exc.details or {}).values() if isinstance(msgs, list)
                   for m in msgs] if isinstance(exc.details, dict) else []
        messages.error(request, " ".join(reasons) or str(exc.message))
        query = params.copy()
        query.pop("format", None)
        return redirect(f"{reverse('customers:list')}?{query.urlencode()}")
    return export_response(result)
