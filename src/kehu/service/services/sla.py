"""SLA policies, the recomputation of ticket clocks, and the minute check that warns and
escalates.

Clocks are derived data: `sla_recompute` rewrites TicketSLA rows from the tickets' status
history and messages, set-based (a chunk of tickets costs five queries and one bulk write),
keeping the record of which warnings and breaches were already emitted. `sla_check` finds the
clocks that crossed their warning (80 %) or due time since the last check and emits
ticket.sla_warning / ticket.sla_breached once per ticket and clock, notifies the assignee
(warning) or the team's managers (breach) and raises the priority of a breached ticket.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.bulkdb import insert_rows
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import record_change
from kehu.customers.value_labels import VALUE_TIERS
from kehu.service.calendar import schedule_of
from kehu.service.clocks import BITS, DONE, compute
from kehu.service.models import CLOCKS, BusinessCalendar, SLAPolicy, TicketSLA
from kehu.service.notify import notify_breach, notify_warning
from kehu.service.tiers import tiers_of
from kehu.transactions.models import Ticket, TicketMessage, TicketStatusChange

CHUNK = 5000
_TICKET_STATUSES = {code for code, _label in Ticket.STATUSES}
_PAUSABLE = _TICKET_STATUSES - DONE - {"open"}


# Policies ---------------------------------------------------------------------------------


def _policy_snapshot(policy: SLAPolicy) -> dict[str, Any]:
    return {"name": policy.name, "is_active": policy.is_active, "position": policy.position,
            "priority": policy.priority, "kind": policy.kind,
            "customer_tier": policy.customer_tier, "calendar": policy.calendar_id,
            "first_response_hours": policy.first_response_hours,
            "next_response_hours": policy.next_response_hours,
            "resolution_hours": policy.resolution_hours,
            "pause_statuses": list(policy.pause_statuses), "warn_percent": policy.warn_percent}


def _hours(errors: dict, name: str, value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        hours = Decimal(str(value))
    except (InvalidOperation, ValueError):
        hours = None
    if hours is None or not hours.is_finite() or hours <= 0 or hours > 99999:
        errors[name] = [_("Business hours: a number above 0, or empty for no target.")]
        return None
    return hours.quantize(Decimal("0.01"))


def _policy_fields(errors: dict, data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    name = (data.get("name") or "").strip()
    if not name:
        errors["name"] = [_("Give the policy a name.")]
    out["name"] = name
    for key, choices in (("priority", Ticket.PRIORITIES), ("kind", Ticket.KINDS),
                         ("customer_tier", VALUE_TIERS)):
        value = data.get(key) or ""
        if value and value not in {code for code, _label in choices}:
            errors[key] = [_("“%s” is not a valid choice.") % value]
        out[key] = value
    for key in ("first_response_hours", "next_response_hours", "resolution_hours"):
        out[key] = _hours(errors, key, data.get(key))
    pauses = data.get("pause_statuses", ["waiting_customer"])
    if not isinstance(pauses, list | tuple) or any(p not in _PAUSABLE for p in pauses):
        errors["pause_statuses"] = [_("Clocks can pause only in: %s.") % ", ".join(
            str(label) for code, label in Ticket.STATUSES if code in _PAUSABLE)]
        pauses = []
    out["pause_statuses"] = sorted(set(pauses))
    warn = data.get("warn_percent", 80)
    if isinstance(warn, bool) or not isinstance(warn, int) or not 1 <= warn <= 99:
        errors["warn_percent"] = [_("Warn at a percentage from 1 to 99.")]
    out["warn_percent"] = warn
    position = data.get("position", 100)
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        errors["position"] = [_("The order is a whole number of 0 or more.")]
    out["position"] = position
    calendar = data.get("calendar")
    if calendar is not None and not isinstance(calendar, BusinessCalendar):
        calendar = BusinessCalendar.objects.filter(pk=calendar).first()
        if calendar is None:
            errors["calendar"] = [_("No such business calendar.")]
    out["calendar"] = calendar
    out["is_active"] = bool(data.get("is_active", True))
    return out


def sla_recompute_later(actor: Actor) -> None:
    """Recompute every ticket's clocks in the background once the caller commits."""
    from kehu.service.tasks import sla_recompute_task

    user_id = actor.user.pk if actor.user is not None else None
    transaction.on_commit(lambda: sla_recompute_task(user_id))


def sla_policy_create(*, actor: Actor, **data) -> SLAPolicy:
    """Add an SLA policy; every ticket's clocks are then recomputed in the background."""
    actor.require("service.configure")
    errors: dict[str, list[str]] = {}
    fields = _policy_fields(errors, data)
    if not errors and SLAPolicy.objects.filter(name=fields["name"]).exists():
        errors["name"] = [_("Another policy already has this name.")]
    if errors:
        raise ValidationFailed(details=errors)
    policy = SLAPolicy(**fields)
    with transaction.atomic():
        policy.save()
        record_change(actor=actor, action="sla_policy.create", event="sla_policy.created",
                      object_type="sla_policy", object_id=policy.pk, object_repr=policy.name,
                      changes=diff({}, _policy_snapshot(policy)))
        sla_recompute_later(actor)
    return policy


def sla_policy_update(*, actor: Actor, policy: SLAPolicy, **data) -> SLAPolicy:
    """Change a policy (targets, criteria, pauses): past tickets' clocks are recomputed from
    their history in the background, so reports follow the policy as it now stands."""
    actor.require("service.configure")
    base = _policy_snapshot(policy)
    base["calendar"] = policy.calendar
    base.update(data)
    errors: dict[str, list[str]] = {}
    fields = _policy_fields(errors, base)
    if not errors and SLAPolicy.objects.filter(name=fields["name"]).exclude(
            pk=policy.pk).exists():
        errors["name"] = [_("Another policy already has this name.")]
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        current = SLAPolicy.objects.select_for_update().filter(pk=policy.pk).first()
        if current is None:
            raise NotFound()
        before = _policy_snapshot(current)
        for key, value in fields.items():
            setattr(current, key, value)
        current.save(update_fields=[*fields, "updated_at"])
        record_change(actor=actor, action="sla_policy.update", event="sla_policy.updated",
                      object_type="sla_policy", object_id=current.pk, object_repr=current.name,
                      changes=diff(before, _policy_snapshot(current)))
        sla_recompute_later(actor)
    return current


def sla_policy_delete(*, actor: Actor, policy: SLAPolicy) -> None:
    """Remove a policy; its tickets fall to the next matching one (recomputed)."""
    actor.require("service.configure")
    with transaction.atomic():
        current = SLAPolicy.objects.select_for_update().filter(pk=policy.pk).first()
        if current is None:
            raise NotFound()
        before = _policy_snapshot(current)
        pk = current.pk
        current.delete()
        record_change(actor=actor, action="sla_policy.delete", event="sla_policy.deleted",
                      object_type="sla_policy", object_id=pk, object_repr=before["name"],
                      changes=diff(before, {}))
        sla_recompute_later(actor)


# Recomputation ----------------------------------------------------------------------------


class PolicyMatcher:
    """The policy for a (priority, kind, tier): the most specific active one, then by order."""

    def __init__(self):
        self.policies = list(SLAPolicy.objects.filter(is_active=True).order_by("position", "id"))
        self.memo: dict[tuple[str, str, str], SLAPolicy | None] = {}
        self.schedules: dict[int | None, Any] = {}

    def policy(self, priority: str, kind: str, tier: str) -> SLAPolicy | None:
        key = (priority, kind, tier)
        if key not in self.memo:
            best, best_rank = None, None
            for p in self.policies:
                if (p.priority and p.priority != priority) or (p.kind and p.kind != kind) or \
                        (p.customer_tier and p.customer_tier != tier):
                    continue
                rank = (-(bool(p.priority) + bool(p.kind) + bool(p.customer_tier)), p.position,
                        p.pk)
                if best_rank is None or rank < best_rank:
                    best, best_rank = p, rank
            self.memo[key] = best
        return self.memo[key]

    def schedule(self, policy: SLAPolicy | None):
        key = policy.calendar_id if policy is not None else None
        if key not in self.schedules:
            self.schedules[key] = schedule_of(key)
        return self.schedules[key]


def _seconds(hours: Decimal | None) -> int | None:
    return None if hours is None else int(hours * 3600)


_COLUMNS = ["ticket_id", "policy_id", "paused"] + [
    f"{clock}_{part}" for clock in CLOCKS
    for part in ("target", "elapsed", "started_at", "stopped_at", "due_at", "warn_at",
                 "breached")] + ["due_at", "attention_at", "next_check_at", "warned",
                                 "breached", "computed_at"]


def _next_check(result, warned: int, breached: int) -> dt.datetime | None:
    moments = []
    for clock, state in result.clocks.items():
        bit = BITS[clock]
        if state.due_at is None:
            continue
        if not warned & bit and not breached & bit and state.warn_at is not None:
            moments.append(state.warn_at)
        if not breached & bit:
            moments.append(state.due_at)
    return min(moments) if moments else None


def _scope(ticket_ids: list[int], *, whole: bool, field: str = "ticket_id") -> dict[str, Any]:
    """The filter naming a chunk: a range when it holds every ticket between its ends (far
    cheaper to bind than thousands of ids), else the ids."""
    if whole:
        return {f"{field}__gte": ticket_ids[0], f"{field}__lte": ticket_ids[-1]}
    return {f"{field}__in": ticket_ids}


def _chunk_rows(ticket_ids: list[int], matcher: PolicyMatcher, now: dt.datetime, *,
                whole: bool = False) -> list[list]:
    tickets = list(Ticket.objects.filter(**_scope(ticket_ids, whole=whole, field="pk")).values_list(
        "pk", "customer_id", "kind", "priority", "status", "opened_at", "resolved_at"))
    tiers = tiers_of(row[1] for row in tickets)
    history: dict[int, list] = defaultdict(list)
    for ticket_id, at, before, after in TicketStatusChange.objects.filter(
            **_scope(ticket_ids, whole=whole)).order_by("ticket_id", "at", "id").values_list(
            "ticket_id", "at", "from_status", "to_status"):
        history[ticket_id].append((at, before, after))
    messages: dict[int, list] = defaultdict(list)
    for ticket_id, at, kind in TicketMessage.objects.filter(
            **_scope(ticket_ids, whole=whole), kind__in=(TicketMessage.REPLY, TicketMessage.CUSTOMER)
    ).order_by("ticket_id", "at", "id").values_list("ticket_id", "at", "kind"):
        messages[ticket_id].append((at, kind))
    flags = {pk: (w, b) for pk, w, b in TicketSLA.objects.filter(
        **_scope(ticket_ids, whole=whole)).values_list("ticket_id", "warned", "breached")}
    rows = []
    for pk, customer_id, kind, priority, status, opened_at, resolved_at in tickets:
        policy = matcher.policy(priority, kind, tiers.get(customer_id, ""))
        if policy is None:
            targets: dict[str, int | None] = {}
            pauses, warn_percent = frozenset({"waiting_customer"}), 80
        else:
            targets = {"first_response": _seconds(policy.first_response_hours),
                       "next_response": _seconds(policy.next_response_hours),
                       "resolution": _seconds(policy.resolution_hours)}
            pauses, warn_percent = frozenset(policy.pause_statuses), policy.warn_percent
        result = compute(matcher.schedule(policy), opened_at=opened_at, status=status,
                         resolved_at=resolved_at, history=history.get(pk, []),
                         messages=messages.get(pk, []), targets=targets,
                         pause_statuses=pauses, warn_percent=warn_percent, now=now)
        warned, breached = flags.get(pk, (0, 0))
        row = [pk, policy.pk if policy else None, result.paused]
        dues, warns = [], []
        for clock in CLOCKS:
            s = result.clocks[clock]
            row += [s.target, max(0, s.elapsed), s.started_at, s.stopped_at, s.due_at,
                    s.warn_at, s.breached]
            if s.due_at is not None:
                dues.append(s.due_at)
                warns.append(s.warn_at)
        row += [min(dues) if dues else None, min(warns) if warns else None,
                _next_check(result, warned, breached), warned, breached, now]
        rows.append(row)
    return rows


def _prepared(rows: list[list]) -> list[list]:
    """The rows in their database form (insert_rows(prepared=True)): datetimes as the backend
    stores them, converted here once each (the generic path costs more than the clocks)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return rows
    if connection.vendor == "sqlite":
        utc = dt.UTC

        def adapt(value):
            return str(value.astimezone(utc).replace(tzinfo=None))
    else:
        adapt = connection.ops.adapt_datetimefield_value
    for row in rows:
        for index, value in enumerate(row):
            if isinstance(value, dt.datetime):
                row[index] = adapt(value)
    return rows


def sla_recompute(*, ticket_ids: list[int] | None = None, now: dt.datetime | None = None,
                  progress=None) -> int:
    """Rewrite the SLA clocks of these tickets (None: every ticket) from their status history
    and messages under the policies as they now stand; returns how many. Derived data: the
    write that caused it (a ticket change, a policy change) carries the event."""
    now = now or timezone.now()
    whole = ticket_ids is None
    if whole:
        ids = list(Ticket.objects.order_by("pk").values_list("pk", flat=True))
    else:
        ids = sorted(set(ticket_ids))
    matcher = PolicyMatcher()
    done = 0
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        with transaction.atomic():
            rows = _chunk_rows(chunk, matcher, now, whole=whole)
            TicketSLA.objects.filter(**_scope(chunk, whole=whole)).delete()
            insert_rows(TicketSLA, _COLUMNS, _prepared(rows), prepared=True)
        done += len(chunk)
        if progress is not None:
            progress(done, len(ids))
    return done


# The minute check -------------------------------------------------------------------------


def sla_check(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Emit the warnings and breaches that came due since the last check (once per ticket and
    clock), notify, and raise the priority of breached tickets. Returns counts."""
    from kehu.transactions.ticket_services import ticket_escalate

    now = now or timezone.now()
    actor = Actor.system(via="system")
    counts = {"warnings": 0, "breaches": 0}
    due_ids = list(TicketSLA.objects.filter(next_check_at__lte=now).order_by(
        "next_check_at").values_list("ticket_id", flat=True)[:2000])
    for ticket_id in due_ids:
        with transaction.atomic():
            row = TicketSLA.objects.select_for_update().filter(ticket_id=ticket_id).first()
            ticket = Ticket.objects.select_related("assignee", "customer").filter(
                pk=ticket_id).first()
            if row is None or ticket is None:
                continue
            escalate = False
            for clock in CLOCKS:
                bit = BITS[clock]
                due = getattr(row, f"{clock}_due_at")
                warn = getattr(row, f"{clock}_warn_at")
                if due is None or row.breached & bit:
                    continue
                payload = {"clock": clock, "due_at": due,
                           "target_seconds": getattr(row, f"{clock}_target"),
                           "elapsed_seconds": getattr(row, f"{clock}_elapsed")}
                if due <= now:
                    row.breached |= bit
                    row.warned |= bit
                    record_change(actor=actor, action="ticket.sla_breach",
                                  event="ticket.sla_breached", customer_id=ticket.customer_id,
                                  object_type="ticket", object_id=ticket.pk,
                                  object_repr=ticket.number,
                                  changes={**payload, "priority": ticket.priority})
                    notify_breach(ticket=ticket, clock=clock, due_at=due)
                    counts["breaches"] += 1
                    escalate = True
                elif warn is not None and warn <= now and not row.warned & bit:
                    row.warned |= bit
                    record_change(actor=actor, action="ticket.sla_warn",
                                  event="ticket.sla_warning", customer_id=ticket.customer_id,
                                  object_type="ticket", object_id=ticket.pk,
                                  object_repr=ticket.number, changes=payload)
                    notify_warning(ticket=ticket, clock=clock, due_at=due)
                    counts["warnings"] += 1
            moments = []
            for clock in CLOCKS:
                bit, due = BITS[clock], getattr(row, f"{clock}_due_at")
                warn = getattr(row, f"{clock}_warn_at")
                if due is None or row.breached & bit:
                    continue
                if not row.warned & bit and warn is not None:
                    moments.append(warn)
                moments.append(due)
            row.next_check_at = min(moments) if moments else None
            row.save(update_fields=["warned", "breached", "next_check_at"])
            if escalate and ticket.status not in DONE:
                ticket_escalate(actor=actor, ticket=ticket,
                                reason=_("SLA breached: the priority was raised automatically."))
    return counts
