"""The service desk: business calendars, SLA policies, ticket clocks, surveys and complaints.

Tickets themselves live in kehu.transactions (their table predates the service desk); the
service desk hangs its own rows off them and reads their status history.
"""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _


def _default_workdays() -> list[int]:
    return [0, 1, 2, 3, 4]


class BusinessCalendar(models.Model):
    """Working hours (with a lunch break) on working weekdays, plus dated exceptions: public
    holidays and make-up working days (调休). SLA clocks and legal deadlines count in it."""

    name = models.CharField(_("name"), max_length=80, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=40, default="Asia/Shanghai")
    workdays = models.JSONField(_("working weekdays"), default=_default_workdays,
                                help_text=_("Monday is 0, Sunday is 6."))
    day_start = models.TimeField(_("work starts"), default=dt.time(9, 0))
    lunch_start = models.TimeField(_("lunch break starts"), null=True, blank=True,
                                   default=dt.time(12, 0))
    lunch_end = models.TimeField(_("lunch break ends"), null=True, blank=True,
                                 default=dt.time(13, 0))
    day_end = models.TimeField(_("work ends"), default=dt.time(18, 0))
    is_default = models.BooleanField(_("default calendar"), default=False)
    # Bumped by every change to the calendar or its days: loaded schedules are cached by it.
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        constraints = [models.UniqueConstraint(fields=["is_default"],
                                               condition=models.Q(is_default=True),
                                               name="one_default_calendar")]

    def __str__(self) -> str:
        return self.name


class CalendarDay(models.Model):
    """One dated exception to a calendar's week: a holiday off, or a weekend day worked (调休)."""

    HOLIDAY = "holiday"
    WORKDAY = "workday"
    KINDS = [(HOLIDAY, _("Public holiday")), (WORKDAY, _("Make-up working day"))]

    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="days")
    date = models.DateField(_("date"))
    kind = models.CharField(_("type"), max_length=8, choices=KINDS)
    name = models.CharField(_("name"), max_length=80, blank=True)
    source = models.CharField(_("source"), max_length=200, blank=True)
    provisional = models.BooleanField(_("provisional"), default=False,
                                      help_text=_("Not yet confirmed by an official notice."))

    class Meta:
        ordering = ["date"]
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        constraints = [models.UniqueConstraint(fields=["calendar", "date"],
                                               name="calendar_day_unique")]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.get_kind_display()}"
