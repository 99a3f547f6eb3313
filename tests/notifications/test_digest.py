"""The daily digest: one email per user and day with unread notifications and due/overdue
follow-ups; idempotent; `kehu notifications digest`."""

from __future__ import annotations

import datetime as dt
import email
import json
from email import policy
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from kehu.interactions.models import FollowUpTask
from kehu.notifications.digest import digest_send
from kehu.notifications.models import OutboundMessage
from kehu.notifications.services import notification_send
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user, system):
    alice = make_user("sales_rep", username="alice", email="alice@example.com")
    bob = make_user("sales_rep", username="bob", email="")
    carol = make_user("sales_rep", username="carol", email="carol@example.com")
    notification_send(actor=system, recipients=[alice, bob], kind="rule", title="签约：通知财务开票")
    customer = CustomerFactory(owner=alice, name="华为")
    today = timezone.localdate()
    FollowUpTask.objects.create(customer=customer, assignee=alice, title="回访报价",
                                due_date=today - dt.timedelta(days=2))
    FollowUpTask.objects.create(customer=customer, assignee=alice, title="下周再说",
                                due_date=today + dt.timedelta(days=7))
    return alice, bob, carol


def _eml(tmp_path: Path, message: OutboundMessage):
    data = (tmp_path / "outbox" / f"message-{message.pk}.eml").read_bytes()
    return email.message_from_bytes(data, policy=policy.default)


def test_digest_lists_unread_and_due_tasks_once_a_day(people, tmp_path,
                                                      django_capture_on_commit_callbacks):
    alice, _bob, _carol = people
    with django_capture_on_commit_callbacks(execute=True):
        result = digest_send()
    assert (result.sent, result.no_email, result.nothing_to_say) == (1, 1, 1)
    message = OutboundMessage.objects.get()
    assert message.to == ["alice@example.com"] and message.status == "sent"
    assert message.purpose == "notification"
    body = _eml(tmp_path, message).get_body(("plain",)).get_content()
    assert "签约：通知财务开票" in body and "回访报价 · 华为" in body
    assert "下周再说" not in body  # not due yet
    html = _eml(tmp_path, message).get_body(("html",)).get_content()
    assert "回访报价" in html
    with django_capture_on_commit_callbacks(execute=True):
        again = digest_send()
    assert again.sent == 0 and again.already_sent == 1
    assert OutboundMessage.objects.count() == 1
    # The next day is another digest.
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    assert digest_send(day=tomorrow).sent == 1


def test_digest_command(people):
    out = StringIO()
    call_command("notifications", "digest", "--json", stdout=out)
    data = json.loads(out.getvalue().strip().splitlines()[-1])
    assert data["sent"] == 1 and data["no_email"] == 1
    out = StringIO()
    call_command("notifications", "digest", "--json", "--user", "alice", stdout=out)
    assert json.loads(out.getvalue())["already_sent"] == 1


def test_send_queued_command(people, tmp_path):
    digest_send()  # queued, its on-commit hook never runs in this test transaction
    assert OutboundMessage.objects.get().status == "queued"
    out = StringIO()
    call_command("notifications", "send-queued", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["tried"] == 1 and data["sent"] == 1


def test_the_hourly_task_waits_for_the_digest_hour(people, settings):
    from kehu.notifications.tasks import digest_hourly

    settings.KEHU_DIGEST_HOUR = 23
    hour = timezone.localtime().hour
    expected_before = None if hour < 23 else 1
    assert digest_hourly.call_local() == expected_before
    settings.KEHU_DIGEST_HOUR = 0
    sent = digest_hourly.call_local()
    assert sent == (1 if expected_before is None else 0)
    assert OutboundMessage.objects.filter(dedupe_key__startswith="digest:").count() == 1
