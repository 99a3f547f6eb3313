"""Writes of saved reports, dashboards and their email subscriptions.

Each write is audited with its domain event (docs/events.md: report.saved, report.deleted,
report_dashboard.saved, report_dashboard.deleted, report_subscription.changed); an XLSX
export is an audited read."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import audit_record
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.events import record_change
from kehu.reports import selectors
from kehu.reports.models import Dashboard, DashboardItem, DashboardSubscription, SavedReport
from kehu.reports.query import validate_spec

MAX_NAME = 120
MAX_ITEMS = 24
MAX_REPORTS = 500


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {key: {"before": before.get(key), "after": after.get(key)}
            for key in sorted(set(before) | set(after)) if before.get(key) != after.get(key)}


def _record(user, obj, event: str, before: dict, after: dict, *, object_type: str = "") -> None:
    object_type = object_type or ("report" if isinstance(obj, SavedReport)
                                  else "report_dashboard")
    action = {"saved": "update" if before else "create", "deleted": "delete",
              "changed": "update"}[event.rsplit(".", 1)[-1]]
    record_change(actor=Actor(user=user), action=f"{object_type}.{action}", event=event,
                  object_type=object_type, object_id=obj.pk, object_repr=obj.name,
                  changes=_changed(before, after))


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
        report = SavedReport.objects.create(owner=user, name=_name(name), spec=clean)
        _record(user, report, "report.saved", {}, {"name": report.name, "spec": clean})
        return report
    report = selectors.report_get(user=user, report_id=report_id)
    before = {"name": report.name, "spec": report.spec}
    report.name, report.spec = _name(name), clean
    report.save(update_fields=["name", "spec", "updated_at"])
    _record(user, report, "report.saved", before, {"name": report.name, "spec": clean})
    return report


@transaction.atomic
def report_delete(*, user, report_id: int) -> None:
    report = selectors.report_get(user=user, report_id=report_id)
    _record(user, report, "report.deleted", {"name": report.name}, {})
    report.delete()


def report_export(*, user, report_id: int) -> tuple[SavedReport, bytes]:
    """A report's data as XLSX, computed in the user's scope (their own report or one on a
    dashboard they may open); audited like every kehu export."""
    from kehu.reports.query import run_report
    from kehu.reports.render import workbook

    report = selectors.report_get_visible(user=user, report_id=report_id)
    result = run_report(report.spec, user=user)
    data = workbook(result, title=report.name)
    audit_record(actor=Actor(user=user), action="report.export", object_type="report",
                 object_id=report.pk, object_repr=report.name,
                 changes={"format": "xlsx", "rows": len(result.rows)})
    return report, data


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
        dashboard = Dashboard.objects.create(owner=user, name=_name(name), shared=bool(shared))
        _record(user, dashboard, "report_dashboard.saved", {},
                {"name": dashboard.name, "shared": dashboard.shared})
        return dashboard
    dashboard = _own_dashboard(user, dashboard_id)
    before = {"name": dashboard.name, "shared": dashboard.shared}
    dashboard.name, dashboard.shared = _name(name), bool(shared)
    dashboard.save(update_fields=["name", "shared", "updated_at"])
    _record(user, dashboard, "report_dashboard.saved", before,
            {"name": dashboard.name, "shared": dashboard.shared})
    return dashboard


@transaction.atomic
def dashboard_delete(*, user, dashboard_id: int) -> None:
    dashboard = _own_dashboard(user, dashboard_id)
    _record(user, dashboard, "report_dashboard.deleted", {"name": dashboard.name}, {})
    dashboard.delete()


def _report_ids(dashboard: Dashboard) -> list[int]:
    return list(DashboardItem.objects.filter(dashboard=dashboard).values_list("report_id",
                                                                              flat=True))


@transaction.atomic
def dashboard_add_report(*, user, dashboard_id: int, report_id: int) -> DashboardItem:
    dashboard = _own_dashboard(user, dashboard_id)
    report = selectors.report_get(user=user, report_id=report_id)
    existing = DashboardItem.objects.filter(dashboard=dashboard, report=report).first()
    if existing is not None:
        return existing
    before = _report_ids(dashboard)
    if len(before) >= MAX_ITEMS:
        raise ValidationFailed(details={"report": [_("At most %d reports on a dashboard.")
                                                   % MAX_ITEMS]})
    position = (DashboardItem.objects.filter(dashboard=dashboard).aggregate(
        last=Max("position"))["last"] or 0) + 1
    item = DashboardItem.objects.create(dashboard=dashboard, report=report, position=position)
    _record(user, dashboard, "report_dashboard.saved", {"reports": before},
            {"reports": _report_ids(dashboard)})
    return item


@transaction.atomic
def dashboard_remove_report(*, user, dashboard_id: int, report_id: int) -> None:
    dashboard = _own_dashboard(user, dashboard_id)
    before = _report_ids(dashboard)
    if report_id not in before:
        return
    DashboardItem.objects.filter(dashboard=dashboard, report_id=report_id).delete()
    _record(user, dashboard, "report_dashboard.saved", {"reports": before},
            {"reports": _report_ids(dashboard)})


@transaction.atomic
def subscription_set(*, user, dashboard_id: int, frequency: str) -> DashboardSubscription | None:
    """Mail this dashboard to the user daily or weekly ("" stops it); they must see it."""
    dashboard = selectors.dashboard_get(user=user, dashboard_id=dashboard_id)
    if frequency and frequency not in dict(DashboardSubscription.FREQUENCIES):
        raise ValidationFailed(details={"frequency": [_("Choose daily or weekly.")]})
    if frequency and not user.email:
        raise ValidationFailed(details={"frequency": [
            _("Your account has no email address to send the dashboard to.")]})
    current = selectors.subscription_of(user=user, dashboard=dashboard)
    before = current.frequency if current else ""
    if before == frequency:
        return current
    subscription = None
    if not frequency:
        current.delete()
    else:
        subscription, _created = DashboardSubscription.objects.update_or_create(
            dashboard=dashboard, user=user, defaults={"frequency": frequency})
    _record(user, dashboard, "report_subscription.changed", {"frequency": before},
            {"frequency": frequency}, object_type="report_dashboard")
    return subscription
