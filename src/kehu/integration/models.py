"""Outbound webhooks: endpoints that subscribe to domain event types, and one delivery row per
(endpoint, event) with its attempts, so every call is logged, retried and replayable."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class WebhookEndpoint(models.Model):
    """A URL that receives the domain events it subscribed to, signed per Standard Webhooks
    with its own secret (kept encrypted; the previous one still signs during a rotation)."""

    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True)
    # Event type patterns ("customer.*", "deal.won"); "*" is every event.
    event_types = models.JSONField(_("event types"), default=list)
    secret_encrypted = models.TextField()
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=300, blank=True)
    # Private, loopback and link-local addresses are refused unless an admin allows this
    # endpoint's host (an on-premises system on the office network).
    allow_private_network = models.BooleanField(_("allow a private network address"),
                                                default=False)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook")
        verbose_name_plural = _("webhooks")

    def __str__(self) -> str:
        return self.description or self.url


class WebhookDelivery(models.Model):
    """One event sent (or to be sent) to one endpoint: the body as signed, each attempt's
    outcome, and when the next retry is due."""

    PENDING, SUCCEEDED, FAILED, GAVE_UP = "pending", "succeeded", "failed", "gave_up"
    STATUSES = [(PENDING, _("Waiting to be sent")), (SUCCEEDED, _("Delivered")),
                (FAILED, _("Failed, will retry")), (GAVE_UP, _("Failed, no more retries"))]

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE,
                                 related_name="deliveries", verbose_name=_("webhook"))
    event_id = models.BigIntegerField(_("event"))
    event_type = models.CharField(_("event type"), max_length=60)
    message_id = models.CharField(_("message id"), max_length=40)
    body = models.TextField(_("body"))
    status = models.CharField(_("status"), max_length=10, choices=STATUSES, default=PENDING)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_status_code = models.PositiveIntegerField(_("response status"), null=True, blank=True)
    last_response = models.TextField(_("response"), blank=True)
    last_error = models.CharField(_("error"), max_length=500, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [models.UniqueConstraint(fields=["endpoint", "event_id"],
                                               name="webhook_delivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"
