"""API: import and export. The customer export takes the filters of GET /customers, so the
file holds exactly the customers (and fields, masked alike) that listing would return."""

from __future__ import annotations

from typing import Literal

from ninja import Field, Query, Router, Schema

from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Id
from kehu.customers.api import ListQuery, filters_from
from kehu.interchange.export import customers_export
from kehu.interchange.views import export_response

router = Router(tags=["interchange"])


class ExportQuery(ListQuery):
    """The list's filters and sort (`cursor`, `limit` and `count` are ignored), plus the file."""

    format: Literal["csv", "xlsx"] = "csv"
    columns: list[str] = Field([], description=(
        "Column keys, repeated or comma separated: name, kind, mobile, email, owner, team, "
        "region, city, lifecycle_stage, source, tags, created_at, updated_at, custom.<key>. "
        "Default: the list's default columns."))
    purpose: str = Field("", max_length=40, description=(
        "A marketing export: leave out customers without consent for this purpose "
        "(marketing, service, analytics …); the X-Kehu-Skipped-No-Consent header says how "
        "many were left out."))
    channel: str = Field("", max_length=10, description=(
        "The channel of that consent: sms, email, phone, wechat, push, post (default any)."))


@router.get("/customers/export", response=ERROR_RESPONSES,
            summary="Export customers to CSV or xlsx",
            openapi_extra={"responses": {200: {
                "description": "The file (CSV with a UTF-8 BOM, or xlsx)",
                "content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument."
                                                "spreadsheetml.sheet": {}}}}})
def export_customers(request, query: Query[ExportQuery]):
    """Needs `customer.export`. Scope and masking are the caller's, as in GET /customers;
    formula-like cells are neutralised; every export is written to the audit log."""
    columns = [c.strip() for item in query.columns for c in item.split(",") if c.strip()]
    result = customers_export(actor=actor_of(request), filters=filters_from(query),
                              columns=columns, fmt=query.format, sort=query.sort,
                              purpose=query.purpose, channel=query.channel)
    return export_response(result)


class DealExportQuery(Schema):
    format: Literal["csv", "xlsx"] = "csv"
    pipeline_id: Id | None = None
    owner_id: Id | None = None
    team_id: Id | None = None
    status: Literal["open", "won", "lost", ""] = ""
    search: str = Field("", max_length=100)


@router.get("/deals/export", response=ERROR_RESPONSES, summary="Export deals to CSV or xlsx")
def export_deals(request, query: Query[DealExportQuery]):
    """Needs `customer.export`; the deals of your scope, audited like every export."""
    from kehu.interchange.pipeline_export import deals_export

    data = query.dict()
    fmt = data.pop("format")
    return export_response(deals_export(actor=actor_of(request), fmt=fmt, **data))


@router.get("/payments/export", response=ERROR_RESPONSES,
            summary="Export payments received to CSV or xlsx")
def export_payments(request, format: Literal["csv", "xlsx"] = "csv"):  # noqa: A002
    from kehu.interchange.pipeline_export import payments_export

    return export_response(payments_export(actor=actor_of(request), fmt=format))
