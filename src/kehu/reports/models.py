"""Saved reports and dashboards.

A report belongs to its owner. A dashboard is personal or shared (shared ones are visible to
everyone with report.view); whoever looks at one, every number is computed in the viewer's
own scope, never the owner's. A subscription mails a dashboard daily or weekly to one user,
computed in that user's scope.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class SavedReport(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"),
                              on_delete=models.CASCADE, related_name="saved_reports")
    name = models.CharField(_("name"), max_length=120)
    spec = models.JSONField(_("report"))
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("saved report")
        verbose_name_plural = _("saved reports")

    def __str__(self) -> str:
        return self.name


class Dashboard(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("owner"),
                              on_delete=models.CASCADE, related_name="report_dashboards")
    name = models.CharField(_("name"), max_length=120)
    shared = models.BooleanField(_("shared"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("dashboard")
        verbose_name_plural = _("dashboards")

    def __str__(self) -> str:
        return self.name


class DashboardItem(models.Model):
    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, related_name="items")
    report = models.ForeignKey(SavedReport, on_delete=models.CASCADE,
                               related_name="dashboard_items")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["dashboard", "report"],
                                               name="reports_item_once")]

    def __str__(self) -> str:
        return f"{self.dashboard_id}:{self.report_id}"


class DashboardSubscription(models.Model):
    DAILY, WEEKLY = "daily", "weekly"
    FREQUENCIES = [(DAILY, _("Daily")), (WEEKLY, _("Weekly (Mondays)"))]

    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE,
                                  related_name="subscriptions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="dashboard_subscriptions")
    frequency = models.CharField(_("frequency"), max_length=8, choices=FREQUENCIES)
    last_sent_on = models.DateField(_("last sent"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["dashboard", "user"],
                                               name="reports_subscription_once")]

    def __str__(self) -> str:
        return f"{self.dashboard_id}:{self.user_id}:{self.frequency}"
