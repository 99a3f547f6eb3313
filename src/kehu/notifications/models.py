"""In-app notifications and the outbox of email and SMS messages."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    """One message in a user's notification centre (the bell). `dedupe_key` makes sending
    idempotent: a recipient gets at most one notification per key."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("recipient"),
                                  on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("kind"), max_length=40)
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    link = models.CharField(_("link"), max_length=500, blank=True)
    # An id, not a foreign key: notifications sit below the customers app.
    customer_id = models.BigIntegerField(_("customer"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)
    dedupe_key = models.CharField(_("deduplication key"), max_length=200, null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(fields=["recipient", "dedupe_key"],
                                    condition=Q(dedupe_key__isnull=False),
                                    name="notification_dedupe"),
        ]
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notification_recent"),
            # The bell counts these on every page: a partial index keeps it one probe.
            models.Index(fields=["recipient"], condition=Q(read_at__isnull=True),
                         name="notification_unread"),
        ]

    def __str__(self) -> str:
        return self.title


class OutboundMessage(models.Model):
    """An email or SMS on its way out: queued when a service asks for it, handed to the mail
    server or SMS provider by the worker after commit, retried with backoff, and kept with
    its outcome so that a failure is recorded, never silently lost."""

    EMAIL, SMS = "email", "sms"
    CHANNELS = [(EMAIL, _("Email")), (SMS, _("SMS"))]
    QUEUED, SENT, FAILED = "queued", "sent", "failed"
    STATUSES = [(QUEUED, _("Queued")), (SENT, _("Sent")), (FAILED, _("Failed"))]
    PURPOSES = [("service", _("Service")), ("marketing", _("Marketing")),
                ("notification", _("Notification"))]

    channel = models.CharField(_("channel"), max_length=10, choices=CHANNELS)
    # The addresses are kept (a retry needs them); bodies never go to the application logs.
    to = models.JSONField(_("to"), default=list)
    subject = models.CharField(_("subject"), max_length=300, blank=True)
    text = models.TextField(_("text"), blank=True)
    html = models.TextField(_("HTML"), blank=True)
    reply_to = models.CharField(_("reply to"), max_length=254, blank=True)
    headers = models.JSONField(_("headers"), default=dict, blank=True)
    purpose = models.CharField(_("purpose"), max_length=20, choices=PURPOSES, default="service")
    customer_id = models.BigIntegerField(_("customer"), null=True, blank=True, db_index=True)
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    # A worker sending it holds it until then (another worker leaves it alone).
    locked_until = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(_("provider message id"), max_length=200, blank=True)
    dedupe_key = models.CharField(_("deduplication key"), max_length=200, null=True,
                                  blank=True, unique=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("outbound message")
        verbose_name_plural = _("outbound messages")
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbound_due"),
            models.Index(fields=["-created_at"], name="outbound_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} #{self.pk}"
