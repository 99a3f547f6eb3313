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


CLOCKS = ("first_response", "next_response", "resolution")
CLOCK_LABELS = [("first_response", _("First response")), ("next_response", _("Next response")),
                ("resolution", _("Resolution"))]


class SLAPolicy(models.Model):
    """Targets in business hours for tickets of a priority, type and customer value tier (blank
    matches any); the most specific active policy wins, then the lowest position. Pause
    statuses stop every clock (待客户回复)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    position = models.PositiveIntegerField(_("order"), default=100)
    priority = models.CharField(_("priority"), max_length=8, blank=True)
    kind = models.CharField(_("ticket type"), max_length=16, blank=True)
    customer_tier = models.CharField(_("customer value tier"), max_length=12, blank=True)
    calendar = models.ForeignKey(BusinessCalendar, verbose_name=_("business calendar"),
                                 null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="policies",
                                 help_text=_("Empty: the default calendar."))
    first_response_hours = models.DecimalField(_("first response within (business hours)"),
                                               max_digits=7, decimal_places=2, null=True,
                                               blank=True)
    next_response_hours = models.DecimalField(_("next response within (business hours)"),
                                              max_digits=7, decimal_places=2, null=True,
                                              blank=True)
    resolution_hours = models.DecimalField(_("resolution within (business hours)"),
                                           max_digits=7, decimal_places=2, null=True, blank=True)
    pause_statuses = models.JSONField(_("clocks pause in"), default=list, blank=True)
    warn_percent = models.PositiveSmallIntegerField(_("warn at (% of target)"), default=80)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.name


class TicketSLA(models.Model):
    """A ticket's SLA clocks as last computed from its status history and messages: per clock
    the target, the business seconds used, when it started and stopped, when it falls due and
    warns (running clocks only), and whether it was breached. `warned` and `breached` are bit
    sets (1 first response, 2 next response, 4 resolution) of the events already emitted, so
    each fires once per ticket and clock however often the clocks are recomputed."""

    ticket = models.OneToOneField("transactions.Ticket", primary_key=True,
                                  on_delete=models.CASCADE, related_name="sla")
    policy = models.ForeignKey(SLAPolicy, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="+")
    paused = models.BooleanField(default=False)
    first_response_target = models.PositiveIntegerField(null=True)
    first_response_elapsed = models.PositiveIntegerField(default=0)
    first_response_started_at = models.DateTimeField(null=True)
    first_response_stopped_at = models.DateTimeField(null=True)
    first_response_due_at = models.DateTimeField(null=True)
    first_response_warn_at = models.DateTimeField(null=True)
    first_response_breached = models.BooleanField(default=False)
    next_response_target = models.PositiveIntegerField(null=True)
    next_response_elapsed = models.PositiveIntegerField(default=0)
    next_response_started_at = models.DateTimeField(null=True)
    next_response_stopped_at = models.DateTimeField(null=True)
    next_response_due_at = models.DateTimeField(null=True)
    next_response_warn_at = models.DateTimeField(null=True)
    next_response_breached = models.BooleanField(default=False)
    resolution_target = models.PositiveIntegerField(null=True)
    resolution_elapsed = models.PositiveIntegerField(default=0)
    resolution_started_at = models.DateTimeField(null=True)
    resolution_stopped_at = models.DateTimeField(null=True)
    resolution_due_at = models.DateTimeField(null=True)
    resolution_warn_at = models.DateTimeField(null=True)
    resolution_breached = models.BooleanField(default=False)
    due_at = models.DateTimeField(null=True, db_index=True)
    attention_at = models.DateTimeField(null=True, db_index=True)
    next_check_at = models.DateTimeField(null=True, db_index=True)
    warned = models.PositiveSmallIntegerField(default=0)
    breached = models.PositiveSmallIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("ticket SLA clocks")
        verbose_name_plural = _("ticket SLA clocks")

    def __str__(self) -> str:
        return f"SLA of ticket {self.ticket_id}"


class SatisfactionSurvey(models.Model):
    """A satisfaction survey sent for a resolved ticket: a signed, single-use link that
    expires; the answer (1–5 stars, comment, optional NPS 0–10) lands on the ticket."""

    CHANNELS = [("email", _("Email")), ("sms", _("SMS")), ("link", _("Link shared by the agent")),
                ("phone", _("Entered by an agent on the phone"))]

    ticket = models.ForeignKey("transactions.Ticket", on_delete=models.CASCADE,
                               related_name="surveys")
    nonce = models.CharField(max_length=32, unique=True)
    channel = models.CharField(_("channel"), max_length=8, choices=CHANNELS)
    sent_at = models.DateTimeField(_("sent"))
    expires_at = models.DateTimeField(_("expires"))
    delivery_error = models.CharField(_("delivery problem"), max_length=200, blank=True)
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    nps = models.PositiveSmallIntegerField(_("likelihood to recommend (0–10)"), null=True,
                                           blank=True)
    comment = models.TextField(_("comment"), blank=True)
    by_agent = models.BooleanField(_("entered by an agent"), default=False)
    sent_by = models.ForeignKey("accounts.User", null=True, blank=True,
                                on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")
        indexes = [models.Index(fields=["ticket", "-sent_at"], name="survey_ticket")]

    def __str__(self) -> str:
        return f"survey {self.pk} of ticket {self.ticket_id}"


class Complaint(models.Model):
    """The complaint record of a complaint ticket: category, severity, and on closing the root
    cause and corrective action. Personal-information complaints go to compliance."""

    CATEGORIES = [("product_quality", _("Product quality")), ("delivery", _("Delivery")),
                  ("service_attitude", _("Service attitude")), ("billing", _("Billing")),
                  ("privacy", _("Personal information"))]
    SEVERITIES = [("low", _("Minor")), ("medium", _("Moderate")), ("high", _("Serious")),
                  ("critical", _("Critical"))]

    ticket = models.OneToOneField("transactions.Ticket", primary_key=True,
                                  on_delete=models.CASCADE, related_name="complaint")
    category = models.CharField(_("category"), max_length=20, choices=CATEGORIES)
    severity = models.CharField(_("severity"), max_length=10, choices=SEVERITIES,
                                default="medium")
    root_cause = models.TextField(_("root cause"), blank=True)
    corrective_action = models.TextField(_("corrective action"), blank=True)
    routed_to = models.ForeignKey("accounts.User", verbose_name=_("routed to"), null=True,
                                  blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        indexes = [models.Index(fields=["category"], name="complaint_category")]

    def __str__(self) -> str:
        return f"complaint {self.ticket_id} ({self.category})"
