"""Complaints: categories and severity, root cause and corrective action required to close,
personal-information complaints routed to compliance, and 近期有投诉 flowing from them."""

from __future__ import annotations

import pytest

from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import DomainEvent
from kehu.notifications.models import Notification
from kehu.service.models import Complaint
from kehu.service.services.complaints import (
    complaint_open,
    complaint_record,
    complaint_update,
)
from kehu.transactions.ticket_services import ticket_open, ticket_update
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


def _close(actor, ticket, status="resolved"):
    ticket.refresh_from_db()
    return ticket_update(actor=actor, ticket=ticket, status=status, priority=ticket.priority,
                         assignee=ticket.assignee, resolution="已退款并致歉")


def test_closing_needs_root_cause_and_corrective_action(agent, customer, actor_for):
    actor = actor_for(agent)
    complaint = complaint_open(actor=actor, customer=customer, subject="快递延误一周",
                               category="delivery", severity="high")
    ticket = complaint.ticket
    assert ticket.kind == "complaint" and complaint.severity == "high"
    for status in ("resolved", "closed"):
        before = db_snapshot()
        with pytest.raises(ValidationFailed) as caught:
            _close(actor, ticket, status)
        assert set(caught.value.details) == {"root_cause", "corrective_action"}
        assert db_snapshot() == before
    complaint_update(actor=actor, ticket=ticket, category="delivery", severity="high",
                     root_cause="仓库漏发", corrective_action="")
    with pytest.raises(ValidationFailed) as caught:
        _close(actor, ticket)
    assert list(caught.value.details) == ["corrective_action"]
    complaint_update(actor=actor, ticket=ticket, category="delivery", severity="high",
                     root_cause="仓库漏发", corrective_action="增加出库复核")
    assert _close(actor, ticket).status == "resolved"
    # once closed, the findings cannot be blanked
    with pytest.raises(ValidationFailed):
        complaint_update(actor=actor, ticket=ticket, category="delivery", severity="high",
                         root_cause="", corrective_action="增加出库复核")
    assert Complaint.objects.get(ticket=ticket).root_cause == "仓库漏发"


def test_complaint_ticket_without_its_record_cannot_close(agent, customer, actor_for):
    actor = actor_for(agent)
    ticket = ticket_open(actor=actor, customer=customer, kind="complaint", subject="态度差")
    with pytest.raises(ValidationFailed) as caught:
        _close(actor, ticket)
    assert list(caught.value.details) == ["category"]
    with pytest.raises(ValidationFailed):
        complaint_record(actor=actor, ticket=ticket, category="rudeness")
    complaint_record(actor=actor, ticket=ticket, category="service_attitude")
    with pytest.raises(ValidationFailed):        # one record per ticket
        complaint_record(actor=actor, ticket=ticket, category="billing")
    inquiry = ticket_open(actor=actor, customer=customer, kind="inquiry", subject="问价")
    with pytest.raises(ValidationFailed):
        complaint_record(actor=actor, ticket=inquiry, category="billing")


def test_privacy_complaint_goes_to_compliance(agent, customer, actor_for, make_user):
    officer_a = make_user("compliance_auditor")
    officer_b = make_user("compliance_auditor")
    actor = actor_for(agent)
    first = complaint_open(actor=actor, customer=customer, subject="我的电话被泄露给第三方",
                           category="privacy", severity="critical")
    first.ticket.refresh_from_db()
    assert first.routed_to == officer_a and first.ticket.assignee == officer_a
    note = Notification.objects.get(recipient=officer_a, kind="privacy_complaint")
    assert first.ticket.number in note.title
    routed = DomainEvent.objects.get(type="complaint.routed")
    assert routed.changes["role"] == "compliance_auditor"
    # the next one goes to the officer with fewer open ones
    second = complaint_open(actor=actor, customer=customer, subject="收到骚扰短信",
                            category="privacy")
    assert second.routed_to == officer_b
    # a complaint recategorised as personal information is routed too
    third = complaint_open(actor=actor, customer=customer, subject="账单有误",
                           category="billing")
    assert third.routed_to is None
    complaint_update(actor=actor, ticket=third.ticket, category="privacy", severity="medium",
                     root_cause="", corrective_action="")
    third.refresh_from_db()
    assert third.routed_to in (officer_a, officer_b)
    # compliance works what it is given
    complaint_update(actor=actor_for(officer_a), ticket=first.ticket, category="privacy",
                     severity="critical", root_cause="外包客服导出名单",
                     corrective_action="收回导出权限并培训")
    assert _close(actor_for(officer_a), first.ticket).status == "resolved"


def test_no_compliance_user_leaves_it_with_the_agent(agent, customer, actor_for):
    complaint = complaint_open(actor=actor_for(agent), customer=customer, subject="信息泄露",
                               category="privacy")
    complaint.ticket.refresh_from_db()
    assert complaint.routed_to is None and complaint.ticket.assignee == agent


def test_recent_complaint_segment_flows_from_complaints(agent, customer, others_customer,
                                                        actor_for, admin_user):
    from kehu.segments.library import TEMPLATES
    from kehu.segments.selectors import segment_queryset

    complaint_open(actor=actor_for(agent), customer=customer, subject="质量问题",
                   category="product_quality")
    ticket_open(actor=actor_for(agent), customer=others_customer, kind="inquiry", subject="问价")
    definition = TEMPLATES["recent_complaint"]["definition"]
    matched = segment_queryset(user=admin_user, definition=definition)
    assert list(matched.values_list("pk", flat=True)) == [customer.pk]


def test_only_ticket_workers_record_complaints(rep, customer, actor_for):
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        complaint_open(actor=actor_for(rep), customer=customer, subject="x", category="billing")
    assert db_snapshot() == before
