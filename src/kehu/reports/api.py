"""API: run a report spec, and saved reports and dashboards (docs/reports.md).

A spec that is not valid for the caller answers 422 with each bad path in `details`
(e.g. `group_by[0].field` naming a field masked for the caller). Every figure is computed in
the caller's scope, also for reports on a dashboard someone else shared."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Router, Schema, Status

from kehu.core.errors import ValidationFailed
from kehu.core.http import ERROR_RESPONSES
from kehu.core.schemas import Flag, Id, Input
from kehu.reports import selectors, services
from kehu.reports.query import run_report

router = Router(tags=["reports"])


class SpecIn(Input):
    spec: dict[str, Any] = Field(..., description="A report spec; see docs/reports.md.")


class ReportIn(SpecIn):
    name: str = Field(..., max_length=120)


class ResultOut(Schema):
    spec: dict[str, Any]
    subject: str
    measure: str
    dimensions: list[str]
    rows: list[dict[str, Any]]
    total: Any
    total_url: str
    truncated: bool
    first_totals: list[dict[str, Any]]
    second_totals: list[dict[str, Any]]


class ReportOut(Schema):
    id: int
    name: str
    spec: dict[str, Any]
    owner: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class DashboardIn(Input):
    name: str = Field(..., max_length=120)
    shared: Flag = False


class DashboardOut(Schema):
    id: int
    name: str
    shared: bool
    owner: dict[str, Any]
    reports: list[dict[str, Any]]


class ItemIn(Input):
    report_id: Id


class SubscriptionIn(Input):
    frequency: Literal["", "daily", "weekly"]


class SubscriptionOut(Schema):
    frequency: str


def _report(report) -> dict[str, Any]:
    return {"id": report.pk, "name": report.name, "spec": report.spec,
            "owner": {"id": report.owner_id, "name": str(report.owner)},
            "created_at": report.created_at, "updated_at": report.updated_at}


def _computed(user, report) -> dict[str, Any]:
    try:
        return {"id": report.pk, "name": report.name,
                "result": run_report(report.spec, user=user).as_json(), "errors": {}}
    except ValidationFailed as exc:
        return {"id": report.pk, "name": report.name, "result": None, "errors": exc.details}


def _dashboard(user, dashboard, *, compute: bool) -> dict[str, Any]:
    reports = selectors.dashboard_reports(user=user, dashboard=dashboard)
    return {"id": dashboard.pk, "name": dashboard.name, "shared": dashboard.shared,
            "owner": {"id": dashboard.owner_id, "name": str(dashboard.owner)},
            "reports": [_computed(user, r) if compute else {"id": r.pk, "name": r.name}
                        for r in reports]}


@router.post("/reports/run", response={200: ResultOut, **ERROR_RESPONSES},
             summary="Run a report spec in the caller's scope")
def run(request, payload: SpecIn):
    return run_report(payload.spec, user=request.user).as_json()


@router.get("/reports/dashboards", response={200: list[DashboardOut], **ERROR_RESPONSES},
            summary="The caller's dashboards and every shared one")
def list_dashboards(request):
    return [_dashboard(request.user, d, compute=False)
            for d in selectors.dashboard_list(user=request.user)]


@router.post("/reports/dashboards", response={201: DashboardOut, **ERROR_RESPONSES},
             summary="Create a dashboard (shared needs report.share)")
def create_dashboard(request, payload: DashboardIn):
    dashboard = services.dashboard_save(user=request.user, name=payload.name,
                                        shared=payload.shared)
    return Status(201, _dashboard(request.user, dashboard, compute=False))


@router.get("/reports/dashboards/{dashboard_id}", response={200: DashboardOut,
                                                            **ERROR_RESPONSES},
            summary="A dashboard with every report computed in the caller's scope")
def get_dashboard(request, dashboard_id: Id):
    dashboard = selectors.dashboard_get(user=request.user, dashboard_id=dashboard_id)
    return _dashboard(request.user, dashboard, compute=True)


@router.put("/reports/dashboards/{dashboard_id}", response={200: DashboardOut,
                                                            **ERROR_RESPONSES},
            summary="Rename or (un)share one's dashboard")
def update_dashboard(request, dashboard_id: Id, payload: DashboardIn):
    dashboard = services.dashboard_save(user=request.user, name=payload.name,
                                        shared=payload.shared, dashboard_id=dashboard_id)
    return _dashboard(request.user, dashboard, compute=False)


@router.delete("/reports/dashboards/{dashboard_id}", response={204: None, **ERROR_RESPONSES},
               summary="Delete one's dashboard")
def delete_dashboard(request, dashboard_id: Id):
    services.dashboard_delete(user=request.user, dashboard_id=dashboard_id)
    return Status(204, None)


@router.post("/reports/dashboards/{dashboard_id}/items", response={201: DashboardOut,
                                                                   **ERROR_RESPONSES},
             summary="Put one of one's reports on one's dashboard")
def add_item(request, dashboard_id: Id, payload: ItemIn):
    services.dashboard_add_report(user=request.user, dashboard_id=dashboard_id,
                                  report_id=payload.report_id)
    dashboard = selectors.dashboard_get(user=request.user, dashboard_id=dashboard_id)
    return Status(201, _dashboard(request.user, dashboard, compute=False))


@router.delete("/reports/dashboards/{dashboard_id}/items/{report_id}",
               response={204: None, **ERROR_RESPONSES}, summary="Take a report off a dashboard")
def remove_item(request, dashboard_id: Id, report_id: Id):
    services.dashboard_remove_report(user=request.user, dashboard_id=dashboard_id,
                                     report_id=report_id)
    return Status(204, None)


@router.put("/reports/dashboards/{dashboard_id}/subscription",
            response={200: SubscriptionOut, **ERROR_RESPONSES},
            summary="Email this dashboard to the caller daily or weekly (\"\" stops it)")
def subscribe(request, dashboard_id: Id, payload: SubscriptionIn):
    services.subscription_set(user=request.user, dashboard_id=dashboard_id,
                              frequency=payload.frequency)
    return {"frequency": payload.frequency}


@router.get("/reports", response={200: list[ReportOut], **ERROR_RESPONSES},
            summary="The caller's saved reports")
def list_reports(request):
    return [_report(r) for r in selectors.report_list(user=request.user).select_related("owner")]


@router.post("/reports", response={201: ReportOut, **ERROR_RESPONSES},
             summary="Save a report (the spec validated for the caller)")
def create_report(request, payload: ReportIn):
    report = services.report_save(user=request.user, name=payload.name, spec=payload.spec)
    return Status(201, _report(report))


@router.get("/reports/{report_id}", response={200: ReportOut, **ERROR_RESPONSES},
            summary="One of the caller's saved reports")
def get_report(request, report_id: Id):
    return _report(selectors.report_get(user=request.user, report_id=report_id))


@router.put("/reports/{report_id}", response={200: ReportOut, **ERROR_RESPONSES},
            summary="Replace one's saved report")
def update_report(request, report_id: Id, payload: ReportIn):
    report = services.report_save(user=request.user, name=payload.name, spec=payload.spec,
                                  report_id=report_id)
    return _report(report)


@router.delete("/reports/{report_id}", response={204: None, **ERROR_RESPONSES},
               summary="Delete one's saved report")
def delete_report(request, report_id: Id):
    services.report_delete(user=request.user, report_id=report_id)
    return Status(204, None)


@router.get("/reports/{report_id}/result", response={200: ResultOut, **ERROR_RESPONSES},
            summary="Run a saved report (one's own or on a dashboard one may open)")
def report_result(request, report_id: Id):
    report = selectors.report_get_visible(user=request.user, report_id=report_id)
    return run_report(report.spec, user=request.user).as_json()
