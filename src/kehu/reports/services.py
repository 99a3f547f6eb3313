"""Writes of saved reports, dashboards and their email subscriptions."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.reports import selectors
from kehu.reports.models import Dashboard, DashboardItem, DashboardSubscription, SavedReport
from kehu.reports.query import validate_spec

MAX_NAME = 120
MAX_ITEMS = 24
MAX_REPORTS = 500


def _name(name: Any) -> str:
    text = " ".join(str(name or "").split())
    if not text:
        raise ValidationFailed(details={"name": [_("Give a name.")]})
    if len(text) > MAX_NAME:
        raise ValidationFailed(details={"name": [_("At most %d characters.") % MAX_NAME]})
    return text


@transaction.atomic
def report_save(*, user, name: Any, spec: Any, report_id: int | None = None) -> SavedReport:
    """Create or change one of the user's reports; the spec is validated for the owner."""
    user.access.require("report.view")
    clean = validate_spec(spec, user=user)
    if report_id is None:
        if selectors.report_list(user=user).count() >= MAX_REPORTS:
            raise ValidationFailed(details={"name": [_("At most %d saved reports.")
                                                     % MAX_REPORTS]})
        return SavedReport.objects.create(owner=user, name=_name(name), spec=clean)
    report = selectors.report_get(user=user, report_id=report_id)
    report.name, report.spec = _name(name), clean
    report.save(update_fields=["name", "spec", "updated_at"])
    return report


def report_delete(*, user, report_id: int) -> None:
    selectors.report_get(user=user, report_id=report_id).delete()


def _own_dashboard(user, dashboard_id: int) -> Dashboard:
    dashboard = selectors.dashboard_get(user=user, dashboard_id=dashboard_id)
    if dashboard.owner_id != user.pk:
        raise PermissionDenied(details={"dashboard": _("Only its owner changes a dashboard.")})
    return dashboard


@transaction.atomic
def dashboard_save(*, user, name: Any, shared: bool = False,
                   dashboard_id: int | None = None) -> Dashboard:
    user.access.require("report.view")
    if shared:
        user.access.require("report.share")
    if dashboard_id is None:
        return Dashboard.objects.create(owner=user, name=_name(name), shared=bool(shared))
    dashboard = _own_dashboard(user, dashboard_id)
    dashboard.name, dashboard.shared = _name(name), bool(shared)
    dashboard.save(update_fields=["name", "shared", "updated_at"])
    return dashboard


def dashboard_delete(*, user, dashboard_id: int) -> None:
    _own_dashboard(user, dashboard_id).delete()


@transaction.atomic
def dashboard_add_report(*, user, dashboard_id: int, report_id: int) -> DashboardItem:
    dashboard = _own_dashboard(user, dashboard_id)
    report = selectors.report_get(user=user, report_id=report_id)
    existing = DashboardItem.objects.filter(dashboard=dashboard, report=report).first()
    if existing is not None:
        return existing
    items = DashboardItem.objects.filter(dashboard=dashboard)
    if items.count() >= MAX_ITEMS:
        raise ValidationFailed(details={"report": [_("At most %d reports on a dashboard.")
                                                   % MAX_ITEMS]})
    position = (items.aggregate(last=Max("position"))["last"] or 0) + 1
    return DashboardItem.objects.create(dashboard=dashboard, report=report, position=position)


def dashboard_remove_report(*, user, dashboard_id: int, report_id: int) -> None:
    dashboard = _own_dashboard(user, dashboard_id)
    DashboardItem.objects.filter(dashboard=dashboard, report_id=report_id).delete()


def subscription_set(*, user, dashboard_id: int, frequency: str) -> DashboardSubscription | None:
    """Mail this dashboard to the user daily or weekly ("" stops it); they must see it."""
    dashboard = selectors.dashboard_get(user=user, dashboard_id=dashboard_id)
    if not frequency:
        DashboardSubscription.objects.filter(dashboard=dashboard, user=user).delete()
        return None
    if frequency not in dict(DashboardSubscription.FREQUENCIES):
        raise ValidationFailed(details={"frequency": [_("Choose daily or weekly.")]})
    if not user.email:
        raise ValidationFailed(details={"frequency": [
            _("Your account has no email address to send the dashboard to.")]})
    subscription, _created = DashboardSubscription.objects.update_or_create(
        dashboard=dashboard, user=user, defaults={"frequency": frequency})
    return subscription
