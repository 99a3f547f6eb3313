"""email_send / sms_send: queued in the transaction, sent after commit by the worker (Huey runs
immediately in tests), retried with backoff, failures recorded; a real SMTP server."""

from __future__ import annotations

import datetime as dt
import email
import json
from email import policy
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from kehu.core.errors import ValidationFailed
from kehu.notifications.channels import (
    email_send,
    message_render,
    outbound_deliver,
    outbound_sweep,
    sms_send,
)
from kehu.notifications.models import OutboundMessage

pytestmark = pytest.mark.django_db(transaction=True)


def _parse(data: bytes):
    return email.message_from_bytes(data, policy=policy.default)


def _due_now(message: OutboundMessage) -> None:
    OutboundMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


def test_email_reaches_a_real_smtp_server_with_rendered_variables(settings, smtp_server):
    settings.KEHU_EMAIL_URL = smtp_server.url
    subject, text = message_render(
        subject={"zh-hans": "{{ customer.name }}，您好", "en": "Hello {{ customer.name }}"},
        body={"zh-hans": "中文", "en": "Dear {{ customer.name }}, your {{ order.number }} "
                                       "ships on {{ order.day|date:'Y-m-d' }}.{{ missing }}"},
        context={"customer": {"name": "王芳"},
                 "order": {"number": "SO-42", "day": dt.date(2026, 5, 1)}},
        language="en")
    with transaction.atomic():
        message = email_send(to=["Wang.Fang@Example.com", "boss@example.com"], subject=subject,
                             text=text, reply_to="sales@example.com", customer_id=7)
        assert OutboundMessage.objects.get(pk=message.pk).status == "queued"
        assert smtp_server.handler.envelopes == []  # nothing leaves before the commit
    message.refresh_from_db()
    assert message.status == "sent" and message.attempts == 1 and message.sent_at
    [envelope] = smtp_server.handler.envelopes
    assert sorted(envelope.rcpt_tos) == ["boss@example.com", "wang.fang@example.com"]
    received = _parse(envelope.content)
    assert received["Subject"] == "Hello 王芳"
    assert received["Reply-To"] == "sales@example.com"
    assert received["Message-ID"] == message.provider_id
    body = received.get_body(("plain",)).get_content()
    assert "Dear 王芳, your SO-42 ships on 2026-05-01." in body
    assert message.customer_id == 7


def test_default_writes_an_eml_file_to_the_outbox(settings, tmp_path):
    with transaction.atomic():
        message = email_send(to=["a@example.com"], subject="报价单", text="您好，附上报价。",
                             html="<p>您好</p>")
    message.refresh_from_db()
    assert message.status == "sent"
    path = Path(tmp_path) / "outbox" / f"message-{message.pk}.eml"
    parsed = _parse(path.read_bytes())
    assert parsed["To"] == "a@example.com" and parsed["Subject"] == "报价单"
    assert parsed.get_body(("plain",)).get_content().strip() == "您好，附上报价。"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>您好</p>"


def test_smtp_failure_is_retried_with_backoff_then_sent(settings, smtp_server):
    settings.KEHU_EMAIL_URL = smtp_server.url
    smtp_server.handler.fail = 1
    with transaction.atomic():
        message = email_send(to=["a@example.com"], subject="Hi", text="body")
    message.refresh_from_db()
    assert message.status == "queued" and message.attempts == 1
    assert "451" in message.last_error
    assert message.next_attempt_at > timezone.now() + dt.timedelta(seconds=50)
    assert outbound_sweep() == 0  # not due yet
    _due_now(message)
    assert outbound_sweep() == 1
    message.refresh_from_db()
    assert message.status == "sent" and message.attempts == 2
    assert len(smtp_server.handler.envelopes) == 1


def test_a_message_that_keeps_failing_is_marked_failed_not_lost(settings):
    settings.KEHU_EMAIL_URL = "smtp://127.0.0.1:1?timeout=2"  # nothing listens there
    with transaction.atomic():
        message = email_send(to=["a@example.com"], subject="Hi", text="secret body")
    for _attempt in range(2):
        _due_now(message)
        outbound_sweep()
    message.refresh_from_db()
    assert message.status == "failed" and message.attempts == 3
    assert message.last_error and "secret body" not in message.last_error
    assert message.next_attempt_at is None
    assert outbound_deliver(message_id=message.pk) is None  # failed stays failed


def test_error_text_never_shows_the_password(settings):
    settings.KEHU_EMAIL_URL = "smtp://user:s3cr3t-pw@127.0.0.1:1?timeout=2"
    with transaction.atomic():
        message = email_send(to=["a@example.com"], subject="Hi", text="x")
    message.refresh_from_db()
    assert "s3cr3t-pw" not in message.last_error


def test_sms_goes_to_the_file_provider(tmp_path):
    with transaction.atomic():
        message = sms_send(to="138 1234 5678", text="您的订单已发货")
    message.refresh_from_db()
    assert message.status == "sent" and message.to == ["+8613812345678"]
    lines = (Path(tmp_path) / "outbox" / "sms.log").read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[-1])
    assert record["to"] == "+8613812345678" and record["text"] == "您的订单已发货"
    assert record["id"] == message.provider_id


class FlakyProvider:
    calls = 0

    def send(self, to, text):
        FlakyProvider.calls += 1
        if FlakyProvider.calls == 1:
            raise ConnectionError("gateway down")
        return "gw-1"


def test_sms_provider_is_pluggable_and_retried(settings):
    settings.KEHU_SMS_PROVIDER = "tests.notifications.test_channels.FlakyProvider"
    FlakyProvider.calls = 0
    with transaction.atomic():
        message = sms_send(to="+8613812345678", text="hi")
    message.refresh_from_db()
    assert message.status == "queued" and "gateway down" in message.last_error
    _due_now(message)
    outbound_sweep()
    message.refresh_from_db()
    assert message.status == "sent" and message.provider_id == "gw-1" and message.attempts == 2


def test_bad_input_names_the_field_and_queues_nothing():
    with pytest.raises(ValidationFailed) as caught:
        email_send(to=["ok@example.com", "not an address"], subject="x", text="y")
    assert "to[1]" in caught.value.details
    with pytest.raises(ValidationFailed) as caught:
        sms_send(to="12", text="y")
    assert "to" in caught.value.details
    with pytest.raises(ValidationFailed) as caught:
        email_send(to=["a@example.com"], subject="x", text="y", purpose="spam")
    assert "purpose" in caught.value.details
    with pytest.raises(ValidationFailed) as caught:
        email_send(to=["a@example.com"], subject="x", text="y", headers={"Bcc\r\nX": "1"})
    assert "headers" in caught.value.details
    assert not OutboundMessage.objects.exists()


def test_dedupe_key_sends_once():
    with transaction.atomic():
        first = email_send(to=["a@example.com"], subject="x", text="y", dedupe_key="k1")
        second = email_send(to=["a@example.com"], subject="x", text="y", dedupe_key="k1")
    assert first.pk == second.pk
    assert OutboundMessage.objects.count() == 1


def test_a_rolled_back_transaction_sends_nothing(tmp_path):
    with pytest.raises(RuntimeError), transaction.atomic():
        email_send(to=["a@example.com"], subject="x", text="y")
        raise RuntimeError("caller failed")
    assert not OutboundMessage.objects.exists()
    assert not (Path(tmp_path) / "outbox").exists()


class _Refusing:
    """An SMTP server that refuses every message for good (550)."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        return "550 5.7.1 Message rejected"


def test_a_permanent_refusal_fails_at_once(settings, smtp_server):
    settings.KEHU_EMAIL_URL = smtp_server.url
    smtp_server.handler.fail = 0
    smtp_server.handler.__class__ = type("Refusing", (_Refusing,), {})
    with transaction.atomic():
        message = email_send(to=["a@example.com"], subject="Hi", text="x")
    message.refresh_from_db()
    assert message.status == "failed" and message.attempts == 1 and "550" in message.last_error


def test_a_claim_is_respected_and_a_lapsed_one_taken_over(settings):
    with transaction.atomic():
        message = email_send(to=["a@example.com"], subject="Hi", text="x", dedupe_key="claim")
        # Another worker holds it (claimed before this commit's hook runs).
        OutboundMessage.objects.filter(pk=message.pk).update(
            locked_until=timezone.now() + dt.timedelta(minutes=5), attempts=1)
    message.refresh_from_db()
    assert message.status == "queued"  # the hook found it held and left it alone
    assert outbound_sweep() == 0
    # That worker died: its claim lapses and the sweep sends the message.
    OutboundMessage.objects.filter(pk=message.pk).update(
        locked_until=timezone.now() - dt.timedelta(seconds=1))
    assert outbound_sweep() == 1
    message.refresh_from_db()
    assert message.status == "sent" and message.attempts == 2


def test_test_email_command_reports_delivery(settings, smtp_server):
    from io import StringIO

    from django.core.management import CommandError, call_command

    settings.KEHU_EMAIL_URL = smtp_server.url
    out = StringIO()
    call_command("notifications", "test-email", "ops@example.com", stdout=out)
    assert "ops@example.com" in out.getvalue()
    assert smtp_server.handler.envelopes[0].rcpt_tos == ["ops@example.com"]
    settings.KEHU_EMAIL_URL = "smtp://127.0.0.1:1?timeout=2"
    with pytest.raises(CommandError) as caught:
        call_command("notifications", "test-email", "ops@example.com", stdout=StringIO())
    assert "ConnectionRefusedError" in str(caught.value) or "Errno" in str(caught.value)
