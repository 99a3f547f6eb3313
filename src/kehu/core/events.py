"""Domain events: the outbox every change writes, and its delivery to subscribers.

Writing: services call `record_change` (one change) or `record_changes_many` (bulk paths)
instead of `kehu.core.audit.audit_record`; each writes the audit entry AND a `DomainEvent`
row in the caller's transaction, so the change, its audit entry and its event commit or roll
back together. Changes that fan out to many customers under one audit entry (a segment's
members, a scoring run's tiers) add them as `related` events or call `emit_many`.

Event ids follow commit order: every writer takes the audit chain head's lock before its
events get their ids (and holds it to commit), so a dispatcher that has seen event N has
seen every event before it.

Delivering: apps register handlers in `AppConfig.ready()` with
`subscribe("customer.field_changed", handler, name="…")` ("customer.*" and "*" match
families). After commit a Huey task (and a periodic sweep) runs `dispatch`: per subscriber,
the events after its durable cursor are handed to its handler one by one, each inside a
savepoint of the transaction that records its `EventDelivery` and moves the cursor, so a
handler's database effect happens exactly once however often the worker dies or an event is
dispatched. Events of one customer reach a handler in order; a failing one is retried with
backoff (later events of that customer wait), and after `max_attempts` it is parked as a
dead letter (and the customer's later events go on), to be replayed from the events page or
`kehu events replay ID`. Other subscribers never wait for it.

Envelopes: a bulk writer may record one outbox row standing for many events (a batch of
ingested events: `event.batch_ingested` with the ids of the stored rows) instead of a row
each; the app that owns them registers how to expand it (`register_envelope`). Subscribers
never see the envelope: they get its events one by one, each with the envelope's id and its
own `part` (so `Event.key`, "id" or "id.part", tells them apart), delivered, retried and
parked together as one delivery of the envelope.

Payloads never copy a sensitive value: fields registered with `register_sensitive` (the
customer's phones, emails, ID number, birthday, addresses) appear as a reference to the field,
which a subscriber reads through the selectors with its own purpose's rights.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import logging
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.core.audit import PendingEntry, audit_record, audit_record_many, canonical
from kehu.core.models import (
    AuditChainHead,
    AuditEntry,
    DomainEvent,
    EventDelivery,
    EventSubscriberState,
)

log = logging.getLogger(__name__)

# The event types kehu emits (docs/events.md describes each payload).
EVENT_TYPES = frozenset({
    "customer.created", "customer.field_changed", "customer.deleted", "customer.merged",
    "customer.unmerged", "tag.added", "tag.removed", "tag.updated",
    "tag_group.created", "tag_group.updated", "tag_group.deleted",
    "customfield.created", "customfield.updated", "savedview.saved", "savedview.deleted",
    "order.created", "order.status_changed", "product.created", "product.updated",
    "ticket.opened", "ticket.updated", "ticket.closed", "ticket.reopened", "ticket.rated",
    "interaction.logged", "followup.created", "followup.completed", "followup.rescheduled",
    "followup.cancelled", "event.ingested",
    "value.tier_changed", "value.segment_changed", "lifecycle.changed",
    "scoring.settings_changed", "scoring.run_finished",
    "churn.risk_changed", "churn.scored", "churn.model_fitted", "churn.settings_changed",
    "signal.detected", "signal.run_finished", "signal.rule_changed", "recommendations.built",
    "segment.created", "segment.updated", "segment.deleted", "segment.refreshed",
    "segment.entered", "segment.left",
    "duplicate.found", "duplicate.dismissed", "duplicate.scan_requested", "survivorship.changed",
    "fieldrule.created", "fieldrule.updated", "fieldrule.deleted",
    "quality.settings_changed", "quality.recomputed", "quality.snapshot_taken",
    "quality.reminders_created",
    "role.created", "role.updated", "team.created", "team.updated", "user.created",
    "user.updated", "user.password_changed", "user.unlocked", "apikey.created",
    "apikey.revoked", "import_template.saved", "import_template.deleted", "import.finished",
    "demo.loaded",
    "assignment.decided", "assignment_rule.created", "assignment_rule.updated",
    "assignment_rule.deleted", "book.transferred",
    "formlayout.saved", "formlayout.deleted", "fieldbehaviour.saved", "fieldbehaviour.deleted",
    "webhook.created", "webhook.updated", "webhook.deleted", "webhook.secret_rotated",
    "webhook.disabled", "webhook.replayed", "rule.webhook_called",
    "consent.granted", "consent.withdrawn", "consent.expired", "consent.link_created",
    "consent_purpose.saved", "legal_hold.placed", "legal_hold.released", "customer.erased",
    "privacy.request_opened", "privacy.request_verified", "privacy.request_closed",
    "privacy.request_escalated", "retention.policy_changed", "retention.applied",
    "assessment.saved", "user.2fa_enabled", "user.2fa_disabled", "user.session_revoked",
    "calendar.created", "calendar.updated", "calendar.day_set", "calendar.day_removed",
    "calendar.holidays_loaded", "sla_policy.created", "sla_policy.updated", "sla_policy.deleted",
    "ticket.sla_warning", "ticket.sla_breached", "ticket.escalated", "ticket.replied",
    "ticket.note_added", "ticket.customer_replied", "ticket.merged", "ticket.unmerged",
    "survey.sent", "survey.answered",
    "complaint.recorded", "complaint.updated", "complaint.routed",
    "rule.created", "rule.updated", "rule.activated", "rule.paused", "rule.deleted",
    "visitor.stitched", "visitor.unstitched", "visitor.events_ingested",
    "event.batch_ingested",
    "notification.sent", "followup.snoozed", "followup.reassigned", "message.requeued",
    "message.redacted",
    "pipeline.created", "pipeline.updated", "deal.created", "deal.updated", "deal.stage_changed",
    "deal.won", "deal.lost", "quote.created", "quote.updated", "quote.sent", "quote.accepted",
    "quote.rejected", "quote.expired", "contract.created", "contract.updated", "contract.signed",
    "contract.status_changed", "contract.attachment_added", "contract.renewal_reminded",
    "payment_plan.set", "payment.received", "payment.overdue", "invoice.requested",
    "invoice.status_changed", "target.set", "forecast.snapshot_taken",
    "prediction.scored", "prediction.changed",
    "report.saved", "report.deleted", "report_dashboard.saved", "report_dashboard.deleted",
    "report_subscription.changed",
})
TYPE_MAX = 60
REPR_MAX = 200


# Sensitive values -------------------------------------------------------------------------

# object type -> change key -> the sensitive field it holds, or a function of the value
# giving that field ("" when the value is not sensitive).
_SENSITIVE: dict[str, dict[str, str | Callable[[Any], str]]] = {}


def register_sensitive(object_type: str, fields: dict[str, str | Callable[[Any], str]]) -> None:
    """Declare which change keys of `object_type` hold sensitive values (apps call it in
    ready()); events carry a reference to them, never the value."""
    _SENSITIVE.setdefault(object_type, {}).update(fields)


def _reference(name: str, change: Any) -> dict[str, Any]:
    after = change.get("after") if isinstance(change, dict) else change
    return {"ref": name, "cleared": after in (None, "", [], {})}


def redact(object_type: str, changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` with every sensitive value replaced by {"ref": field, "cleared": bool}."""
    rules = _SENSITIVE.get(object_type)
    if not rules or not changes:
        return changes
    out = None
    for key, rule in rules.items():
        if key not in changes:
            continue
        change = changes[key]
        if callable(rule):
            values = ([change.get("before"), change.get("after")] if isinstance(change, dict)
                      else [change])
            name = next((n for n in (rule(v) for v in values if v) if n), "")
        else:
            name = rule
        if name:
            if out is None:
                out = dict(changes)
            out[key] = _reference(name, change)
    return changes if out is None else out


# Writing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Related:
    """An event that hangs off another change's audit entry (a customer entering a segment
    the refresh of which is audited once)."""

    type: str
    object_type: str = ""
    object_id: Any = ""
    object_repr: str = ""
    customer_id: int | None = None
    changes: dict[str, Any] | None = None


@dataclass(frozen=True)
class Change(PendingEntry):
    """One entry for `record_changes_many`: the audit entry plus its event type (and the
    customer it concerns when the object is not the customer itself)."""

    event: str = ""
    customer_id: int | None = None


_EVENT_COLUMNS = ("type", "object_type", "object_id", "object_repr", "customer_id",
                  "actor_user_id", "actor_label", "via", "changes", "audit_seq", "occurred_at")


def _customer_of(object_type: str, object_id: Any, customer_id: Any) -> int | None:
    if customer_id not in (None, ""):
        return int(customer_id)
    if object_type == "customer" and object_id not in (None, ""):
        try:
            return int(object_id)
        except (TypeError, ValueError):
            return None
    return None


def _check_type(event: str) -> None:
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event!r}: add it to EVENT_TYPES and docs/events.md")


def _row(actor: Actor, at: dt.datetime, *, type: str, object_type: str, object_id: Any,
         object_repr: str, customer_id: int | None, changes: dict[str, Any] | None,
         audit_seq: int | None, clean: bool = False) -> tuple:
    _check_type(type)
    user = actor.user
    plain = changes if clean else canonical(changes or {})
    return (type, object_type, str(object_id) if object_id not in (None, "") else "",
            str(object_repr or "")[:REPR_MAX],
            _customer_of(object_type, object_id, customer_id),
            user.pk if user is not None else None, actor.label[:200], actor.via,
            redact(object_type, plain or {}), audit_seq, at)


def _insert(rows: list[tuple]) -> None:
    if not rows:
        return
    from kehu.core.bulkdb import insert_rows

    if len(rows) == 1:
        DomainEvent.objects.create(**dict(zip(_EVENT_COLUMNS, rows[0], strict=True)))
    else:
        # Bulk paths (a million rows an import): the values in their database form here,
        # JSON serialised once by the C encoder (the changes are plain JSON values already).
        adapted: dict[dt.datetime, Any] = {}
        adapt = connection.ops.adapt_datetimefield_value
        dumps = _DUMPS
        prepared = []
        for row in rows:
            at = row[10]
            if at not in adapted:
                adapted[at] = adapt(at)
            prepared.append((*row[:8], dumps(row[8]), row[9], adapted[at]))
        insert_rows(DomainEvent, _EVENT_COLUMNS, prepared, prepared=True)
    _dispatch_after_commit()


_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def record_change(
    *,
    actor: Actor,
    action: str,
    event: str | None,
    object_type: str = "",
    object_id: Any = "",
    object_repr: str = "",
    changes: dict[str, Any] | None = None,
    customer_id: int | None = None,
    related: Sequence[Related] = (),
) -> AuditEntry:
    """Audit a change (as `audit_record`) and write its domain event `event` (None when the
    `related` events describe it wholly) in the caller's transaction."""
    if event is None and not related:
        raise ValueError(f"{action!r} changes data: give its event type")
    with transaction.atomic():
        entry = audit_record(actor=actor, action=action, object_type=object_type,
                             object_id=object_id, object_repr=object_repr, changes=changes)
        rows = []
        if event is not None:
            rows.append(_row(actor, entry.at, type=event, object_type=object_type,
                             object_id=object_id, object_repr=object_repr,
                             customer_id=customer_id, changes=entry.changes,
                             audit_seq=entry.seq, clean=True))
        rows.extend(_row(actor, entry.at, type=r.type, object_type=r.object_type,
                         object_id=r.object_id, object_repr=r.object_repr,
                         customer_id=r.customer_id, changes=r.changes, audit_seq=entry.seq)
                    for r in related)
        _insert(rows)
    return entry


def record_changes_many(*, actor: Actor, entries: list[Change]) -> int:
    """`audit_record_many` plus one event per entry, written set-based (bulk paths: imports).
    Must run inside the caller's transaction; returns the count."""
    if not entries:
        return 0
    with transaction.atomic():
        count = audit_record_many(actor=actor, entries=list(entries))
        last = AuditChainHead.objects.filter(id=1).values_list("last_seq", flat=True).first()
        first = (last or count) - count + 1
        now = timezone.now()
        rows = []
        for offset, entry in enumerate(entries):
            if not entry.event:
                raise ValueError(f"entry {entry.action!r} has no event type")
            rows.append(_row(actor, now, type=entry.event, object_type=entry.object_type,
                             object_id=entry.object_id, object_repr=entry.object_repr,
                             customer_id=entry.customer_id, changes=entry.changes,
                             audit_seq=first + offset, clean=entry.canonical))
        _insert(rows)
    return count


def emit_many(*, actor: Actor, events: Iterable[Related]) -> int:
    """Events whose record is kept elsewhere (a scoring run's tier history rows, written in
    the same transaction) without an audit entry each. Must run inside the caller's
    transaction; returns the count."""
    with transaction.atomic():
        rows = []
        now = timezone.now()
        for r in events:
            rows.append(_row(actor, now, type=r.type, object_type=r.object_type,
                             object_id=r.object_id, object_repr=r.object_repr,
                             customer_id=r.customer_id, changes=r.changes, audit_seq=None))
        if rows:
            # The audit chain's lock orders event ids by commit (see the module docstring).
            AuditChainHead.objects.select_for_update().filter(id=1).first() or \
                AuditChainHead.objects.get_or_create(id=1)
            _insert(rows)
    return len(rows)


def _dispatch_after_commit() -> None:
    """Schedule one dispatch for when the outermost transaction commits."""
    if any(item[1] is _dispatch_soon for item in connection.run_on_commit):
        return
    transaction.on_commit(_dispatch_soon)


def _dispatch_soon() -> None:
    try:
        from kehu.core.tasks import events_dispatch

        events_dispatch()
    except Exception:  # the periodic sweep delivers what a lost hook leaves behind
        log.exception("could not schedule the events dispatch")


# Subscribing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventActor:
    user_id: int | None
    label: str
    via: str


@dataclass(frozen=True)
class Event:
    """What a handler receives: plain values, never ORM objects. `changes` is decoded on
    first use (most handlers look only at the type and the customer)."""

    id: int
    type: str
    object_type: str
    object_id: str
    object_repr: str
    customer_id: int | None
    actor: EventActor
    changes_json: str = field(repr=False)
    audit_seq: int | None
    occurred_at: dt.datetime
    part: int = 0  # an envelope's n-th event (1-based); 0 for an event of its own

    @property
    def key(self) -> str:
        """Unique per event as subscribers see it: the id, "id.part" inside an envelope."""
        return f"{self.id}.{self.part}" if self.part else str(self.id)

    @cached_property
    def changes(self) -> dict[str, Any]:
        return json.loads(self.changes_json) if self.changes_json else {}


_FIELDS = ("id", "type", "object_type", "object_id", "object_repr", "customer_id",
           "actor_user_id", "actor_label", "via", "changes_text", "audit_seq", "occurred_at")


def _events(queryset, limit: int | None = None) -> list[tuple]:
    """The rows of `queryset` as _FIELDS tuples, `changes` as its JSON text (not decoded)."""
    rows = queryset.annotate(changes_text=Cast("changes", TextField())).values_list(*_FIELDS)
    return list(rows if limit is None else rows[:limit])


def _event(row: tuple) -> Event:
    return Event(id=row[0], type=row[1], object_type=row[2], object_id=row[3],
                 object_repr=row[4], customer_id=row[5],
                 actor=EventActor(row[6], row[7], row[8]), changes_json=row[9] or "",
                 audit_seq=row[10], occurred_at=row[11])


# Envelope type -> its expansion: the events the envelope stands for, in order.
_ENVELOPES: dict[str, Callable[[Event], list[Event]]] = {}
_ENVELOPE_TYPES: dict[str, tuple[str, ...]] = {}  # the types an envelope expands to


def register_envelope(event_type: str, expand: Callable[[Event], list[Event]], *,
                      types: Sequence[str]) -> None:
    """Declare `event_type` an envelope: delivered as the events `expand` gives (each a copy
    of the envelope with its own type among `types`, object, customer, changes and `part`).
    Subscribers that want none of `types` skip it without expanding it."""
    _check_type(event_type)
    for inner in types:
        _check_type(inner)
    _ENVELOPES[event_type] = expand
    _ENVELOPE_TYPES[event_type] = tuple(types)


def delivered_types() -> frozenset[str]:
    """The event types subscribers receive: EVENT_TYPES but the envelopes."""
    return EVENT_TYPES - _ENVELOPES.keys()


def _expand(row: tuple) -> list[Event]:
    expand = _ENVELOPES.get(row[1])
    return [_event(row)] if expand is None else expand(_event(row))


def as_delivered(rows: Iterable[DomainEvent]) -> list[Event]:
    """Outbox rows as subscribers receive them (envelopes expanded), in order."""
    out: list[Event] = []
    for row in rows:
        out.extend(_expand(tuple(
            json.dumps(row.changes) if name == "changes_text" else getattr(row, name)
            for name in _FIELDS)))
    return out


@dataclass
class Subscriber:
    name: str
    patterns: tuple[str, ...]
    handler: Callable[[Event], Any]
    max_attempts: int
    _cache: dict[str, bool] = field(default_factory=dict, repr=False)

    def matches(self, event_type: str) -> bool:
        try:
            return self._cache[event_type]
        except KeyError:
            hit = any(fnmatch.fnmatchcase(event_type, p) for p in self.patterns)
            self._cache[event_type] = hit
            return hit


_SUBSCRIBERS: dict[str, Subscriber] = {}


def subscribe(patterns: str | Sequence[str], handler: Callable[[Event], Any], *, name: str,
              max_attempts: int | None = None) -> Subscriber:
    """Register `handler` for the event types matching `patterns` ("customer.field_changed",
    "customer.*", "*") under a stable `name` (its cursor and deliveries are kept by name).
    The handler runs in a transaction with its delivery record; raising makes it retry."""
    if isinstance(patterns, str):
        patterns = (patterns,)
    if not name or len(name) > 100:
        raise ValueError("a subscriber needs a name of 1 to 100 characters")
    existing = _SUBSCRIBERS.get(name)
    if existing is not None and existing.handler is not handler:
        raise ValueError(f"another handler is already subscribed as {name!r}")
    subscriber = Subscriber(name=name, patterns=tuple(patterns), handler=handler,
                            max_attempts=max_attempts or settings.KEHU_EVENT_MAX_ATTEMPTS)
    _SUBSCRIBERS[name] = subscriber
    return subscriber


def unsubscribe(name: str) -> None:
    """Forget a subscriber (tests); its cursor and deliveries stay."""
    _SUBSCRIBERS.pop(name, None)


def subscribers() -> list[Subscriber]:
    return list(_SUBSCRIBERS.values())


# Dispatching --------------------------------------------------------------------------------

BATCH = 1000


def _backoff(attempts: int) -> dt.timedelta:
    base = settings.KEHU_EVENT_RETRY_SECONDS
    return dt.timedelta(seconds=min(base * 2 ** max(attempts - 1, 0), 6 * 3600))


def _error_text(exc: BaseException) -> str:
    text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return text[:2000]


def _state(name: str) -> EventSubscriberState:
    state = EventSubscriberState.objects.select_for_update().filter(name=name).first()
    if state is None:
        EventSubscriberState.objects.get_or_create(name=name)
        state = EventSubscriberState.objects.select_for_update().get(name=name)
    return state


def _wanted(subscriber: Subscriber, row: tuple) -> list[Event]:
    """The events of outbox row `row` the subscriber takes (an envelope's, expanded)."""
    if row[1] not in _ENVELOPES:
        return [_event(row)] if subscriber.matches(row[1]) else []
    if not any(subscriber.matches(t) for t in _ENVELOPE_TYPES[row[1]]):
        return []
    return [e for e in _expand(row) if subscriber.matches(e.type)]


def _handle(subscriber: Subscriber, events: list[Event]) -> str | None:
    """Run the handler over the events of one outbox row in a savepoint; None on success,
    else the error text."""
    try:
        with transaction.atomic():
            for event in events:
                subscriber.handler(event)
    except Exception as exc:
        return _error_text(exc)
    return None


_DELIVERY_COLUMNS = ("subscriber", "event_id", "customer_id", "status", "attempts",
                     "next_attempt_at", "last_error", "delivered_at", "updated_at")


class _Failed(Exception):
    """A handler failed in a batch run without per-event savepoints: run it again with them."""


def _hand_over(subscriber: Subscriber, rows: list[tuple], recorded: set[int],
               waiting: set[int]) -> list[tuple]:
    """Run the handler over a batch; returns the delivery rows to record.

    First optimistically, the whole batch in one savepoint (a savepoint per event costs more
    than a no-op handler); when a handler raises, that savepoint is rolled back (with every
    handler's database effects in it) and the batch runs again, each event in its own
    savepoint, so the failing one is isolated and the others' effects kept.
    """
    try:
        with transaction.atomic():
            return _deliver(subscriber, rows, recorded, set(waiting), careful=False)
    except _Failed:
        return _deliver(subscriber, rows, recorded, waiting, careful=True)


def _deliver(subscriber: Subscriber, rows: list[tuple], recorded: set[int], waiting: set[int],
             *, careful: bool) -> list[tuple]:
    now = timezone.now()
    deliveries = []
    name, handler, matches = subscriber.name, subscriber.handler, subscriber.matches
    for row in rows:
        if row[0] in recorded:
            continue
        if row[1] in _ENVELOPES:
            events = _wanted(subscriber, row)
            if not events:
                continue
        elif not matches(row[1]):
            continue
        else:
            events = None
        customer_id = row[5]
        if customer_id is not None and customer_id in waiting:
            deliveries.append((name, row[0], customer_id, EventDelivery.HELD, 0, None, "",
                               None, now))
            continue
        if careful:
            error = _handle(subscriber, events or [_event(row)])
        else:
            try:
                if events is None:
                    handler(_event(row))
                else:
                    for event in events:
                        handler(event)
            except Exception as exc:
                raise _Failed() from exc
            error = None
        if error is None:
            deliveries.append((name, row[0], customer_id, EventDelivery.DONE, 1, None, "",
                               now, now))
            continue
        status = EventDelivery.DEAD if subscriber.max_attempts <= 1 else EventDelivery.RETRY
        deliveries.append((name, row[0], customer_id, status, 1,
                           now + _backoff(1) if status == EventDelivery.RETRY else None,
                           error, None, now))
        if customer_id is not None and status == EventDelivery.RETRY:
            waiting.add(customer_id)
    return deliveries


def _new_batch(subscriber: Subscriber, batch: int) -> int:
    """Hand the next events after the cursor to the subscriber; returns how many were looked
    at (0: caught up)."""
    from kehu.core.bulkdb import insert_rows

    with transaction.atomic():
        state = _state(subscriber.name)
        rows = _events(DomainEvent.objects.filter(id__gt=state.cursor).order_by("id"), batch)
        if not rows:
            return 0
        # Deliveries already recorded (a cursor behind them: a restored backup, a hand edit)
        # are not made twice.
        recorded = set(EventDelivery.objects.filter(
            subscriber=subscriber.name, event_id__gte=rows[0][0], event_id__lte=rows[-1][0])
            .values_list("event_id", flat=True))
        waiting = set(EventDelivery.objects.filter(
            subscriber=subscriber.name, status__in=(EventDelivery.RETRY, EventDelivery.HELD),
            customer_id__isnull=False).values_list("customer_id", flat=True).distinct())
        deliveries = _hand_over(subscriber, rows, recorded, waiting)
        insert_rows(EventDelivery, _DELIVERY_COLUMNS, deliveries)
        state.cursor = rows[-1][0]
        state.save(update_fields=["cursor", "updated_at"])
    return len(rows)


def _load(subscriber: Subscriber, event_id: int) -> list[Event]:
    return _wanted(subscriber, _events(DomainEvent.objects.filter(pk=event_id))[0])


def _release_held(subscriber: Subscriber, customer_id: int | None, now: dt.datetime) -> None:
    """After a customer's failing event is delivered or parked, hand over the events of that
    customer that waited behind it, in order, until one fails."""
    if customer_id is None:
        return
    held = list(EventDelivery.objects.select_for_update().filter(
        subscriber=subscriber.name, customer_id=customer_id, status=EventDelivery.HELD)
        .order_by("event_id"))
    for delivery in held:
        error = _handle(subscriber, _load(subscriber, delivery.event_id))
        delivery.attempts += 1
        delivery.updated_at = now
        if error is None:
            delivery.status, delivery.delivered_at = EventDelivery.DONE, now
            delivery.save(update_fields=["status", "attempts", "delivered_at", "updated_at"])
            continue
        delivery.last_error = error
        if delivery.attempts >= subscriber.max_attempts:
            delivery.status = EventDelivery.DEAD
            delivery.save(update_fields=["status", "attempts", "last_error", "updated_at"])
            continue
        delivery.status, delivery.next_attempt_at = EventDelivery.RETRY, now + _backoff(
            delivery.attempts)
        delivery.save(update_fields=["status", "attempts", "last_error", "next_attempt_at",
                                     "updated_at"])
        return


def _retry_due(subscriber: Subscriber, batch: int) -> int:
    """Retry the failed deliveries whose backoff has passed; returns how many were tried."""
    now = timezone.now()
    ids = list(EventDelivery.objects.filter(
        subscriber=subscriber.name, status=EventDelivery.RETRY, next_attempt_at__lte=now)
        .order_by("event_id").values_list("pk", flat=True)[:batch])
    for pk in ids:
        with transaction.atomic():
            _state(subscriber.name)  # one dispatcher per subscriber at a time
            delivery = EventDelivery.objects.select_for_update().filter(
                pk=pk, status=EventDelivery.RETRY).first()
            if delivery is None:
                continue
            error = _handle(subscriber, _load(subscriber, delivery.event_id))
            now = timezone.now()
            delivery.attempts += 1
            delivery.updated_at = now
            if error is None:
                delivery.status, delivery.delivered_at = EventDelivery.DONE, now
            else:
                delivery.last_error = error
                if delivery.attempts >= subscriber.max_attempts:
                    delivery.status = EventDelivery.DEAD
                else:
                    delivery.next_attempt_at = now + _backoff(delivery.attempts)
            delivery.save()
            if delivery.status != EventDelivery.RETRY:
                _release_held(subscriber, delivery.customer_id, now)
    return len(ids)


def dispatch(*, batch: int = BATCH, max_seconds: float | None = None,
             only: Iterable[str] | None = None) -> int:
    """Deliver every committed event to every subscriber (`only`: those named), then the
    retries that are due; returns how many events were looked at. Safe to run twice at once:
    a subscriber's batch holds its cursor row's lock."""
    started = time.monotonic()
    total = 0
    names = set(only) if only is not None else None
    for subscriber in subscribers():
        if names is not None and subscriber.name not in names:
            continue
        while True:
            done = _new_batch(subscriber, batch)
            total += done
            if done < batch or (max_seconds is not None
                                and time.monotonic() - started > max_seconds):
                break
        total += _retry_due(subscriber, batch)
    return total


# Dead letters -------------------------------------------------------------------------------


def delivery_replay(*, actor: Actor, delivery_id: int) -> EventDelivery:
    """Run a dead letter's handler again now: delivered, or still dead with the new error.
    Audited (the replay is an operator's decision); NotFound for anything but a dead letter."""
    from kehu.core.errors import NotFound

    actor.require("event.manage")
    with transaction.atomic():
        delivery = EventDelivery.objects.select_for_update().filter(
            pk=delivery_id, status=EventDelivery.DEAD).first()
        if delivery is None:
            raise NotFound()
        subscriber = _SUBSCRIBERS.get(delivery.subscriber)
        now = timezone.now()
        if subscriber is None:
            error = f"no subscriber named {delivery.subscriber!r} is registered"
        else:
            error = _handle(subscriber, _load(subscriber, delivery.event_id))
        delivery.attempts += 1
        delivery.updated_at = now
        if error is None:
            delivery.status, delivery.delivered_at = EventDelivery.DONE, now
        else:
            delivery.last_error = error
        delivery.save()
        audit_record(actor=actor, action="event.replay", object_type="event_delivery",
                     object_id=delivery.pk, object_repr=f"{delivery.subscriber} #"
                     f"{delivery.event_id}",
                     changes={"status": {"before": EventDelivery.DEAD,
                                         "after": delivery.status}})
    return delivery


# Retention ----------------------------------------------------------------------------------

PRUNE_CHUNK = 5000


def events_prune(*, days: int | None = None, now: dt.datetime | None = None) -> int:
    """Delete events older than `days` (KEHU_EVENT_RETENTION_DAYS) that every registered
    subscriber has passed and none still owes (no retry, held or dead delivery), with their
    delivery records. The audit log is never touched. Returns how many events went."""
    days = settings.KEHU_EVENT_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    names = [s.name for s in subscribers()]
    cursors = dict(EventSubscriberState.objects.filter(name__in=names)
                   .values_list("name", "cursor"))
    limit = min((cursors.get(name, 0) for name in names), default=None)
    candidates = DomainEvent.objects.filter(occurred_at__lt=cutoff)
    if limit is not None:
        candidates = candidates.filter(id__lte=limit)
    owed = EventDelivery.objects.exclude(status=EventDelivery.DONE).values("event_id")
    candidates = candidates.exclude(id__in=owed).order_by("id")
    removed = 0
    while True:
        with transaction.atomic():
            ids = list(candidates.values_list("id", flat=True)[:PRUNE_CHUNK])
            if not ids:
                break
            EventDelivery.objects.filter(event_id__in=ids).delete()
            removed += DomainEvent.objects.filter(id__in=ids).delete()[0]
    return removed
