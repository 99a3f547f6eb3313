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
        # message_id is "msg_<event key>": an envelope's events share its event_id.
        constraints = [models.UniqueConstraint(fields=["endpoint", "message_id"],
                                               name="webhook_delivery_once")]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.endpoint_id} ({self.status})"


# Event ingestion (Segment-compatible) ---------------------------------------------------


class IngestMessage(models.Model):
    """A messageId already accepted from one source (an API key, or a user's session): a
    replayed event or batch finds its ids here and stores nothing twice."""

    source = models.CharField(_("source"), max_length=40)
    message_id = models.CharField(_("message id"), max_length=200)
    received_at = models.DateTimeField(_("received"))

    class Meta:
        verbose_name = _("ingested message")
        verbose_name_plural = _("ingested messages")
        constraints = [models.UniqueConstraint(fields=["source", "message_id"],
                                               name="ingest_message_once")]

    def __str__(self) -> str:
        return f"{self.source}:{self.message_id}"


class Visitor(models.Model):
    """A profile-less visitor: an anonymousId (key `a:<id>`) or an app userId no customer has
    yet (key `u:<id>`). Its events wait here until an identify or alias links it to a customer;
    once linked (`customer`), later events from it go straight to that customer."""

    key = models.CharField(_("visitor id"), max_length=210, unique=True)
    user_id = models.CharField(_("user id"), max_length=200, blank=True, db_index=True,
                               help_text=_("The app user id an alias said this visitor is."))
    customer = models.ForeignKey("customers.Customer", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="+",
                                 verbose_name=_("customer"))
    first_seen = models.DateTimeField(_("first seen"))
    last_seen = models.DateTimeField(_("last seen"))

    class Meta:
        ordering = ["-last_seen", "-id"]
        verbose_name = _("visitor")
        verbose_name_plural = _("visitors")

    def __str__(self) -> str:
        return self.key


class VisitorEvent(models.Model):
    """An event of a visitor not (yet) linked to a customer; moved into the customer's events
    by a stitch, and back by its undo."""

    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="events",
                                verbose_name=_("visitor"))
    event_type = models.CharField(_("event"), max_length=40)
    occurred_at = models.DateTimeField(_("time"))
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    source = models.CharField(_("source"), max_length=40, blank=True)
    received_at = models.DateTimeField(_("received"))

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("visitor event")
        verbose_name_plural = _("visitor events")

    def __str__(self) -> str:
        return f"{self.visitor_id} {self.event_type}"


class Stitch(models.Model):
    """One visitor attached to one customer: which events moved (their new ids and their
    visitor form, so an undo restores the visitor exactly), by what and by whom."""

    IDENTIFY, ALIAS = "identify", "alias"
    REASONS = [(IDENTIFY, _("identify")), (ALIAS, _("alias"))]

    visitor = models.ForeignKey(Visitor, on_delete=models.CASCADE, related_name="stitches",
                                verbose_name=_("visitor"))
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE,
                                 related_name="+", verbose_name=_("customer"))
    reason = models.CharField(_("reason"), max_length=10, choices=REASONS)
    event_ids = models.JSONField(default=list)
    moved = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("stitched at"), auto_now_add=True)
    undone_at = models.DateTimeField(_("undone at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("stitch")
        verbose_name_plural = _("stitches")
        indexes = [models.Index(fields=["customer", "created_at"], name="stitch_cust_time")]

    def __str__(self) -> str:
        return f"{self.visitor_id} → {self.customer_id}"
