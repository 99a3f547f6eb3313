"""Data-subject requests: the 15-working-day clock across PRC holidays and 调休, the identity
step, refusals keep their reason, reminders and escalation once each."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from kehu.core.actor import Actor
from kehu.core.errors import Conflict, PermissionDenied, ValidationFailed
from kehu.core.models import DomainEvent
from kehu.privacy import requests as dsr
from kehu.privacy.models import PrivacyRequest
from tests.factories import create_customer

pytestmark = pytest.mark.django_db
SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_the_deadline_skips_the_national_day_holiday_and_counts_the_make_up_saturday():
    # Opened Monday 28 September 2026: 1–7 October are off, Saturday 10 October is worked.
    assert dsr.due_date_for(dt.date(2026, 9, 28)) == dt.date(2026, 10, 23)
    # Opened an ordinary Monday: three weeks later.
    assert dsr.due_date_for(dt.date(2026, 11, 2)) == dt.date(2026, 11, 23)


def test_working_days_left_counts_only_working_days():
    assert dsr.working_days_left(dt.date(2026, 10, 9), today=dt.date(2026, 9, 30)) == 2
    assert dsr.working_days_left(dt.date(2026, 11, 20), today=dt.date(2026, 11, 23)) == -1


@pytest.fixture
def actor(make_user):
    return Actor(user=make_user("compliance_auditor"))


def test_a_request_opened_before_the_holiday_is_due_after_it(actor):
    customer = create_customer(name="假期客户")
    row = dsr.request_open(actor=actor, kind="access", customer_id=customer.pk,
                           opened_at=dt.datetime(2026, 9, 28, 10, tzinfo=SHANGHAI))
    assert row.due_date == dt.date(2026, 10, 23)
    event = DomainEvent.objects.get(type="privacy.request_opened")
    assert event.customer_id == customer.pk and event.changes["kind"] == "access"


def test_identity_first_then_complete_and_refusal_needs_a_reason(actor):
    customer = create_customer(name="流程客户")
    row = dsr.request_open(actor=actor, kind="deletion", customer_id=customer.pk)
    with pytest.raises(Conflict):
        dsr.request_complete(actor=actor, request_id=row.pk, outcome="done")
    with pytest.raises(ValidationFailed):
        dsr.request_refuse(actor=actor, request_id=row.pk, reason=" ")
    dsr.request_verify(actor=actor, request_id=row.pk, method="短信验证码发送至预留手机")
    refused = dsr.request_refuse(actor=actor, request_id=row.pk, reason="存在未结清的合同纠纷")
    assert refused.status == "refused" and refused.refusal_reason == "存在未结清的合同纠纷"
    with pytest.raises(Conflict):
        dsr.request_complete(actor=actor, request_id=row.pk, outcome="x")
    closed = DomainEvent.objects.get(type="privacy.request_closed")
    assert closed.changes["status"] == {"before": "verified", "after": "refused"}


def test_a_form_request_names_the_customer_at_verification(actor):
    row = dsr.request_open(actor=Actor(via="web"), kind="withdrawal", intake="form",
                           requester_name="某人", requester_contact="someone@example.cn")
    with pytest.raises(ValidationFailed):
        dsr.request_verify(actor=actor, request_id=row.pk, method="邮件确认")
    customer = create_customer(name="表单客户")
    verified = dsr.request_verify(actor=actor, request_id=row.pk, method="邮件确认",
                                  customer_id=customer.pk)
    assert verified.customer_id == customer.pk and verified.status == "verified"


def test_only_privacy_managers_handle_requests(make_user):
    customer = create_customer(name="权限客户")
    with pytest.raises(PermissionDenied):
        dsr.request_open(actor=Actor(user=make_user("sales_rep")), kind="access",
                         customer_id=customer.pk)
    assert not PrivacyRequest.objects.exists()


def test_reminders_and_escalation_happen_once(actor):
    customer = create_customer(name="提醒客户")
    soon = dsr.request_open(actor=actor, kind="access", customer_id=customer.pk)
    late = dsr.request_open(actor=actor, kind="access", customer_id=customer.pk)
    PrivacyRequest.objects.filter(pk=soon.pk).update(due_date=dt.date(2026, 11, 24))
    PrivacyRequest.objects.filter(pk=late.pk).update(due_date=dt.date(2026, 11, 10))
    today = dt.date(2026, 11, 20)
    assert dsr.requests_check_deadlines(today=today) == {"reminded": 1, "escalated": 1}
    assert dsr.requests_check_deadlines(today=today) == {"reminded": 0, "escalated": 0}
    levels = sorted(e.changes["level"] for e in
                    DomainEvent.objects.filter(type="privacy.request_escalated"))
    assert levels == ["overdue", "reminder"]
