"""Reads of saved reports and dashboards for one user.

Reports are their owner's; dashboards are the user's own and every shared one. What a saved
report shows is always computed for the reader (query.run_report with the reader as user).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from kehu.core.errors import NotFound
from kehu.reports.models import Dashboard, DashboardItem, DashboardSubscription, SavedReport


def report_list(*, user) -> QuerySet[SavedReport]:
    user.access.require("report.view")
    return SavedReport.objects.filter(owner_id=user.pk)


def report_get(*, user, report_id: int) -> SavedReport:
    report = report_list(user=user).filter(pk=report_id).first()
    if report is None:
        raise NotFound()
    return report


def report_get_visible(*, user, report_id: int) -> SavedReport:
    """One of the user's reports, or one on a dashboard the user may open (to run it in the
    user's own scope: exports from a shared dashboard)."""
    user.access.require("report.view")
    boards = dashboard_list(user=user).values("pk")
    report = SavedReport.objects.filter(
        Q(owner_id=user.pk) | Q(dashboard_items__dashboard__in=boards), pk=report_id).first()
    if report is None:
        raise NotFound()
    return report


def dashboard_list(*, user) -> QuerySet[Dashboard]:
    user.access.require("report.view")
    return Dashboard.objects.filter(Q(owner_id=user.pk) | Q(shared=True)).select_related("owner")


def dashboard_get(*, user, dashboard_id: int) -> Dashboard:
    dashboard = dashboard_list(user=user).filter(pk=dashboard_id).first()
    if dashboard is None:
        raise NotFound()
    return dashboard


def dashboard_reports(*, user, dashboard: Dashboard) -> list[SavedReport]:
    """The reports on a dashboard the user may open, in their order."""
    dashboard_get(user=user, dashboard_id=dashboard.pk)
    items = DashboardItem.objects.filter(dashboard=dashboard).select_related("report")
    return [item.report for item in items]


def subscription_of(*, user, dashboard: Dashboard) -> DashboardSubscription | None:
    return DashboardSubscription.objects.filter(user_id=user.pk, dashboard=dashboard).first()


def subscriptions_due(*, frequency: str) -> QuerySet[DashboardSubscription]:
    return DashboardSubscription.objects.filter(frequency=frequency).select_related(
        "dashboard", "user").order_by("pk")
