"""Every write to the behaviour layer: interactions, follow-up tasks and ingested events.

Interactions are append-only (a correction is a new note), each write is
permission-checked, validated, run in one transaction and audited; events arrive
in batches and are audited once per batch, not once per event.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import canonical, diff
from kehu.core.bulkdb import JSONText, allocate_ids, insert_rows
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import Change, Related, record_change, record_changes_many
from kehu.core.events import Event as DomainEventView
from kehu.core.normalize import NormalizationError, normalize_email, normalize_phone
from kehu.core.validation import check_not_future, full_clean
from kehu.customers.models import Customer, Identifier
from kehu.customers.services import (
    customer_lock_for_write,
    customer_touch_activity,
    customers_touch_activity,
)
from kehu.interactions.models import Event, FollowUpTask, Interaction

# How far ahead of the server clock a client's timestamp may be (clock skew).
EVENT_BATCH_MAX = 1000
EVENT_CHUNK_SIZE = 500
EVENT_PROPERTIES_MAX_BYTES = 16_384
EVENT_TYPE_PATTERN = re.compile(r"^[a-z][a-z0-9_.:-]{0,39}$")
_EVENT_COLUMNS = ("customer_id", "event_type", "occurred_at", "properties", "source",
                  "received_at")






# Interactions ------------------------------------------------------------------


def _interaction_snapshot(interaction: Interaction) -> dict[str, Any]:
    return {
        "customer": interaction.customer_id,
        "kind": interaction.kind,
        "direction": interaction.direction,
        "occurred_at": interaction.occurred_at,
        "channel": interaction.channel,
        "summary": interaction.summary,
        "outcome": interaction.outcome,
        "next_follow_up": interaction.next_follow_up,
    }


def interaction_prepare(
    *,
    customer_id: int,
    kind: str,
    summary: str,
    occurred_at: dt.datetime | None,
    direction: str,
    channel: str,
    outcome: str,
    next_follow_up: dt.date | None,
    user,
) -> Interaction:
    """The rules every logged interaction obeys (interaction_log and bulk imports): the
    unsaved interaction, each field checked; ValidationFailed otherwise. No query runs."""
    errors: dict[str, list[str]] = {}
    summary = (summary or "").strip()
    if not summary:
        errors["summary"] = [_("Write what happened.")]
    occurred_at = occurred_at or timezone.now()
    check_not_future(errors, "occurred_at", occurred_at)
    if next_follow_up is not None and next_follow_up < timezone.localdate():
        errors["next_follow_up"] = [_("The next follow-up cannot be in the past.")]
    if errors:
        raise ValidationFailed(details=errors)
    interaction = Interaction(
        customer_id=customer_id, kind=kind, direction=direction, occurred_at=occurred_at,
        actor_id=user.pk if user is not None else None, channel=(channel or "").strip(),
        summary=summary, outcome=(outcome or "").strip(), next_follow_up=next_follow_up,
    )
    full_clean(interaction, exclude=["customer", "actor"])
    return interaction


def interaction_log(
    *,
    actor: Actor,
    customer: Customer,
    kind: str,
    summary: str,
    occurred_at: dt.datetime | None = None,
    direction: str = "outbound",
    channel: str = "",
    outcome: str = "",
    next_follow_up: dt.date | None = None,
) -> Interaction:
    """Record a call, visit, meeting … with the customer; append-only, so history is never lost.

    Moves the customer's last activity forward and, when a next follow-up date is
    given, creates the reminder for the customer's owner (or the actor) in the
    same transaction, so a note never exists without the task it promised.
    """
    actor.require("interaction.add")
    interaction = interaction_prepare(
        customer_id=customer.pk, kind=kind, summary=summary, occurred_at=occurred_at,
        direction=direction, channel=channel, outcome=outcome, next_follow_up=next_follow_up,
        user=actor.user)
    with transaction.atomic():
        customer = customer_lock_for_write(actor=actor, customer=customer)
        interaction.customer, interaction.actor = customer, actor.user
        interaction.save()
        customer_touch_activity(customer=customer, at=interaction.occurred_at)
        record_change(actor=actor, action="interaction.create", event="interaction.logged",
                      object_type="interaction", customer_id=customer.pk, object_id=interaction.pk,
                      object_repr=str(customer),
                      changes=diff({}, _interaction_snapshot(interaction)))
        if next_follow_up is not None:
            # The task says what the conversation was about; the outcome is how it ended.
            title = interaction.summary.strip() or (outcome or "").strip()
            _follow_up_insert(
                actor=actor, customer=customer, interaction=interaction,
                assignee=customer.owner if customer.owner_id else actor.user,
                title=_("Follow up: %s") % title[:180], due_date=next_follow_up,
            )
    return interaction


_INTERACTION_COLUMNS = ("id", "customer_id", "kind", "direction", "occurred_at", "actor_id",
                        "channel", "summary", "outcome", "next_follow_up", "created_at")


def interactions_log_many(*, actor: Actor, customers: dict[int, Customer],
                          interactions: list[Interaction]) -> int:
    """What interaction_log writes, for many interactions at once (imports): the rows
    inserted set-based, the customers' last activity moved forward, one
    `interaction.create` audit entry each with interaction_log's changes.

    Each comes from `interaction_prepare`, without a next follow-up (the reminder is
    interaction_log's alone); `customers` holds every one's customer, locked by
    `customers_lock_for_write` in the caller's transaction. Returns the count.
    """
    actor.require("interaction.add")
    if any(interaction.next_follow_up is not None for interaction in interactions):
        raise ValueError("interactions with a next follow-up go through interaction_log")
    if not interactions:
        return 0
    now = timezone.now()
    moments: dict[int, dt.datetime] = {}
    rows, entries = [], []
    for interaction, pk in zip(interactions, allocate_ids(Interaction, len(interactions)),
                               strict=True):
        interaction.pk, interaction.created_at = pk, now
        rows.append([getattr(interaction, name) for name in _INTERACTION_COLUMNS])
        customer_id = interaction.customer_id
        if customer_id not in moments or moments[customer_id] < interaction.occurred_at:
            moments[customer_id] = interaction.occurred_at
        entries.append(Change(action="interaction.create", event="interaction.logged",
                              object_type="interaction", customer_id=customer_id,
                              object_id=pk, object_repr=str(customers[customer_id]),
                              changes=diff({}, _interaction_snapshot(interaction))))
    insert_rows(Interaction, _INTERACTION_COLUMNS, rows)
    customers_touch_activity(customers=customers, moments=moments)
    record_changes_many(actor=actor, entries=entries)
    return len(rows)


# Follow-up tasks -----------------------------------------------------------------


def _task_snapshot(task: FollowUpTask) -> dict[str, Any]:
    return {
        "customer": task.customer_id,
        "interaction": task.interaction_id,
        "assignee": task.assignee_id,
        "title": task.title,
        "due_date": task.due_date,
        "status": task.status,
        "done_at": task.done_at,
    }


def _follow_up_insert(*, actor, customer, interaction, assignee, title, due_date) -> FollowUpTask:
    task = FollowUpTask(customer=customer, interaction=interaction, assignee=assignee,
                        title=title, due_date=due_date)
    full_clean(task, exclude=["customer", "interaction", "assignee"])
    task.save()
    record_change(actor=actor, action="followup.create", event="followup.created",
                  object_type="followup", customer_id=customer.pk, object_id=task.pk, object_repr=str(customer),
                  changes=diff({}, _task_snapshot(task)))
    return task


def follow_up_create(
    *,
    actor: Actor,
    customer: Customer,
    title: str,
    due_date: dt.date,
    assignee=None,
) -> FollowUpTask:
    """A reminder about a customer, for the given assignee, else the owner, else the actor."""
    actor.require("interaction.add")
    title = (title or "").strip()
    errors: dict[str, list[str]] = {}
    if not title:
        errors["title"] = [_("Say what to do.")]
    if due_date is None:
        errors["due_date"] = [_("Choose a due date.")]
    elif due_date < timezone.localdate():
        errors["due_date"] = [_("The due date cannot be in the past.")]
    if assignee is not None and not assignee.is_active:
        errors["assignee"] = [_("This user is no longer active.")]
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        customer = customer_lock_for_write(actor=actor, customer=customer)
        if assignee is None:
            assignee = customer.owner if customer.owner_id else actor.user
        return _follow_up_insert(actor=actor, customer=customer, interaction=None,
                                 assignee=assignee, title=title, due_date=due_date)


def _writable_task(actor: Actor, task: FollowUpTask) -> FollowUpTask:
    """The task, locked, if it is the actor's own or its customer is in their scope."""
    row = (FollowUpTask.objects.select_for_update().select_related("customer")
           .filter(pk=task.pk, customer__status=Customer.STATUS_ACTIVE).first())
    if row is None:
        raise NotFound()
    access = actor.access
    if access is not None:
        mine = actor.user is not None and row.assignee_id == actor.user.pk
        if not mine and not access.may_see_record(owner_id=row.customer.owner_id,
                                                  team_id=row.customer.team_id):
            raise NotFound()
        if not mine:
            actor.require("interaction.add")
    if row.status != "open":
        raise ValidationFailed(details={"status": [_("This follow-up is no longer open.")]})
    return row


def follow_up_complete(*, actor: Actor, task: FollowUpTask) -> FollowUpTask:
    """Mark an open follow-up done. The assignee may always; others need interaction.add."""
    with transaction.atomic():
        task = _writable_task(actor, task)
        before = _task_snapshot(task)
        task.status, task.done_at = "done", timezone.now()
        task.save(update_fields=["status", "done_at"])
        record_change(actor=actor, action="followup.complete", event="followup.completed",
                      object_type="followup", customer_id=task.customer_id, object_id=task.pk,
                      object_repr=str(task.customer),
                      changes=diff(before, _task_snapshot(task)))
    return task


def follow_up_reschedule(*, actor: Actor, task: FollowUpTask, due_date: dt.date) -> FollowUpTask:
    """Move an open follow-up to another day (today or later)."""
    if due_date is None or due_date < timezone.localdate():
        raise ValidationFailed(details={"due_date": [_("The due date cannot be in the past.")]})
    with transaction.atomic():
        task = _writable_task(actor, task)
        before = _task_snapshot(task)
        task.due_date = due_date
        task.save(update_fields=["due_date"])
        record_change(actor=actor, action="followup.reschedule", event="followup.rescheduled",
                      object_type="followup", customer_id=task.customer_id, object_id=task.pk,
                      object_repr=str(task.customer),
                      changes=diff(before, _task_snapshot(task)))
    return task


def follow_up_cancel(*, actor: Actor, task: FollowUpTask) -> FollowUpTask:
    """Drop an open follow-up that is no longer needed; it stays, cancelled, in history."""
    with transaction.atomic():
        task = _writable_task(actor, task)
        before = _task_snapshot(task)
        task.status = "cancelled"
        task.save(update_fields=["status"])
        record_change(actor=actor, action="followup.cancel", event="followup.cancelled",
                      object_type="followup", customer_id=task.customer_id, object_id=task.pk,
                      object_repr=str(task.customer),
                      changes=diff(before, _task_snapshot(task)))
    return task


def follow_ups_reassign(*, actor: Actor, customer_ids: list[int], from_user, to_user) -> int:
    """Hand the open follow-ups of these customers assigned to `from_user` to `to_user` (a
    book transfer); each task audited with `followup.reassigned`. Returns how many moved.
    Runs in the caller's transaction, whose customers it expects already checked."""
    actor.require("customer.assign")
    if not to_user.is_active:
        raise ValidationFailed(details={"to_user": [_("This user is no longer active.")]})
    moved = 0
    with transaction.atomic():
        tasks = list(FollowUpTask.objects.select_for_update().select_related("customer")
                     .filter(customer_id__in=list(customer_ids), assignee=from_user,
                             status="open").order_by("pk"))
        for task in tasks:
            before = _task_snapshot(task)
            task.assignee = to_user
            task.save(update_fields=["assignee"])
            record_change(actor=actor, action="followup.reassign", event="followup.reassigned",
                          object_type="followup", customer_id=task.customer_id,
                          object_id=task.pk, object_repr=str(task.customer),
                          changes=diff(before, _task_snapshot(task)))
            moved += 1
    return moved


SNOOZE_MAX_DAYS = 365


def follow_up_snooze(*, actor: Actor, task: FollowUpTask, until: dt.date | None = None,
                     days: int | None = None) -> FollowUpTask:
    """Put an open follow-up off: to the day `until` (today or later) or by `days` from today
    (+1, +3, +7 …). Its due date moves; the change is audited as a snooze."""
    today = timezone.localdate()
    if (until is None) == (days is None):
        raise ValidationFailed(details={"until": [_("Choose a day or a number of days.")]})
    if days is not None:
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= SNOOZE_MAX_DAYS:
            raise ValidationFailed(details={"days": [
                _("Snooze by 1 to %d days.") % SNOOZE_MAX_DAYS]})
        until = today + dt.timedelta(days=days)
    elif until < today:
        raise ValidationFailed(details={"until": [_("The due date cannot be in the past.")]})
    elif until > today + dt.timedelta(days=SNOOZE_MAX_DAYS):
        raise ValidationFailed(details={"until": [
            _("Snooze by at most %d days.") % SNOOZE_MAX_DAYS]})
    with transaction.atomic():
        task = _writable_task(actor, task)
        before = _task_snapshot(task)
        task.due_date = until
        task.save(update_fields=["due_date"])
        record_change(actor=actor, action="followup.snooze", event="followup.snoozed",
                      object_type="followup", customer_id=task.customer_id, object_id=task.pk,
                      object_repr=str(task.customer),
                      changes=diff(before, _task_snapshot(task)))
    return task


def follow_up_reassign(*, actor: Actor, task: FollowUpTask, assignee) -> FollowUpTask:
    """Hand an open follow-up to another user the actor may assign to (see
    `selectors.follow_up_may_assign_to`); the new assignee is notified in the bell."""
    from kehu.interactions.selectors import follow_up_may_assign_to
    from kehu.notifications.services import notification_send

    if assignee is None or not assignee.is_active:
        raise ValidationFailed(details={"assignee": [_("This user is no longer active.")]})
    if actor.user is not None and not follow_up_may_assign_to(actor.user, assignee):
        raise ValidationFailed(details={"assignee": [
            _("You cannot assign follow-ups to this user.")]})
    with transaction.atomic():
        task = _writable_task(actor, task)
        if task.assignee_id == assignee.pk:
            raise ValidationFailed(details={"assignee": [
                _("The follow-up is already assigned to this user.")]})
        before = _task_snapshot(task)
        task.assignee = assignee
        task.save(update_fields=["assignee"])
        record_change(actor=actor, action="followup.reassign", event="followup.reassigned",
                      object_type="followup", customer_id=task.customer_id, object_id=task.pk,
                      object_repr=str(task.customer),
                      changes=diff(before, _task_snapshot(task)))
        if actor.user is None or actor.user.pk != assignee.pk:
            notification_send(
                actor=actor, recipients=[assignee], kind="followup.assigned",
                title=_("%(who)s assigned you a follow-up: %(title)s") % {
                    "who": actor.user or _("kehu"), "title": task.title},
                body=_("Customer: %(customer)s · due %(due)s") % {
                    "customer": task.customer.name, "due": task.due_date.isoformat()},
                link=reverse("interactions:follow_ups"), customer_id=task.customer_id)
    return task


# Events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestResult:
    """What a batch did: how many events were stored and which items were refused, and why."""

    accepted: int
    rejected: list[dict[str, Any]] = field(default_factory=list)
    # The stored events' ids, in the order of the accepted items.
    ids: list[int] = field(default_factory=list)


def _normalise_identifier(kind: str, value: str) -> str:
    """The stored form of an identifier value (E.164 phones, lower-case emails).

    Raises NormalizationError (a ValueError with a translated message) when the value
    cannot be one of its kind, so the item is refused instead of silently not matching.
    """
    if kind in (Identifier.MOBILE, Identifier.LANDLINE):
        return normalize_phone(value).e164
    if kind == Identifier.EMAIL:
        return normalize_email(value)
    return value.strip()


def _parse_time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return parse_datetime(value.strip())
        except ValueError:
            return None
    return None


def _check_event(item: Any) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Shape-check one item; returns its cleaned fields and its errors per field."""
    if not isinstance(item, dict):
        return {}, {"__all__": [_("Each event must be an object.")]}
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    event_type = item.get("event_type")
    if not isinstance(event_type, str) or not EVENT_TYPE_PATTERN.match(event_type):
        errors["event_type"] = [_("Use lower-case letters, digits and _ . : - (at most 40).")]
    clean["event_type"] = event_type
    occurred_at = _parse_time(item.get("occurred_at"))
    if occurred_at is None:
        errors["occurred_at"] = [_("Give an ISO 8601 time with its time zone.")]
    else:
        check_not_future(errors, "occurred_at", occurred_at)
    clean["occurred_at"] = occurred_at
    properties = item.get("properties")
    properties = {} if properties is None else properties
    if type(properties) is JSONText:  # an object serialised by the caller (ingestion)
        if len(properties.encode("utf-8")) > EVENT_PROPERTIES_MAX_BYTES:
            errors["properties"] = [_("Properties are too large (at most %d bytes).")
                                    % EVENT_PROPERTIES_MAX_BYTES]
    elif not isinstance(properties, dict):
        errors["properties"] = [_("Properties must be an object.")]
    else:
        try:
            size = len(json.dumps(properties, ensure_ascii=False).encode("utf-8"))
        except (TypeError, ValueError):
            errors["properties"] = [_("Properties must be plain JSON.")]
        else:
            if size > EVENT_PROPERTIES_MAX_BYTES:
                errors["properties"] = [_("Properties are too large (at most %d bytes).")
                                        % EVENT_PROPERTIES_MAX_BYTES]
    clean["properties"] = properties
    source = item.get("source") or ""
    if not isinstance(source, str) or len(source) > 40:
        errors["source"] = [_("The source is text of at most 40 characters.")]
    clean["source"] = source if isinstance(source, str) else ""
    customer_id, identifier = item.get("customer_id"), item.get("identifier")
    if customer_id is not None and identifier is not None:
        errors["customer_id"] = [_("Give either customer_id or identifier, not both.")]
    elif customer_id is not None:
        if isinstance(customer_id, bool) or not isinstance(customer_id, int):
            errors["customer_id"] = [_("customer_id must be a whole number.")]
        clean["customer_id"] = customer_id
    elif identifier is not None:
        kinds = {code for code, _label in Identifier.KINDS} - {Identifier.ID_NUMBER}
        if (not isinstance(identifier, dict) or identifier.get("kind") not in kinds
                or not isinstance(identifier.get("value"), str)
                or not identifier.get("value", "").strip()):
            errors["identifier"] = [_("An identifier is {kind, value} with kind one of: %s.")
                                    % ", ".join(sorted(kinds))]
        else:
            kind = identifier["kind"]
            system = identifier.get("system") or ""
            try:
                value = _normalise_identifier(kind, identifier["value"])
            except NormalizationError as exc:
                errors["identifier"] = [str(exc)]
            else:
                clean["identifier"] = (kind, str(system), value)
    else:
        errors["customer_id"] = [_("Give customer_id or identifier.")]
    return clean, errors


def _resolve_customers(actor: Actor, cleaned: list[dict[str, Any]]) -> tuple[dict, dict]:
    """Map ids and identifiers to live customers the actor may see, in two queries."""
    ids = {c["customer_id"] for c in cleaned if isinstance(c.get("customer_id"), int)}
    keys = {c["identifier"] for c in cleaned if "identifier" in c}
    access = actor.access
    customers = Customer.objects.filter(status=Customer.STATUS_ACTIVE)
    if access is not None:
        customers = access.restrict(customers)
    by_id = dict(customers.filter(pk__in=ids).values_list("pk", "pk")) if ids else {}
    by_identifier: dict[tuple[str, str, str], int] = {}
    if keys:
        rows = Identifier.objects.filter(
            is_live=True, value__in={value for _k, _s, value in keys},
            kind__in={kind for kind, _s, _v in keys},
            customer__in=customers,
        ).values_list("kind", "system", "value", "customer_id")
        for kind, system, value, customer_id in rows:
            by_identifier[(kind, system, value)] = customer_id
    return by_id, by_identifier


BATCH_EVENT = "event.batch_ingested"


def id_ranges(ids: list[int]) -> list[list[int]]:
    """Ids as [first, last] runs of consecutive values: [1, 2, 3, 7] -> [[1, 3], [7, 7]]."""
    runs: list[list[int]] = []
    for pk in sorted(ids):
        if runs and pk == runs[-1][1] + 1:
            runs[-1][1] = pk
        else:
            runs.append([pk, pk])
    return runs


def batch_expand(envelope: DomainEventView) -> list[DomainEventView]:
    """The event.ingested events an event.batch_ingested envelope stands for: one per stored
    event still there (an erased or unstitched one is not delivered), in id order."""
    runs = envelope.changes.get("ids") or []
    if not runs:
        return []
    where = Q()
    for first, last in runs:
        where |= Q(pk__gte=first, pk__lte=last)
    rows = Event.objects.filter(where).order_by("pk").values_list(
        "pk", "customer_id", "event_type", "occurred_at", "source")
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    return [replace(envelope, type="event.ingested", object_id=str(pk), object_repr="",
                    customer_id=customer_id, part=part,
                    changes_json=dumps(canonical(_ingested([customer_id, kind, at, None,
                                                            source]))))
            for part, (pk, customer_id, kind, at, source) in enumerate(rows, 1)]


def _ingested(row: list[Any]) -> dict[str, Any]:
    """An event.ingested payload: its type, time and source (its properties are referenced by
    the event's id, not copied: an integration may put anything in them)."""
    return {"event_type": {"before": None, "after": row[1]},
            "occurred_at": {"before": None, "after": row[2]},
            "source": {"before": None, "after": row[4]}}


def event_ingest(
    *,
    actor: Actor,
    events: list[dict[str, Any]],
    skip_invalid: bool = False,
    chunk_size: int = EVENT_CHUNK_SIZE,
) -> IngestResult:
    """Store a batch of behavioural events from an integration, all or nothing.

    Each item names its customer by id or by an identifier (normalised by
    kehu.core.normalize, as at the door, then matched exactly on live identifiers). Any invalid item
    rejects the whole batch, with errors keyed `events[i].field`, unless
    `skip_invalid` is set: then valid items are stored and the others reported.
    One audit entry describes the batch (count and types), not each event, and one
    `event.batch_ingested` outbox row stands for its events. A caller that has serialised
    an item's properties object already may give them as `JSONText` (stored as they are).
    """
    actor.require("interaction.add")
    if not isinstance(events, list) or not events:
        raise ValidationFailed(details={"events": [_("Send at least one event.")]})
    if len(events) > EVENT_BATCH_MAX:
        raise ValidationFailed(details={"events": [
            _("At most %d events per batch.") % EVENT_BATCH_MAX]})
    checked = [_check_event(item) for item in events]
    by_id, by_identifier = _resolve_customers(actor, [clean for clean, _e in checked])
    rows: list[list[Any]] = []  # _EVENT_COLUMNS but received_at
    rejected: list[dict[str, Any]] = []
    for index, (clean, errors) in enumerate(checked):
        customer_id = None
        if not errors:
            if "identifier" in clean:
                customer_id = by_identifier.get(clean["identifier"])
                if customer_id is None:
                    errors = {"identifier": [_("No customer has this identifier.")]}
            else:
                customer_id = by_id.get(clean["customer_id"])
                if customer_id is None:
                    errors = {"customer_id": [_("No such customer.")]}
        if errors:
            rejected.append({"index": index, "errors": errors})
            continue
        rows.append([customer_id, clean["event_type"], clean["occurred_at"],
                     clean["properties"], clean["source"]])
    if rejected and not skip_invalid:
        details = {f"events[{r['index']}].{name}": messages
                   for r in rejected for name, messages in r["errors"].items()}
        raise ValidationFailed(_("%d of the events are not valid; none were stored.")
                               % len(rejected), details=details)
    if not rows:
        return IngestResult(accepted=0, rejected=rejected)
    received_at = timezone.now()
    with transaction.atomic():
        # Set-based (executemany, COPY on PostgreSQL): model instances and bulk_create cost
        # more than the checks above, and imports send a million events at a time.
        ids = allocate_ids(Event, len(rows))
        for start in range(0, len(rows), chunk_size):
            insert_rows(Event, ("id", *_EVENT_COLUMNS),
                        [[pk, *row, received_at] for pk, row in
                         zip(ids[start:start + chunk_size], rows[start:start + chunk_size],
                             strict=True)])
        types = Counter(row[1] for row in rows)
        # One outbox row for the batch: subscribers get an event.ingested per stored event
        # from it (batch_expand), without a row each to write.
        record_change(
            actor=actor, action="event.ingest", event=None, object_type="event",
            related=[Related(type=BATCH_EVENT, object_type="event",
                             object_repr=_("%d events") % len(rows),
                             changes={"count": len(rows), "ids": id_ranges(ids)})],
            object_repr=_("%d events") % len(rows),
            changes={"count": len(rows), "types": dict(sorted(types.items())),
                      "customers": len({row[0] for row in rows}),
                      "rejected": len(rejected),
                      "sources": sorted({row[4] for row in rows if row[4]})},
        )
    return IngestResult(accepted=len(rows), rejected=rejected, ids=list(ids))
