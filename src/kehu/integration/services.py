"""Every write of the outbound webhooks: endpoints (created, changed, secret rotated,
disabled, deleted — audited, with domain events), and deliveries: one row per (endpoint,
event) made by the `integration.webhooks` subscriber, sent after commit and retried on a
schedule until delivered, refused for good (410) or out of tries."""

from __future__ import annotations

import base64
import datetime as dt
import fnmatch
import http.client
import json
import logging
import random
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook

from kehu.accounts.selectors import users_with_permission
from kehu.core.actor import Actor
from kehu.core.crypto import decrypt, encrypt
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import Event, delivered_types, record_change
from kehu.integration import transport
from kehu.integration.models import WebhookDelivery, WebhookEndpoint
from kehu.notifications.services import notification_send

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
_PARALLEL_CALLS = 16  # receivers called at once by one worker


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
        matches = pattern == "*" or any(fnmatch.fnmatchcase(t, pattern)
                                        for t in delivered_types())
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


RULE_CALL = "rule.webhook_called"


def webhook_call_from_rule(*, actor: Actor, endpoint_id: int, rule: dict[str, Any],
                           run_id: int, customer_id: int, customer_name: str) -> None:
    """A rule's "call a webhook" action: recorded as a `rule.webhook_called` domain event
    addressed to one endpoint, which the subscriber below turns into that endpoint's delivery
    (signed, retried and logged like every other), whatever event types it subscribed to."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None or not endpoint.is_active:
        raise ValidationFailed(details={"webhook": [
            _("The webhook #%d does not exist or is disabled.") % endpoint_id]})
    record_change(actor=actor, action="webhook.rule_call", event=RULE_CALL,
                  object_type="customer", object_id=customer_id, object_repr=customer_name,
                  changes={"webhook": endpoint.pk, "rule": rule, "run": run_id})


_ACTIVE: list[Any] = [None, []]  # [envelope id, its active endpoints]


def _wanted_by(event: Event) -> list[WebhookEndpoint]:
    active = WebhookEndpoint.objects.filter(is_active=True)
    if event.type == RULE_CALL:  # addressed to one endpoint, not to subscribers of "*"
        return list(active.filter(pk=event.changes.get("webhook")))
    if event.part:  # an envelope's events: its endpoints read once, not once per event
        if _ACTIVE[0] != event.id or event.part == 1:
            _ACTIVE[:] = [event.id, list(active)]
        active = _ACTIVE[1]
    return [e for e in active if endpoint_wants(e, event.type)]


def webhook_deliveries_enqueue(event: Event) -> int:
    """The `integration.webhooks` subscriber: one delivery per active endpoint that wants the
    event (exactly once: the subscriber's own delivery record commits with these rows), sent
    after commit."""
    endpoints = _wanted_by(event)
    if not endpoints:
        return 0
    body = message_body(event)
    rows = [WebhookDelivery(endpoint=e, event_id=event.id, event_type=event.type,
                            message_id=f"msg_{event.key}", body=body) for e in endpoints]
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(_schedule_due)
    return len(rows)


def _schedule_due() -> None:
    from kehu.integration.tasks import webhooks_send_due_task

    webhooks_send_due_task()


def _due(now: dt.datetime):
    return WebhookDelivery.objects.filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        status__in=(WebhookDelivery.PENDING, WebhookDelivery.FAILED), endpoint__is_active=True)


def _claim(ids: list[int], now: dt.datetime) -> list[WebhookDelivery]:
    """Take due deliveries for one attempt each (a lease marked with a value of its own), so
    two workers never send one twice; the ones this call got, with their endpoints."""
    lease = now + LEASE + dt.timedelta(microseconds=secrets.randbelow(10**6))
    _due(now).filter(pk__in=ids).update(next_attempt_at=lease)
    return list(WebhookDelivery.objects.select_related("endpoint")
                .filter(pk__in=ids, next_attempt_at=lease).order_by("id"))


def _call(delivery: WebhookDelivery, signature: str, now: dt.datetime
          ) -> tuple[int | None, str, str]:
    """One signed POST (no database): (status code, the answer's start, error text)."""
    endpoint = delivery.endpoint
    try:
        target = transport.resolve(endpoint.url, allow_private=endpoint.allow_private_network)
        headers = {"content-type": "application/json", "user-agent": "kehu-webhooks/1",
                   "webhook-id": delivery.message_id,
                   "webhook-timestamp": str(int(now.timestamp())),
                   "webhook-signature": signature}
        code, text = transport.post(target, delivery.body.encode("utf-8"), headers,
                                    timeout=settings.KEHU_WEBHOOK_TIMEOUT_SECONDS)
        return code, text, ""
    except transport.Refused as exc:
        return None, "", str(exc)
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # connection refused, timeout, TLS, a malformed answer
        return None, "", f"{type(exc).__name__}: {exc}"[:500]


def _send(claimed: list[WebhookDelivery], now: dt.datetime) -> dict[str, int]:
    """Sign, call (several at once: the time goes into waiting for receivers) and settle."""
    signers: dict[int, Any] = {}
    calls = []
    for delivery in claimed:
        endpoint = delivery.endpoint
        if endpoint.pk not in signers:
            signers[endpoint.pk] = _signers(endpoint, now)
        signature = " ".join(s.sign(delivery.message_id, now, delivery.body)
                             for s in signers[endpoint.pk])
        calls.append((delivery, signature))
    if len(calls) == 1:
        outcomes = [_call(calls[0][0], calls[0][1], now)]
    else:
        with ThreadPoolExecutor(max_workers=min(_PARALLEL_CALLS, len(calls))) as pool:
            outcomes = list(pool.map(lambda c: _call(c[0], c[1], now), calls))
    return _settle([(delivery, outcome) for (delivery, _s), outcome
                     in zip(calls, outcomes, strict=True)], now)


def _signers(endpoint: WebhookEndpoint, at: dt.datetime) -> list[Webhook]:
    signers = [Webhook(decrypt(endpoint.secret_encrypted))]
    if (endpoint.previous_secret_encrypted and endpoint.previous_secret_expires_at
            and endpoint.previous_secret_expires_at > at):
        signers.append(Webhook(decrypt(endpoint.previous_secret_encrypted)))
    return signers


def webhook_attempt(*, delivery_id: int, now: dt.datetime | None = None) -> str | None:
    """Send one due delivery once: signed, to the address the SSRF guard resolved. 2xx:
    delivered; 410: given up and the endpoint disabled; anything else: retried later (given
    up after the last delay). Returns the new status, or None when it was not due."""
    now = now or timezone.now()
    claimed = _claim([delivery_id], now)
    if not claimed:
        return None
    counts = _send(claimed, now)
    return next(iter(counts))


_SETTLED_FIELDS = ("attempts", "last_attempt_at", "last_status_code", "last_response",
                   "last_error", "status", "delivered_at", "next_attempt_at")


def _store(settled: list[WebhookDelivery]) -> None:
    """Write settled attempts with one UPDATE per identical outcome (a batch of successes
    is one statement; Django's bulk_update builds a CASE per row and field)."""
    groups: dict[tuple, list[int]] = {}
    for delivery in settled:
        key = tuple(getattr(delivery, f) for f in _SETTLED_FIELDS)
        groups.setdefault(key, []).append(delivery.pk)
    for key, ids in groups.items():
        for start in range(0, len(ids), 500):
            WebhookDelivery.objects.filter(pk__in=ids[start:start + 500]).update(
                **dict(zip(_SETTLED_FIELDS, key, strict=True)))


def _settle(results: list[tuple[WebhookDelivery, tuple[int | None, str, str]]],
            now: dt.datetime) -> dict[str, int]:
    """Record a batch of attempts in one transaction (each endpoint locked once): 2xx
    delivered; 410 given up and the endpoint disabled; anything else retried after the next
    delay, or given up after the last; an endpoint failing for days is disabled."""
    counts: dict[str, int] = {}
    with transaction.atomic():
        endpoints = {e.pk: e for e in WebhookEndpoint.objects.select_for_update().filter(
            pk__in={d.endpoint_id for d, _outcome in results})}
        failing_before = {pk: e.failing_since for pk, e in endpoints.items()}
        settled = []
        for delivery, (code, text, error) in results:
            endpoint = endpoints.get(delivery.endpoint_id)
            if endpoint is None:  # deleted meanwhile, with its deliveries
                continue
            delivery.attempts += 1
            delivery.last_attempt_at, delivery.last_status_code = now, code
            delivery.last_response, delivery.last_error = text, error
            if code is not None and 200 <= code < 300:
                delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                    WebhookDelivery.SUCCEEDED, now, None)
                endpoint.failing_since = None
            elif code == 410:
                delivery.status, delivery.next_attempt_at = WebhookDelivery.GAVE_UP, None
                _disable(endpoint, _("The receiver answered 410 Gone: it no longer wants "
                                     "these calls."))
            else:
                if delivery.attempts > len(RETRY_DELAYS):
                    delivery.status, delivery.next_attempt_at = WebhookDelivery.GAVE_UP, None
                else:
                    delay = RETRY_DELAYS[delivery.attempts - 1]
                    delivery.status = WebhookDelivery.FAILED
                    delivery.next_attempt_at = now + delay * random.uniform(0.9, 1.1)  # noqa: S311
                if endpoint.failing_since is None:
                    endpoint.failing_since = now
                elif now - endpoint.failing_since > dt.timedelta(
                        days=settings.KEHU_WEBHOOK_DISABLE_AFTER_DAYS):
                    _disable(endpoint, _("No call succeeded for %d days.")
                             % settings.KEHU_WEBHOOK_DISABLE_AFTER_DAYS)
            settled.append(delivery)
            counts[delivery.status] = counts.get(delivery.status, 0) + 1
        _store(settled)
        for pk, endpoint in endpoints.items():
            if endpoint.failing_since != failing_before[pk]:
                endpoint.save(update_fields=["failing_since"])
    return counts


def _disable(endpoint: WebhookEndpoint, reason: str) -> None:
    if not endpoint.is_active:
        return
    endpoint.is_active, endpoint.disabled_reason = False, reason[:300]
    endpoint.save(update_fields=["is_active", "disabled_reason", "updated_at"])
    system = Actor.system(via="system")
    record_change(actor=system, action="webhook.disable",
                  event="webhook.disabled", object_type="webhook", object_id=endpoint.pk,
                  object_repr=str(endpoint)[:200],
                  changes={"is_active": {"before": True, "after": False}, "reason": reason})
    # Whoever manages webhooks hears of it (the bell and the daily digest).
    notification_send(
        actor=system, recipients=users_with_permission("webhook.manage"),
        kind="webhook.disabled", title=_("Webhook disabled: %s") % str(endpoint)[:150],
        body=reason, link=reverse("integration:webhook", args=[endpoint.pk]),
        dedupe_key=f"webhook.disabled:{endpoint.pk}:{endpoint.updated_at.isoformat()}")


def webhooks_send_due(*, now: dt.datetime | None = None, limit: int = _SENDING_BATCH) -> int:
    """Attempt every due delivery (oldest first, at most `limit`); the count attempted."""
    now = now or timezone.now()
    ids = list(_due(now).order_by("id").values_list("pk", flat=True)[:limit])
    claimed = _claim(ids, now) if ids else []
    if not claimed:
        return 0
    return sum(_send(claimed, now).values())


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
