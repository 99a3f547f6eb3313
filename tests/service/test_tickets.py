"""Every ticket state transition (invalid ones refused with nothing changed), messages,
escalation, and merging duplicates (recorded and undone)."""

from __future__ import annotations

import pytest

from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry, DomainEvent
from kehu.transactions.models import Ticket, TicketMessage, TicketStatusChange
from kehu.transactions.ticket_services import (
    TICKET_TRANSITIONS,
    ticket_escalate,
    ticket_merge,
    ticket_message_add,
    ticket_open,
    ticket_unmerge,
    ticket_update,
)
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db
STATUSES = [code for code, _label in Ticket.STATUSES]
ROUTE = {  # how to bring a new ticket to each status
    "open": [], "in_progress": ["in_progress"], "waiting_customer": ["waiting_customer"],
    "resolved": ["resolved"], "closed": ["closed"],
}


def _ticket_in(actor, customer, status):
    ticket = ticket_open(actor=actor, customer=customer, kind="inquiry", subject="问价")
    for step in ROUTE[status]:
        ticket = ticket_update(actor=actor, ticket=ticket, status=step, priority="normal",
                               assignee=ticket.assignee, resolution="已答复")
    return ticket


@pytest.mark.parametrize("start", STATUSES)
@pytest.mark.parametrize("target", STATUSES)
def test_every_transition(start, target, agent, customer, actor_for):
    actor = actor_for(agent)
    ticket = _ticket_in(actor, customer, start)
    history = TicketStatusChange.objects.filter(ticket=ticket).count()
    allowed = target == start or target in TICKET_TRANSITIONS[start]
    if not allowed:
        before = db_snapshot()
        with pytest.raises(ValidationFailed) as caught:
            ticket_update(actor=actor, ticket=ticket, status=target, priority="high",
                          assignee=ticket.assignee, resolution="已答复")
        assert list(caught.value.details) == ["status"]
        assert "cannot go from" in str(caught.value.details["status"][0])
        assert db_snapshot() == before
        return
    updated = ticket_update(actor=actor, ticket=ticket, status=target, priority="high",
                            assignee=ticket.assignee, resolution="已答复")
    assert Ticket.objects.get(pk=ticket.pk).status == target == updated.status
    moves = TicketStatusChange.objects.filter(ticket=ticket).order_by("id")
    if target == start:
        assert moves.count() == history
    else:
        assert moves.count() == history + 1
        last = moves.last()
        assert (last.from_status, last.to_status, last.by_id) == (start, target, agent.pk)
    done = target in ("resolved", "closed")
    assert (updated.resolved_at is not None) == done


def test_reading_users_cannot_work_tickets(agent, customer, actor_for, make_user):
    ticket = _ticket_in(actor_for(agent), customer, "open")
    reader = make_user("read_only")
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        ticket_update(actor=actor_for(reader), ticket=ticket, status="closed",
                      priority="normal", assignee=None, resolution="x")
    with pytest.raises(PermissionDenied):
        ticket_message_add(actor=actor_for(reader), ticket=ticket, kind="note", body="x")
    with pytest.raises(PermissionDenied):
        ticket_escalate(actor=actor_for(reader), ticket=ticket, reason="x")
    assert db_snapshot() == before


def test_messages_and_notes(agent, customer, actor_for):
    actor = actor_for(agent)
    ticket = _ticket_in(actor, customer, "open")
    with pytest.raises(ValidationFailed) as caught:
        ticket_message_add(actor=actor, ticket=ticket, kind="shout", body=" ")
    assert set(caught.value.details) == {"kind", "body"}
    ticket_message_add(actor=actor, ticket=ticket, kind="note", body="内部：客户脾气急")
    assert Ticket.objects.get(pk=ticket.pk).status == "open"    # a note is not a response
    ticket_message_add(actor=actor, ticket=ticket, kind="reply", body="您好", channel="phone")
    assert Ticket.objects.get(pk=ticket.pk).status == "in_progress"
    types = list(DomainEvent.objects.filter(object_type="ticket", object_id=str(ticket.pk))
                 .order_by("id").values_list("type", flat=True))
    assert types[-2:] == ["ticket.note_added", "ticket.replied"]
    note_event = DomainEvent.objects.get(type="ticket.note_added")
    assert "内部" not in str(note_event.changes)        # events never copy the note's text


def test_escalation_raises_one_step(agent, customer, actor_for):
    actor = actor_for(agent)
    ticket = _ticket_in(actor, customer, "open")
    with pytest.raises(ValidationFailed):
        ticket_escalate(actor=actor, ticket=ticket, reason=" ")
    for expected in ("high", "urgent", "urgent"):
        ticket = ticket_escalate(actor=actor, ticket=ticket, reason="客户投诉升级")
        assert ticket.priority == expected
    entry = AuditEntry.objects.filter(action="ticket.escalate").order_by("seq").first()
    assert entry.changes["priority"] == {"before": "normal", "after": "high"}


def test_merge_duplicates_and_undo(agent, customer, others_customer, actor_for):
    actor = actor_for(agent)
    survivor = _ticket_in(actor, customer, "open")
    duplicate = _ticket_in(actor, customer, "in_progress")
    ticket_message_add(actor=actor, ticket=duplicate, kind="customer", body="又打电话来了")
    ticket_message_add(actor=actor, ticket=duplicate, kind="note", body="同一问题")
    # refused: itself, another customer's ticket
    elsewhere = _ticket_in(actor, others_customer, "open")
    before = db_snapshot()
    for into in (duplicate, elsewhere):
        with pytest.raises(ValidationFailed):
            ticket_merge(actor=actor, duplicate=duplicate, into=into)
    assert db_snapshot() == before
    ticket_merge(actor=actor, duplicate=duplicate, into=survivor)
    duplicate.refresh_from_db()
    assert duplicate.status == "closed" and duplicate.merged_into == survivor
    assert TicketMessage.objects.filter(ticket=survivor, moved_from=duplicate).count() == 2
    event = DomainEvent.objects.get(type="ticket.merged")
    assert event.changes["into"] == survivor.number and event.changes["moved_messages"] == 2
    assert event.changes["status"] == {"before": "in_progress", "after": "closed"}
    # a merged duplicate is not worked any more
    with pytest.raises(ValidationFailed):
        ticket_update(actor=actor, ticket=duplicate, status="in_progress", priority="normal",
                      assignee=agent, resolution="")
    with pytest.raises(ValidationFailed):
        ticket_merge(actor=actor, duplicate=duplicate, into=survivor)
    ticket_unmerge(actor=actor, duplicate=duplicate)
    duplicate.refresh_from_db()
    assert duplicate.status == "in_progress" and duplicate.merged_into is None
    assert duplicate.resolved_at is None
    assert TicketMessage.objects.filter(ticket=duplicate).count() == 2
    assert not TicketMessage.objects.filter(ticket=survivor).exists()
    assert DomainEvent.objects.filter(type="ticket.unmerged").count() == 1
