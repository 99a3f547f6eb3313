"""notification_send / notification_mark_read and the selectors: idempotency, audit and events,
and that nobody reads or marks another's notifications."""

from __future__ import annotations

import pytest

from kehu.core.actor import Actor
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.models import AuditEntry, DomainEvent
from kehu.notifications import selectors
from kehu.notifications.models import Notification
from kehu.notifications.services import notification_mark_read, notification_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(make_user):
    return make_user("sales_rep", username="alice")


@pytest.fixture
def bob(make_user):
    return make_user("sales_rep", username="bob")


def test_send_creates_one_per_recipient_with_audit_and_events(system, alice, bob):
    sent = notification_send(actor=system, recipients=[alice, bob.pk, alice], kind="rule.fired",
                             title="高价值客户30天未跟进", body="王芳", link="/customers/5/",
                             customer_id=5)
    assert [n.recipient_id for n in sent] == [alice.pk, bob.pk]
    assert all(n.pk and n.read_at is None for n in sent)
    events = list(DomainEvent.objects.filter(type="notification.sent").order_by("id"))
    assert [e.changes["recipient"]["after"] for e in events] == [alice.pk, bob.pk]
    assert {e.customer_id for e in events} == {5}
    assert AuditEntry.objects.filter(action="notification.send").count() == 2


def test_send_is_idempotent_per_recipient_and_key(system, alice, bob):
    first = notification_send(actor=system, recipients=[alice], kind="k", title="t",
                              dedupe_key="rule:1:customer:9")
    again = notification_send(actor=system, recipients=[alice, bob], kind="k", title="t",
                              dedupe_key="rule:1:customer:9")
    assert again[0].pk == first[0].pk
    assert Notification.objects.filter(recipient=alice).count() == 1
    assert Notification.objects.filter(recipient=bob).count() == 1
    assert DomainEvent.objects.filter(type="notification.sent").count() == 2
    # Without a key every send is new.
    notification_send(actor=system, recipients=[alice], kind="k", title="t")
    notification_send(actor=system, recipients=[alice], kind="k", title="t")
    assert Notification.objects.filter(recipient=alice).count() == 3


def test_inactive_recipients_are_skipped(system, alice, bob):
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    sent = notification_send(actor=system, recipients=[alice, bob], kind="k", title="t")
    assert [n.recipient_id for n in sent] == [alice.pk]


@pytest.mark.parametrize("field,kwargs", [
    ("title", {"title": "  "}),
    ("kind", {"kind": ""}),
    ("link", {"link": "javascript:alert(1)"}),
    ("link", {"link": "//evil.example.com/"}),
    ("dedupe_key", {"dedupe_key": ""}),
])
def test_bad_input_is_refused_naming_the_field(system, alice, field, kwargs):
    args = {"kind": "k", "title": "t", **kwargs}
    with pytest.raises(ValidationFailed) as caught:
        notification_send(actor=system, recipients=[alice], **args)
    assert field in caught.value.details
    assert not Notification.objects.exists()


def test_selectors_see_only_ones_own(system, alice, bob):
    notification_send(actor=system, recipients=[alice], kind="k", title="for alice")
    [bobs] = notification_send(actor=system, recipients=[bob], kind="k", title="for bob")
    assert [n.title for n in selectors.notifications_for(alice)] == ["for alice"]
    assert selectors.unread_count(alice) == 1
    with pytest.raises(NotFound):
        selectors.notification_get(alice, bobs.pk)


def test_mark_read_by_ids_and_all(system, alice):
    one, two, three = (notification_send(actor=system, recipients=[alice], kind="k",
                                         title=f"n{i}")[0] for i in range(3))
    me = Actor(user=alice)
    assert notification_mark_read(actor=me, notification_ids=[one.pk]) == 1
    assert notification_mark_read(actor=me, notification_ids=[one.pk]) == 0  # already read
    assert selectors.unread_count(alice) == 2
    assert [n.pk for n in selectors.notifications_for(alice, unread_only=True)] == [three.pk,
                                                                                   two.pk]
    assert notification_mark_read(actor=me, all=True) == 2
    assert selectors.unread_count(alice) == 0


def test_marking_anothers_notification_changes_nothing(system, alice, bob):
    [mine] = notification_send(actor=system, recipients=[alice], kind="k", title="a")
    [theirs] = notification_send(actor=system, recipients=[bob], kind="k", title="b")
    with pytest.raises(NotFound):
        notification_mark_read(actor=Actor(user=alice), notification_ids=[mine.pk, theirs.pk])
    assert Notification.objects.filter(read_at__isnull=False).count() == 0
    notification_mark_read(actor=Actor(user=alice), all=True)
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_redacting_a_customers_messages(system, alice, make_user):
    from kehu.notifications.models import OutboundMessage
    from kehu.notifications.services import outbound_messages_redact

    sent = OutboundMessage.objects.create(channel="email", to=["w@example.com"], subject="您好",
                                          text="王芳…", status="sent", customer_id=9)
    queued = OutboundMessage.objects.create(channel="sms", to=["+8613812345678"], text="x",
                                            customer_id=9)
    other = OutboundMessage.objects.create(channel="sms", to=["+8613900000000"], text="y",
                                           customer_id=10)
    from kehu.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        outbound_messages_redact(actor=Actor(user=alice), customer_id=9)
    assert outbound_messages_redact(actor=system, customer_id=9) == 2
    sent.refresh_from_db()
    queued.refresh_from_db()
    other.refresh_from_db()
    assert sent.to == [] and sent.text == "" and sent.subject == "" and sent.status == "sent"
    assert queued.status == "failed" and queued.to == []
    assert other.to == ["+8613900000000"]
    assert DomainEvent.objects.filter(type="message.redacted", customer_id=9).count() == 1
