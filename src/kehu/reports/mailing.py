"""Scheduled email of a dashboard: each subscriber gets the report tables computed in their
own scope (never the dashboard owner's), through the notifications email channel, at most
once per subscription and day (weekly ones on Mondays)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.errors import DomainError, ValidationFailed
from kehu.notifications.channels import email_send
from kehu.reports import render as rendering
from kehu.reports import selectors
from kehu.reports.models import DashboardSubscription
from kehu.reports.query import run_report

log = logging.getLogger(__name__)


@dataclass
class MailResult:
    sent: int = 0
    skipped: int = 0
    failed: list[int] = field(default_factory=list)


def _absolute(link: str) -> str:
    return f"{settings.KEHU_BASE_URL}{link}" if link.startswith("/") else link


def dashboard_email(*, user, dashboard) -> dict:
    """Subject, text and HTML of one dashboard for one recipient, in their scope."""
    panels = []
    for report in selectors.dashboard_reports(user=user, dashboard=dashboard):
        panel = {"name": report.name, "xlsx": _absolute(reverse("reports:xlsx",
                                                                args=[report.pk]))}
        try:
            result = run_report(report.spec, user=user)
        except ValidationFailed as exc:
            panel["errors"] = [f"{k}: {m}" for k, ms in exc.details.items() for m in ms]
        else:
            panel["header"], panel["rows"] = rendering.sheet_rows(result)
        panels.append(panel)
    context = {"dashboard": dashboard, "panels": panels, "user": user,
               "url": _absolute(reverse("reports:dashboard", args=[dashboard.pk]))}
    subject = _("Dashboard: %s") % dashboard.name
    return {"subject": subject,
            "text": render_to_string("reports/email.txt", context),
            "html": render_to_string("reports/email.html", context)}


def _due(subscription: DashboardSubscription, day: dt.date) -> bool:
    if subscription.last_sent_on == day:
        return False
    return subscription.frequency == DashboardSubscription.DAILY or day.weekday() == 0


def dashboards_send(*, day: dt.date | None = None) -> MailResult:
    """Send every subscription due today (idempotent per subscription and day)."""
    day = day or timezone.localdate()
    result = MailResult()
    for subscription in DashboardSubscription.objects.select_related(
            "dashboard", "user").order_by("pk"):
        user = subscription.user
        if not _due(subscription, day) or not user.is_active or not (user.email or "").strip():
            result.skipped += 1
            continue
        try:
            content = dashboard_email(user=user, dashboard=subscription.dashboard)
            email_send(to=[user.email], purpose="notification",
                       dedupe_key=f"report-dashboard:{subscription.pk}:{day.isoformat()}",
                       **content)
        except DomainError:  # lost access to the dashboard or reports: skip, keep going
            log.info("dashboard subscription #%s not sent", subscription.pk)
            result.failed.append(subscription.pk)
            continue
        subscription.last_sent_on = day
        subscription.save(update_fields=["last_sent_on"])
        result.sent += 1
    return result
