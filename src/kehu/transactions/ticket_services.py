"""Every write to service tickets: open, work (status moves), messages, rating, escalation
and merging duplicates.

Each service checks its permission, validates, runs in one transaction, writes the ticket's
status history (SLA clocks are computed from it), records an audit entry with before/after
and its domain event, then runs the registered ticket hooks (kehu.transactions.hooks) so the
service desk recomputes clocks in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.events import record_change
from kehu.core.validation import check_not_future, full_clean
from kehu.customers.models import Customer
from kehu.customers.services import customer_lock_for_write, customer_touch_activity
from kehu.transactions import hooks
from kehu.transactions.models import Product, Ticket, TicketMessage, TicketStatusChange
from kehu.transactions.numbering import _choice, _final_number, _numbered

TICKET_DONE = frozenset({"resolved", "closed"})
# Which status a ticket may move to from each status (staying put is always allowed).
TICKET_TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress", "waiting_customer", "resolved", "closed"}),
    "in_progress": frozenset({"open", "waiting_customer", "resolved", "closed"}),
    "waiting_customer": frozenset({"open", "in_progress", "resolved", "closed"}),
    "resolved": frozenset({"closed", "in_progress"}),
    "closed": frozenset({"in_progress"}),
}
PRIORITY_ORDER = ("low", "normal", "high", "urgent")


def ticket_status_refusal(current: str, wanted: str) -> str | None:
    """Why a ticket may not move from `current` to `wanted`, or None when it may."""
    if current == wanted or wanted in TICKET_TRANSITIONS.get(current, frozenset()):
        return None
    labels = dict(Ticket.STATUSES)
    return _("A ticket cannot go from “%(from)s” to “%(to)s”.") % {
        "from": labels.get(current, current), "to": labels.get(wanted, wanted)}


def _snapshot(ticket: Ticket) -> dict[str, Any]:
    return {
        "number": ticket.number, "customer": ticket.customer_id, "kind": ticket.kind,
        "subject": ticket.subject, "description": ticket.description, "status": ticket.status,
        "priority": ticket.priority, "assignee": ticket.assignee_id,
        "product": ticket.product_id, "satisfaction": ticket.satisfaction,
        "satisfaction_source": ticket.satisfaction_source,
        "resolution": ticket.resolution, "opened_at": ticket.opened_at,
        "resolved_at": ticket.resolved_at, "merged_into": ticket.merged_into_id,
    }


def _check_assignee(errors: dict, assignee) -> None:
    if assignee is not None and not assignee.is_active:
        errors["assignee"] = [_("This user is no longer active.")]


def _history(ticket: Ticket, before: str, after: str, at: dt.datetime, actor: Actor) -> None:
    TicketStatusChange.objects.create(ticket=ticket, from_status=before, to_status=after, at=at,
                                      by=actor.user if actor.user is not None else None)


def _require_manage(actor: Actor) -> None:
    actor.require("ticket.manage")


def ticket_open(
    *,
    actor: Actor,
    customer: Customer,
    kind: str,
    subject: str,
    description: str = "",
    priority: str = "normal",
    assignee=None,
    product: Product | None = None,
    opened_at: dt.datetime | None = None,
    number: str | None = None,
) -> Ticket:
    """Open a service ticket (request, complaint, inquiry) for a customer.

    Unassigned tickets go to the agent opening them; the number is generated
    (TK + date + row id) unless an external system supplies its own.
    """
    _require_manage(actor)
    errors: dict[str, list[str]] = {}
    subject = (subject or "").strip()
    if not subject:
        errors["subject"] = [_("Give the ticket a subject.")]
    _choice(errors, "kind", kind, Ticket.KINDS)
    _choice(errors, "priority", priority, Ticket.PRIORITIES)
    _check_assignee(errors, assignee)
    opened_at = opened_at or timezone.now()
    check_not_future(errors, "opened_at", opened_at)
    number = (number or "").strip()
    if number and Ticket.objects.filter(number=number).exists():
        errors["number"] = [_("Another ticket already has this number.")]
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        customer = customer_lock_for_write(actor=actor, customer=customer)
        ticket = Ticket(
            customer=customer, number=number or _numbered("TK", opened_at), kind=kind,
            subject=subject, description=(description or "").strip(), priority=priority,
            assignee=assignee if assignee is not None else actor.user, product=product,
            opened_at=opened_at,
        )
        full_clean(ticket, exclude=["customer", "assignee", "product", "number", "merged_into"])
        try:
            with transaction.atomic():
                ticket.save()
        except IntegrityError as exc:
            raise ValidationFailed(
                details={"number": [_("Another ticket already has this number.")]}) from exc
        if not number:
            ticket.number = _final_number("TK", Ticket, ticket)
            ticket.save(update_fields=["number"])
        _history(ticket, "", "open", opened_at, actor)
        customer_touch_activity(customer=customer, at=opened_at)
        record_change(actor=actor, action="ticket.open", event="ticket.opened",
                      customer_id=ticket.customer_id, object_type="ticket",
                      object_id=ticket.pk, object_repr=ticket.number,
                      changes=diff({}, _snapshot(ticket)))
        hooks.after_change([ticket.pk], actor)
    return ticket


def _ticket_event(before: dict[str, Any], ticket: Ticket) -> str:
    """ticket.closed when it reaches resolved/closed, ticket.reopened when it leaves them."""
    was, now = before["status"] in TICKET_DONE, ticket.status in TICKET_DONE
    if now and not was:
        return "ticket.closed"
    if was and not now:
        return "ticket.reopened"
    return "ticket.updated"


def _writable(actor: Actor, ticket: Ticket) -> Ticket:
    row = Ticket.objects.select_for_update().select_related("customer").filter(
        pk=ticket.pk).first()
    if row is None:
        raise NotFound()
    customer_lock_for_write(actor=actor, customer=row.customer)
    return row


def ticket_update(
    *,
    actor: Actor,
    ticket: Ticket,
    status: str,
    priority: str,
    assignee,
    resolution: str,
    subject: str | None = None,
    description: str | None = None,
) -> Ticket:
    """Work a ticket: status, priority, assignee and resolution (and subject/description
    when given).

    Status moves follow TICKET_TRANSITIONS (a merged duplicate stays closed); resolving needs a
    resolution and stamps resolved_at, reopening clears it. Every move is kept in the status
    history the SLA clocks are computed from.
    """
    _require_manage(actor)
    errors: dict[str, list[str]] = {}
    _choice(errors, "status", status, Ticket.STATUSES)
    _choice(errors, "priority", priority, Ticket.PRIORITIES)
    _check_assignee(errors, assignee)
    resolution = (resolution or "").strip()
    if status in TICKET_DONE and not resolution:
        errors["resolution"] = [_("Say how the ticket was resolved.")]
    if subject is not None and not subject.strip():
        errors["subject"] = [_("Give the ticket a subject.")]
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        current = _writable(actor, ticket)
        refusal = ticket_status_refusal(current.status, status)
        if refusal is None and current.merged_into_id and status != current.status:
            refusal = _("This ticket was merged into another; undo the merge to work it.")
        if refusal is not None:
            raise ValidationFailed(details={"status": [refusal]})
        if status != current.status:
            blocked = hooks.guard_errors(current, status)
            if blocked:
                raise ValidationFailed(details=blocked)
        before = _snapshot(current)
        now = timezone.now()
        newly_resolved = status in TICKET_DONE and before["status"] not in TICKET_DONE
        if status in TICKET_DONE and current.resolved_at is None:
            current.resolved_at = now
        elif status not in TICKET_DONE:
            current.resolved_at = None
        current.status, current.priority = status, priority
        current.assignee, current.resolution = assignee, resolution
        if subject is not None:
            current.subject = subject.strip()
        if description is not None:
            current.description = description.strip()
        full_clean(current, exclude=["customer", "assignee", "product", "merged_into"])
        current.save(update_fields=["status", "priority", "assignee", "resolution",
                                    "resolved_at", "subject", "description"])
        if before["status"] != status:
            _history(current, before["status"], status, now, actor)
            customer_touch_activity(customer=current.customer, at=now)
        record_change(actor=actor, action="ticket.update", event=_ticket_event(before, current),
                      customer_id=current.customer_id, object_type="ticket",
                      object_id=current.pk, object_repr=current.number,
                      changes=diff(before, _snapshot(current)))
        hooks.after_change([current.pk], actor,
                           resolved_ids=[current.pk] if newly_resolved else [])
    return current


def ticket_rate(*, actor: Actor, ticket: Ticket, satisfaction: int, source: str) -> Ticket:
    """Record the customer's satisfaction (1–5) with a resolved or closed ticket.

    `source` says who gave it: "survey" (the customer's own answer, written by the survey
    service) or "agent_phone" (an agent typing what the customer said on the phone, shown
    marked as such). Agents cannot record a survey answer themselves.
    """
    if source == "agent_phone":
        _require_manage(actor)
    elif source == "survey":
        if actor.via != "system":
            raise PermissionDenied()
    else:
        raise ValidationFailed(details={"source": [_("“%s” is not a valid choice.") % source]})
    if isinstance(satisfaction, bool) or not isinstance(satisfaction, int) \
            or not 1 <= satisfaction <= 5:
        raise ValidationFailed(details={"satisfaction": [
            _("Satisfaction is a whole number from 1 to 5.")]})
    with transaction.atomic():
        current = Ticket.objects.select_for_update().filter(pk=ticket.pk).first()
        if current is None:
            raise NotFound()
        if source == "agent_phone":
            customer_lock_for_write(actor=actor, customer=current.customer)
        if current.status not in TICKET_DONE:
            raise ValidationFailed(details={"satisfaction": [
                _("A ticket can be rated only once it is resolved or closed.")]})
        before = _snapshot(current)
        current.satisfaction, current.satisfaction_source = satisfaction, source
        current.save(update_fields=["satisfaction", "satisfaction_source"])
        record_change(actor=actor, action="ticket.rate", event="ticket.rated",
                      object_type="ticket", customer_id=current.customer_id,
                      object_id=current.pk, object_repr=current.number,
                      changes=diff(before, _snapshot(current)))
    return current


def ticket_message_add(*, actor: Actor, ticket: Ticket, kind: str, body: str,
                       channel: str = "", at: dt.datetime | None = None) -> TicketMessage:
    """Add a reply to the customer, the customer's message, or an internal note.

    A reply stops the first/next response clocks and moves an open ticket to in progress; the
    customer's message restarts the next-response clock and brings a ticket waiting for the
    customer back to work. Notes change no clock and are never shown to the customer.
    """
    _require_manage(actor)
    errors: dict[str, list[str]] = {}
    body = (body or "").strip()
    if not body:
        errors["body"] = [_("Write the text.")]
    _choice(errors, "kind", kind, TicketMessage.KINDS)
    _choice(errors, "channel", channel, TicketMessage.CHANNELS, blank=True)
    at = at or timezone.now()
    check_not_future(errors, "at", at)
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        current = _writable(actor, ticket)
        if current.merged_into_id:
            raise ValidationFailed(details={"body": [
                _("This ticket was merged into another; write there.")]})
        before_status = current.status
        message = TicketMessage(ticket=current, kind=kind, channel=channel, body=body, at=at,
                                author=actor.user if actor.user is not None else None)
        full_clean(message, exclude=["ticket", "author", "moved_from"])
        message.save()
        moved = None
        if kind == TicketMessage.REPLY and before_status == "open":
            moved = "in_progress"
        elif kind == TicketMessage.CUSTOMER and before_status == "waiting_customer":
            moved = "in_progress"
        if moved:
            current.status = moved
            current.save(update_fields=["status"])
            _history(current, before_status, moved, at, actor)
        if kind != TicketMessage.NOTE:
            customer_touch_activity(customer=current.customer, at=at)
        event = {TicketMessage.REPLY: "ticket.replied", TicketMessage.NOTE: "ticket.note_added",
                 TicketMessage.CUSTOMER: "ticket.customer_replied"}[kind]
        changes: dict[str, Any] = {"message": message.pk, "channel": channel,
                                   "length": len(body)}
        if moved:
            changes["status"] = {"before": before_status, "after": moved}
        record_change(actor=actor, action=f"ticket.{kind}", event=event,
                      customer_id=current.customer_id, object_type="ticket",
                      object_id=current.pk, object_repr=current.number, changes=changes)
        hooks.after_change([current.pk], actor)
    return message


def ticket_escalate(*, actor: Actor, ticket: Ticket, reason: str) -> Ticket:
    """Raise a ticket's priority one step (urgent stays urgent), recording why; the SLA
    breach check calls it too."""
    if actor.via != "system":
        _require_manage(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(details={"reason": [_("Say why the ticket is escalated.")]})
    with transaction.atomic():
        current = Ticket.objects.select_for_update().filter(pk=ticket.pk).first()
        if current is None:
            raise NotFound()
        if actor.via != "system":
            customer_lock_for_write(actor=actor, customer=current.customer)
        before = _snapshot(current)
        step = PRIORITY_ORDER.index(current.priority) if current.priority in PRIORITY_ORDER \
            else 1
        current.priority = PRIORITY_ORDER[min(step + 1, len(PRIORITY_ORDER) - 1)]
        current.save(update_fields=["priority"])
        record_change(actor=actor, action="ticket.escalate", event="ticket.escalated",
                      customer_id=current.customer_id, object_type="ticket",
                      object_id=current.pk, object_repr=current.number,
                      changes={**diff(before, _snapshot(current)), "reason": reason[:500]})
        hooks.after_change([current.pk], actor)
    return current


def ticket_merge(*, actor: Actor, duplicate: Ticket, into: Ticket) -> Ticket:
    """Merge a duplicate ticket into another of the same customer: its replies, notes and
    customer messages move over (marked where they came from), and the duplicate is closed
    pointing at the survivor. Fully recorded, and undone by ticket_unmerge."""
    _require_manage(actor)
    if duplicate.pk == into.pk:
        raise ValidationFailed(details={"into": [_("A ticket cannot be merged into itself.")]})
    with transaction.atomic():
        first, second = sorted([duplicate.pk, into.pk])
        locked = {t.pk: t for t in Ticket.objects.select_for_update().select_related(
            "customer").filter(pk__in=[first, second]).order_by("pk")}
        dup, survivor = locked.get(duplicate.pk), locked.get(into.pk)
        if dup is None or survivor is None:
            raise NotFound()
        errors: dict[str, list[str]] = {}
        if dup.customer_id != survivor.customer_id:
            errors["into"] = [_("Only tickets of the same customer can be merged.")]
        elif dup.merged_into_id:
            errors["into"] = [_("This ticket was already merged.")]
        elif survivor.merged_into_id:
            errors["into"] = [_("That ticket was itself merged into another.")]
        if errors:
            raise ValidationFailed(details=errors)
        customer_lock_for_write(actor=actor, customer=dup.customer)
        before = _snapshot(dup)
        now = timezone.now()
        moved = TicketMessage.objects.filter(ticket=dup).update(ticket=survivor, moved_from=dup)
        if dup.status != "closed":
            _history(dup, dup.status, "closed", now, actor)
        dup.status, dup.merged_into = "closed", survivor
        dup.resolved_at = dup.resolved_at or now
        dup.save(update_fields=["status", "merged_into", "resolved_at"])
        record_change(actor=actor, action="ticket.merge", event="ticket.merged",
                      customer_id=dup.customer_id, object_type="ticket", object_id=dup.pk,
                      object_repr=dup.number,
                      changes={**diff(before, _snapshot(dup)), "into": survivor.number,
                               "moved_messages": moved})
        hooks.after_change([dup.pk, survivor.pk], actor)
    return dup


def ticket_unmerge(*, actor: Actor, duplicate: Ticket) -> Ticket:
    """Undo ticket_merge: the messages that came from the duplicate go back, and it returns to
    the status it had before the merge."""
    _require_manage(actor)
    with transaction.atomic():
        dup = _writable(actor, duplicate)
        if not dup.merged_into_id:
            raise ValidationFailed(details={"merged_into": [_("This ticket is not merged.")]})
        survivor_number = dup.merged_into.number
        before = _snapshot(dup)
        now = timezone.now()
        moved = TicketMessage.objects.filter(moved_from=dup).update(ticket=dup, moved_from=None)
        last = TicketStatusChange.objects.filter(ticket=dup, to_status="closed").order_by(
            "-at", "-id").first()
        restored = last.from_status if last is not None and last.from_status else dup.status
        if restored != dup.status:
            _history(dup, dup.status, restored, now, actor)
        if restored not in TICKET_DONE:
            dup.resolved_at = None
        dup.status, dup.merged_into = restored, None
        dup.save(update_fields=["status", "merged_into", "resolved_at"])
        survivor_id = before["merged_into"]
        record_change(actor=actor, action="ticket.unmerge", event="ticket.unmerged",
                      customer_id=dup.customer_id, object_type="ticket", object_id=dup.pk,
                      object_repr=dup.number,
                      changes={**diff(before, _snapshot(dup)), "from": survivor_number,
                               "moved_messages": moved})
        hooks.after_change([dup.pk, survivor_id], actor)
    return dup
