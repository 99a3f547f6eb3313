"""The behaviour layer: logged interactions, follow-up tasks, and high-volume events."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Interaction(models.Model):
    """A contact with the customer that a person logged. Append-only: corrections are new rows."""

    KINDS = [("call", _("Call")), ("visit", _("Visit")), ("meeting", _("Meeting")),
             ("email", _("Email")), ("sms", _("SMS")), ("wechat", _("WeChat")),
             ("note", _("Note")), ("inquiry", _("Inquiry"))]
    DIRECTIONS = [("outbound", _("Outbound")), ("inbound", _("Inbound"))]

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="interactions")
    kind = models.CharField(_("type"), max_length=10, choices=KINDS)
    direction = models.CharField(_("direction"), max_length=8, choices=DIRECTIONS,
                                 default="outbound")
    occurred_at = models.DateTimeField(_("time"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("by"), null=True,
                              blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(_("channel"), max_length=30, blank=True)
    summary = models.TextField(_("summary"))
    outcome = models.CharField(_("outcome"), max_length=200, blank=True)
    next_follow_up = models.DateField(_("next follow-up"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        indexes = [models.Index(fields=["customer", "-occurred_at"], name="inter_cust_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d}"


class FollowUpTask(models.Model):
    """A reminder for the owner, usually created by an interaction's next follow-up date."""

    STATUSES = [("open", _("Open")), ("done", _("Done")), ("cancelled", _("Cancelled"))]

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="follow_ups")
    interaction = models.ForeignKey(Interaction, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="follow_ups")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assignee"), null=True,
                                 blank=True, on_delete=models.SET_NULL, related_name="follow_ups")
    title = models.CharField(pgettext_lazy("task", "title"), max_length=200)
    due_date = models.DateField(_("due"), db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default="open")
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_date", "id"]
        verbose_name = _("follow-up")
        verbose_name_plural = _("follow-ups")
        indexes = [models.Index(fields=["assignee", "status", "due_date"], name="task_assignee")]

    def __str__(self) -> str:
        return f"{self.title} ({self.due_date:%Y-%m-%d})"


class Event(models.Model):
    """A behavioural event (page view, app login, email open …) with a free property bag.

    Written in bulk by integrations; indexed by customer and time and by type and time.
    """

    TYPES = [("page_view", _("Page view")), ("app_login", _("App login")),
             ("email_open", _("Email opened")), ("email_click", _("Email clicked")),
             ("campaign_join", _("Joined campaign")), ("form_submit", _("Form submitted")),
             ("product_view", _("Product viewed")), ("cart_add", _("Added to cart")),
             ("search", _("Searched"))]

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="events")
    event_type = models.CharField(_("event"), max_length=40)
    occurred_at = models.DateTimeField(_("time"))
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    source = models.CharField(_("source"), max_length=40, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(fields=["customer", "-occurred_at"], name="event_cust_time"),
            models.Index(fields=["event_type", "-occurred_at"], name="event_type_time"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.occurred_at:%Y-%m-%d %H:%M}"
