"""SLA clocks from the status history: lunch breaks, weekends, holidays, 调休 days, pauses,
policy changes recomputing past tickets, and the minute check's warnings and breaches."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kehu.core.actor import Actor
from kehu.core.models import DomainEvent
from kehu.service.models import SLAPolicy, TicketSLA
from kehu.service.services.sla import sla_check, sla_policy_update, sla_recompute
from kehu.transactions.ticket_services import ticket_message_add, ticket_open, ticket_update
from tests.service.conftest import at

HOUR = 3600
pytestmark = pytest.mark.django_db


def _open(actor, customer, clock, *when, priority="normal", kind="service_request"):
    clock.set(*when)
    return ticket_open(actor=actor, customer=customer, kind=kind, subject="打印机卡纸",
                       priority=priority)


def _move(actor, ticket, clock, status, *when, resolution=""):
    clock.set(*when)
    ticket.refresh_from_db()
    return ticket_update(actor=actor, ticket=ticket, status=status, priority=ticket.priority,
                         assignee=ticket.assignee, resolution=resolution)


def _sla(ticket):
    return TicketSLA.objects.get(ticket=ticket)


def test_first_response_across_the_lunch_break(agent, customer, clock, actor_for):
    actor = actor_for(agent)
    ticket = _open(actor, customer, clock, 2026, 3, 2, 11)        # Monday 11:00
    sla = _sla(ticket)
    assert sla.policy.name == "普通工单"
    assert sla.first_response_target == 4 * HOUR
    # 1 h before lunch, 3 h after: due 16:00, warning at 80 % (3.2 h) 15:12
    assert sla.first_response_due_at == at(2026, 3, 2, 16)
    assert sla.first_response_warn_at == at(2026, 3, 2, 15, 12)
    clock.set(2026, 3, 2, 15, 30)
    ticket_message_add(actor=actor, ticket=ticket, kind="reply", body="已安排工程师上门")
    sla = _sla(ticket)
    assert sla.first_response_elapsed == int(3.5 * HOUR)
    assert sla.first_response_stopped_at == at(2026, 3, 2, 15, 30)
    assert sla.first_response_due_at is None and not sla.first_response_breached
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"          # a reply takes an open ticket in hand


def test_weekend_and_holiday_and_make_up_day(agent, customer, clock, actor_for):
    actor = actor_for(agent)
    # Friday 6 March 2026 17:00 + 4 h: 1 h Friday, 3 h Monday → Monday 12:00
    ticket = _open(actor, customer, clock, 2026, 3, 6, 17)
    assert _sla(ticket).first_response_due_at == at(2026, 3, 9, 12)
    # Friday 13 Feb 2026 17:00: Saturday 14 Feb is a 调休 working day → due Sat 12:00
    ticket = _open(actor, customer, clock, 2026, 2, 13, 17)
    assert _sla(ticket).first_response_due_at == at(2026, 2, 14, 12)
    # Thursday 30 April 2026 17:00: 1–5 May off, Wed 6 May → due Wed 12:00
    ticket = _open(actor, customer, clock, 2026, 4, 30, 17)
    assert _sla(ticket).first_response_due_at == at(2026, 5, 6, 12)
    # Resolution (24 h = 3 working days) from Tue 29 Sep 2026 09:00: 29, 30 Sep, then 8 Oct
    ticket = _open(actor, customer, clock, 2026, 9, 29, 9)
    assert _sla(ticket).resolution_due_at == at(2026, 10, 8, 18)


def test_pause_while_waiting_for_the_customer(agent, customer, clock, actor_for):
    actor = actor_for(agent)
    ticket = _open(actor, customer, clock, 2026, 3, 2, 9)
    _move(actor, ticket, clock, "waiting_customer", 2026, 3, 2, 10)
    sla = _sla(ticket)
    assert sla.paused and sla.resolution_due_at is None and sla.first_response_due_at is None
    assert sla.resolution_elapsed == HOUR
    # The customer answers a day later: the clock runs again with 23 h left
    clock.set(2026, 3, 3, 10)
    ticket_message_add(actor=actor, ticket=ticket, kind="customer", body="客户回电", channel="phone")
    ticket.refresh_from_db()
    assert ticket.status == "in_progress"
    sla = _sla(ticket)
    assert not sla.paused
    # 23 h left from Tuesday 10:00: 7 h Tue, 8 h Wed, 8 h Thu → Thursday 18:00
    assert sla.resolution_due_at == at(2026, 3, 5, 18)
    _move(actor, ticket, clock, "resolved", 2026, 3, 3, 12, resolution="更换定影组件")
    sla = _sla(ticket)
    assert sla.resolution_elapsed == 3 * HOUR          # 09–10 Mon, 10–12 Tue (lunch outside)
    assert sla.resolution_stopped_at == at(2026, 3, 3, 12) and not sla.resolution_breached


def test_next_response_after_the_customer_writes_again(agent, customer, clock, actor_for):
    actor = actor_for(agent)
    ticket = _open(actor, customer, clock, 2026, 3, 2, 9)
    clock.set(2026, 3, 2, 9, 30)
    ticket_message_add(actor=actor, ticket=ticket, kind="reply", body="收到")
    assert _sla(ticket).next_response_started_at is None
    clock.set(2026, 3, 2, 16)
    ticket_message_add(actor=actor, ticket=ticket, kind="customer", body="还是不行")
    sla = _sla(ticket)
    assert sla.next_response_started_at == at(2026, 3, 2, 16)
    assert sla.next_response_due_at == at(2026, 3, 3, 16)   # 8 h: 2 h Mon, 3 + 3 h Tue
    clock.set(2026, 3, 3, 9, 30)
    ticket_message_add(actor=actor, ticket=ticket, kind="note", body="内部：备件缺货")
    assert _sla(ticket).next_response_due_at == at(2026, 3, 3, 16)   # notes change nothing
    ticket_message_add(actor=actor, ticket=ticket, kind="reply", body="明天上门")
    sla = _sla(ticket)
    assert sla.next_response_stopped_at == at(2026, 3, 3, 9, 30)
    assert sla.next_response_elapsed == int(2.5 * HOUR)


def test_policy_change_recomputes_past_tickets(agent, customer, admin_user, clock, actor_for):
    actor = actor_for(agent)
    ticket = _open(actor, customer, clock, 2026, 3, 2, 9)
    _move(actor, ticket, clock, "resolved", 2026, 3, 2, 14, resolution="远程指导")
    sla = _sla(ticket)
    assert sla.resolution_elapsed == 4 * HOUR and not sla.resolution_breached
    policy = SLAPolicy.objects.get(name="普通工单")
    clock.set(2026, 3, 10, 9)
    sla_policy_update(actor=Actor(user=admin_user), policy=policy, resolution_hours="3")
    policy.refresh_from_db()
    assert policy.resolution_hours == Decimal("3.00")
    sla_recompute()                    # what the background job runs after the change
    sla = _sla(ticket)
    assert sla.resolution_target == 3 * HOUR and sla.resolution_breached
    # the warning/breach record of past tickets is not replayed as events
    assert not DomainEvent.objects.filter(type="ticket.sla_breached").exists()
    assert sla_check() == {"warnings": 0, "breaches": 0}


def test_more_specific_policy_wins(agent, customer, admin_user, clock, actor_for):
    from kehu.service.services.sla import sla_policy_create

    sla_policy_create(actor=Actor(user=admin_user), name="投诉", kind="complaint",
                      priority="normal", first_response_hours="1", resolution_hours="8")
    sla_recompute()
    actor = actor_for(agent)
    complaint = _open(actor, customer, clock, 2026, 3, 2, 9, kind="complaint")
    request = _open(actor, customer, clock, 2026, 3, 2, 9)
    assert _sla(complaint).policy.name == "投诉"
    assert _sla(complaint).first_response_due_at == at(2026, 3, 2, 10)
    assert _sla(request).policy.name == "普通工单"


def test_minute_check_warns_then_breaches_once_and_escalates(agent, customer, clock, actor_for,
                                                            make_user, team):
    from kehu.notifications.models import Notification

    lead = make_user("sales_manager", team=team)
    team.managers.add(lead)
    actor = actor_for(agent)
    ticket = _open(actor, customer, clock, 2026, 3, 2, 11)      # first response due 16:00
    clock.set(2026, 3, 2, 15, 0)
    assert sla_check() == {"warnings": 0, "breaches": 0}
    clock.set(2026, 3, 2, 15, 13)
    assert sla_check() == {"warnings": 1, "breaches": 0}
    assert sla_check() == {"warnings": 0, "breaches": 0}          # once
    assert Notification.objects.filter(recipient=agent, kind="sla_warning").count() == 1
    clock.set(2026, 3, 2, 16, 1)
    assert sla_check() == {"warnings": 0, "breaches": 1}
    assert sla_check() == {"warnings": 0, "breaches": 0}
    ticket.refresh_from_db()
    assert ticket.priority == "high"
    assert Notification.objects.filter(recipient=lead, kind="sla_breach").count() == 1
    events = DomainEvent.objects.filter(object_type="ticket", object_id=str(ticket.pk),
                                        type__startswith="ticket.sla_")
    assert sorted(events.values_list("type", flat=True)) == [
        "ticket.sla_breached", "ticket.sla_warning"]
    breach = events.get(type="ticket.sla_breached")
    assert breach.changes["clock"] == "first_response" and breach.customer_id == customer.pk
    # the raised priority moves the ticket to the high policy; the breach is not emitted again
    sla = _sla(ticket)
    assert sla.policy.name == "高优先级工单" and sla.breached & 1
    clock.set(2026, 3, 5, 9)
    counts = sla_check()
    assert counts["breaches"] <= 1       # the resolution clock may breach, first response not
    assert DomainEvent.objects.filter(type="ticket.sla_breached",
                                      changes__clock="first_response").count() == 1


def test_customer_value_tier_picks_its_policy(agent, customer, others_customer, admin_user,
                                              clock, actor_for):
    from django.utils import timezone

    from kehu.scoring.models import CustomerValue
    from kehu.service.services.sla import sla_policy_create

    CustomerValue.objects.create(customer=customer, value_tier="high_value",
                                 scored_at=timezone.now())
    # as specific as the priority policies (one criterion each): its lower order decides
    sla_policy_create(actor=Actor(user=admin_user), name="高价值客户", customer_tier="high_value",
                      first_response_hours="0.5", resolution_hours="8", position=5)
    actor = actor_for(agent)
    vip = _open(actor, customer, clock, 2026, 3, 2, 9)
    plain = _open(actor, others_customer, clock, 2026, 3, 2, 9)
    assert _sla(vip).policy.name == "高价值客户"
    assert _sla(vip).first_response_due_at == at(2026, 3, 2, 9, 30)
    assert _sla(plain).policy.name == "普通工单"
