"""Every write of the outbound webhooks: endpoints (created, changed, secret rotated,
disabled, deleted — audited, with domain events), and deliveries: one row per (endpoint,
event) made by the `integration.webhooks` subscriber, sent after commit and retried on a
schedule until delivered, refused for good (410) or out of tries."""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import json
import logging
import random
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook

from kehu.core.actor import Actor
from kehu.core.crypto import decrypt, encrypt
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import EVENT_TYPES, Event, record_change
from kehu.integration import transport
from kehu.integration.models import WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

# After a failed attempt, wait this long before the next (with ±10 % jitter): from 5 s to a
# day apart, over about three days in all, then give up.
RETRY_DELAYS = [dt.timedelta(seconds=5), dt.timedelta(minutes=5), dt.timedelta(minutes=30),
                dt.timedelta(hours=2), dt.timedelta(hours=5), dt.timedelta(hours=10),
                dt.timedelta(hours=14), dt.timedelta(hours=20), dt.timedelta(hours=24)]
ROTATION_GRACE = dt.timedelta(hours=24)  # the previous secret still signs for this long
LEASE = dt.timedelta(minutes=2)  # an attempt in flight; another worker will not take it
MAX_PATTERNS = 50
_SENDING_BATCH = 200


# Endpoints -----------------------------------------------------------------------------------


def new_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _clean_patterns(event_types: Any) -> list[str]:
    if not isinstance(event_types, list) or not event_types:
        raise ValidationFailed(details={"event_types": [
            _("Choose at least one event type (or “*” for every event).")]})
    if len(event_types) > MAX_PATTERNS:
        raise ValidationFailed(details={"event_types": [
            _("At most %d event types.") % MAX_PATTERNS]})
    cleaned: list[str] = []
    for index, pattern in enumerate(event_types):
        pattern = str(pattern).strip()
        matches = pattern == "*" or any(fnmatch.fnmatchcase(t, pattern) for t in EVENT_TYPES)
        if not matches or len(pattern) > 60:
            raise ValidationFailed(details={f"event_types[{index}]": [
                _("“%s” matches no event type (see docs/events.md).") % pattern]})
        if pattern not in cleaned:
            cleaned.append(pattern)
    return cleaned


def _check_url(url: str, *, allow_private: bool) -> str:
    url = (url or "").strip()
    if not url or len(url) > 500:
        raise ValidationFailed(details={"url": [_("Give the receiver's URL (at most 500 "
                                                  "characters).")]})
    try:
        transport.resolve(url, allow_private=allow_private, must_resolve=False)
    except transport.Refused as exc:
        raise ValidationFailed(details={"url": [str(exc)]}) from None
    return url


def _snapshot(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {"url": endpoint.url, "description": endpoint.description,
            "event_types": list(endpoint.event_types), "is_active": endpoint.is_active,
            "allow_private_network": endpoint.allow_private_network}


def _record(actor: Actor, action: str, event: str, endpoint: WebhookEndpoint,
            changes: dict[str, Any]) -> None:
    record_change(actor=actor, action=action, event=event, object_type="webhook",
                  object_id=endpoint.pk, object_repr=str(endpoint)[:200], changes=changes)


def webhook_create(*, actor: Actor, url: str, event_types: list[str], description: str = "",
                   allow_private_network: bool = False) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its secret (shown once; kehu keeps it encrypted)."""
    actor.require("webhook.manage")
    patterns = _clean_patterns(event_types)
    url = _check_url(url, allow_private=allow_private_network)
    secret = new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            url=url, description=(description or "").strip()[:200], event_types=patterns,
            secret_encrypted=encrypt(secret), allow_private_network=allow_private_network,
            created_by=actor.user)
        _record(actor, "webhook.create", "webhook.created", endpoint, _snapshot(endpoint))
    return endpoint, secret


def _locked(endpoint_id: int) -> WebhookEndpoint:
    endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound()
    return endpoint


def webhook_update(*, actor: Actor, endpoint_id: int, url: str | None = None,
                   event_types: list[str] | None = None, description: str | None = None,
                   is_active: bool | None = None,
                   allow_private_network: bool | None = None) -> WebhookEndpoint:
    """Change an endpoint; enabling it again clears its failure record and retries what is
    waiting."""
    actor.require("webhook.manage")
    with transaction.atomic():
        endpoint = _locked(endpoint_id)
        before = _snapshot(endpoint)
        if allow_private_network is not None:
            endpoint.allow_private_network = allow_private_network
        if event_types is not None:
            endpoint.event_types = _clean_patterns(event_types)
        if url is not None or allow_private_network is not None:
            endpoint.url = _check_url(url if url is not None else endpoint.url,
                                      allow_private=endpoint.allow_private_network)
        if description is not None:
            endpoint.description = description.strip()[:200]
        if is_active is not None and is_active != endpoint.is_active:
            endpoint.is_active = is_active
            endpoint.disabled_reason = "" if is_active else _("Disabled by %s") % actor.label
            if is_active:
                endpoint.failing_since = None
        endpoint.save()
        after = _snapshot(endpoint)
        changed = {k: {"before": before[k], "after": after[k]} for k in after
                   if before[k] != after[k]}
        if changed:
            _record(actor, "webhook.update", "webhook.updated", endpoint, changed)
        if is_active:
            transaction.on_commit(_schedule_due)
    return endpoint


def webhook_rotate_secret(*, actor: Actor, endpoint_id: int) -> tuple[WebhookEndpoint, str]:
    """A new secret; the previous one keeps signing (as a second signature) for 24 hours so
    the receiver can switch without losing a call."""
    actor.require("webhook.manage")
    secret = new_secret()
    with transaction.atomic():
        endpoint = _locked(endpoint_id)
        endpoint.previous_secret_encrypted = endpoint.secret_encrypted
        endpoint.previous_secret_expires_at = timezone.now() + ROTATION_GRACE
        endpoint.secret_encrypted = encrypt(secret)
        endpoint.save(update_fields=["previous_secret_encrypted", "previous_secret_expires_at",
                                     "secret_encrypted", "updated_at"])
        _record(actor, "webhook.rotate_secret", "webhook.secret_rotated", endpoint,
                {"previous_valid_until": endpoint.previous_secret_expires_at.isoformat()})
    return endpoint, secret


def webhook_delete(*, actor: Actor, endpoint_id: int) -> None:
    """Delete an endpoint and its delivery log."""
    actor.require("webhook.manage")
    with transaction.atomic():
        endpoint = _locked(endpoint_id)
        _record(actor, "webhook.delete", "webhook.deleted", endpoint, _snapshot(endpoint))
        endpoint.delete()


def endpoint_wants(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return any(p == "*" or fnmatch.fnmatchcase(event_type, p) for p in endpoint.event_types)


# Deliveries ----------------------------------------------------------------------------------


def message_body(event: Event) -> str:
    """The JSON sent for an event: Standard Webhooks' {type, timestamp, data}. `data` is the
    domain event as subscribers see it: sensitive values (ID numbers, phones …) are already
    references there, never the values."""
    return json.dumps({
        "type": event.type,
        "timestamp": event.occurred_at.isoformat(),
        "data": {"event_id": event.id, "object": {"type": event.object_type,
                                                  "id": event.object_id,
                                                  "name": event.object_repr},
                 "customer_id": event.customer_id, "actor": event.actor.label,
                 "via": event.actor.via, "changes": event.changes},
    }, ensure_ascii=False, separators=(",", ":"), default=str)


def webhook_deliveries_enqueue(event: Event) -> int:
    """The `integration.webhooks` subscriber: one delivery per active endpoint that wants the
    event (exactly once: the subscriber's own delivery record commits with these rows), sent
    after commit."""
    endpoints = [e for e in WebhookEndpoint.objects.filter(is_active=True)
                 if endpoint_wants(e, event.type)]
    if not endpoints:
        return 0
    body = message_body(event)
    rows = [WebhookDelivery(endpoint=e, event_id=event.id, event_type=event.type,
                            message_id=f"msg_{event.id}", body=body) for e in endpoints]
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(_schedule_due)
    return len(rows)


def _schedule_due() -> None:
    from kehu.integration.tasks import webhooks_send_due_task

    webhooks_send_due_task()


def _signature(endpoint: WebhookEndpoint, message_id: str, at: dt.datetime, body: str) -> str:
    signatures = [Webhook(decrypt(endpoint.secret_encrypted)).sign(message_id, at, body)]
    if (endpoint.previous_secret_encrypted and endpoint.previous_secret_expires_at
            and endpoint.previous_secret_expires_at > at):
        signatures.append(Webhook(decrypt(endpoint.previous_secret_encrypted))
                          .sign(message_id, at, body))
    return " ".join(signatures)


def _claim(delivery_id: int, now: dt.datetime) -> bool:
    """Take a due delivery for one attempt (a lease), so two workers never send it twice."""
    return bool(WebhookDelivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now), pk=delivery_id,
        status__in=(WebhookDelivery.PENDING, WebhookDelivery.FAILED),
        endpoint__is_active=True,
    ).update(next_attempt_at=now + LEASE))


def webhook_attempt(*, delivery_id: int, now: dt.datetime | None = None) -> str | None:
    """Send one due delivery once: signed, to the address the SSRF guard resolved. 2xx:
    delivered; 410: given up and the endpoint disabled; anything else: retried later (given
    up after the last delay). Returns the new status, or None when it was not due."""
    now = now or timezone.now()
    if not _claim(delivery_id, now):
        return None
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    code, text, error = None, "", ""
    try:
        target = transport.resolve(endpoint.url, allow_private=endpoint.allow_private_network)
        headers = {"content-type": "application/json", "user-agent": "kehu-webhooks/1",
                   "webhook-id": delivery.message_id,
                   "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": _signature(endpoint, delivery.message_id, now,
                                                   delivery.body)}
        code, text = transport.post(target, delivery.body.encode("utf-8"), headers,
                                    timeout=settings.KEHU_WEBHOOK_TIMEOUT_SECONDS)
    except transport.Refused as exc:
        error = str(exc)
    except (OSError, ValueError) as exc:  # connection refused, timeout, TLS, bad answer
        error = f"{type(exc).__name__}: {exc}"[:500]
    return _settle(delivery, now=now, code=code, text=text, error=error)


def _settle(delivery: WebhookDelivery, *, now, code, text, error) -> str:
    with transaction.atomic():
        endpoint = _locked(delivery.endpoint_id)
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.last_status_code = code
        delivery.last_response = text
        delivery.last_error = error
        if code is not None and 200 <= code < 300:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                WebhookDelivery.SUCCEEDED, now, None)
            if endpoint.failing_since is not None:
                endpoint.failing_since = None
                endpoint.save(update_fields=["failing_since"])
        elif code == 410:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.GAVE_UP, None
            _disable(endpoint, _("The receiver answered 410 Gone: it no longer wants these "
                                 "calls."))
        else:
            if delivery.attempts > len(RETRY_DELAYS):
                delivery.status, delivery.next_attempt_at = WebhookDelivery.GAVE_UP, None
            else:
                delay = RETRY_DELAYS[delivery.attempts - 1]
                delivery.status = WebhookDelivery.FAILED
                delivery.next_attempt_at = now + delay * random.uniform(0.9, 1.1)  # noqa: S311
            if endpoint.failing_since is None:
                endpoint.failing_since = now
                endpoint.save(update_fields=["failing_since"])
            elif now - endpoint.failing_since > dt.timedelta(
                    days=settings.KEHU_WEBHOOK_DISABLE_AFTER_DAYS):
                _disable(endpoint, _("No call succeeded for %d days.")
                         % settings.KEHU_WEBHOOK_DISABLE_AFTER_DAYS)
        delivery.save()
    return delivery.status


def _disable(endpoint: WebhookEndpoint, reason: str) -> None:
    if not endpoint.is_active:
        return
    endpoint.is_active, endpoint.disabled_reason = False, reason[:300]
    endpoint.save(update_fields=["is_active", "disabled_reason", "updated_at"])
    record_change(actor=Actor.system(via="system"), action="webhook.disable",
                  event="webhook.disabled", object_type="webhook", object_id=endpoint.pk,
                  object_repr=str(endpoint)[:200],
                  changes={"is_active": {"before": True, "after": False}, "reason": reason})


def webhooks_send_due(*, now: dt.datetime | None = None, limit: int = _SENDING_BATCH) -> int:
    """Attempt every due delivery (oldest first, at most `limit`); the count attempted."""
    now = now or timezone.now()
    due = list(WebhookDelivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        status__in=(WebhookDelivery.PENDING, WebhookDelivery.FAILED), endpoint__is_active=True,
    ).order_by("id").values_list("pk", flat=True)[:limit])
    return sum(1 for pk in due if webhook_attempt(delivery_id=pk, now=now) is not None)


def webhook_delivery_replay(*, actor: Actor, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again now (whatever became of it), with the same message id so the
    receiver can tell it is the same message."""
    actor.require("webhook.manage")
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update().select_related("endpoint")
                    .filter(pk=delivery_id).first())
        if delivery is None:
            raise NotFound()
        if not delivery.endpoint.is_active:
            raise ValidationFailed(details={"endpoint": [
                _("Enable the webhook first; a disabled webhook sends nothing.")]})
        before = delivery.status
        delivery.status, delivery.next_attempt_at = WebhookDelivery.PENDING, None
        delivery.save(update_fields=["status", "next_attempt_at"])
        record_change(actor=actor, action="webhook.replay", event="webhook.replayed",
                      object_type="webhook", object_id=delivery.endpoint_id,
                      object_repr=str(delivery.endpoint)[:200],
                      changes={"delivery": delivery.pk, "event_id": delivery.event_id,
                               "status": {"before": before, "after": delivery.status}})
        transaction.on_commit(_schedule_due)
    return delivery
