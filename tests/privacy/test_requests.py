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


def test_reminders_at_5_and_2_working_days_and_escalation_across_national_day(
        actor, admin_user, make_user):
    """Due Friday 9 October 2026. Working days (国务院 2026 notice): 24 Sep is the last
    Thursday before 中秋 (25–27 Sep off); 28–30 Sep worked; 1–7 Oct off; 8–9 Oct worked;
    Saturday 10 Oct is the make-up day. So 5 working days are left on 24 Sep, 2 on 30 Sep,
    and the request is overdue on Saturday 10 Oct. Run daily, each happens once; the handler
    (who opened it) gets the reminders, compliance and administrators the escalation."""
    from kehu.notifications.models import Notification

    bystander = make_user("sales_rep")
    customer = create_customer(name="国庆客户")
    row = dsr.request_open(actor=actor, kind="deletion", customer_id=customer.pk)
    PrivacyRequest.objects.filter(pk=row.pk).update(due_date=dt.date(2026, 10, 9))
    happened = {}
    day = dt.date(2026, 9, 18)
    while day <= dt.date(2026, 10, 16):
        counts = dsr.requests_check_deadlines(today=day)
        if any(counts.values()):
            happened[day] = counts
        day += dt.timedelta(days=1)
    assert happened == {dt.date(2026, 9, 24): {"reminded": 1, "escalated": 0},
                        dt.date(2026, 9, 30): {"reminded": 1, "escalated": 0},
                        dt.date(2026, 10, 10): {"reminded": 0, "escalated": 1}}
    events = DomainEvent.objects.filter(type="privacy.request_escalated").order_by("id")
    assert [(e.changes["level"], e.changes.get("working_days_left")) for e in events] == [
        ("reminder", 5), ("reminder", 2), ("overdue", None)]
    handler = Notification.objects.filter(recipient=actor.user).order_by("id")
    assert [n.dedupe_key for n in handler] == [f"privacy_request:{row.pk}:remind:5",
                                               f"privacy_request:{row.pk}:remind:2",
                                               f"privacy_request:{row.pk}:overdue"]
    assert "5" in handler[0].title and handler[0].link == f"/privacy/requests/{row.pk}/"
    assert list(Notification.objects.filter(recipient=admin_user)
                .values_list("dedupe_key", flat=True)) == [f"privacy_request:{row.pk}:overdue"]
    assert not Notification.objects.filter(recipient=bystander).exists()
    # A closed request is neither reminded nor escalated.
    later = dsr.request_open(actor=actor, kind="access", customer_id=customer.pk)
    PrivacyRequest.objects.filter(pk=later.pk).update(due_date=dt.date(2026, 10, 9))
    dsr.request_refuse(actor=actor, request_id=later.pk, reason="重复请求")
    assert dsr.requests_check_deadlines(today=dt.date(2026, 10, 12)) == {
        "reminded": 0, "escalated": 0}


def test_a_missed_day_gives_one_reminder_for_the_tightest_threshold(actor):
    customer = create_customer(name="补跑客户")
    row = dsr.request_open(actor=actor, kind="access", customer_id=customer.pk)
    PrivacyRequest.objects.filter(pk=row.pk).update(due_date=dt.date(2026, 10, 9))
    # The job first runs on 30 September (2 left): one reminder, for the 2-day threshold.
    assert dsr.requests_check_deadlines(today=dt.date(2026, 9, 30))["reminded"] == 1
    assert dsr.requests_check_deadlines(today=dt.date(2026, 10, 8))["reminded"] == 0
    event = DomainEvent.objects.get(type="privacy.request_escalated")
    assert event.changes["threshold"] == 2
