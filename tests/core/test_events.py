"""The domain events outbox and its delivery: written with the change, handed over once per
subscriber, in order per customer, retried, parked, replayed and pruned."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from kehu.core import events
from kehu.core.actor import Actor
from kehu.core.errors import NotFound, PermissionDenied
from kehu.core.events import Related, emit_many, record_change
from kehu.core.models import AuditEntry, DomainEvent, EventDelivery, EventSubscriberState

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system(via="system")


def emit(customer_id, n=1, type="customer.field_changed"):
    return emit_many(actor=SYSTEM, events=[
        Related(type=type, object_type="customer", object_id=customer_id,
                changes={"name": {"before": f"a{i}", "after": f"b{i}"}}) for i in range(n)])


def delivered(name):
    return list(EventDelivery.objects.filter(subscriber=name, status=EventDelivery.DONE)
                .order_by("event_id").values_list("event_id", flat=True))


# Writing ------------------------------------------------------------------------------------


def test_record_change_writes_the_audit_entry_and_its_event_together():
    entry = record_change(actor=SYSTEM, action="product.create", event="product.created",
                          object_type="product", object_id=7, object_repr="SKU-7",
                          changes={"sku": {"before": None, "after": "SKU-7"}})
    event = DomainEvent.objects.get()
    assert (event.type, event.object_type, event.object_id, event.object_repr) == (
        "product.created", "product", "7", "SKU-7")
    assert event.changes == {"sku": {"before": None, "after": "SKU-7"}}
    assert (event.audit_seq, event.occurred_at) == (entry.seq, entry.at)
    assert (event.actor_label, event.via, event.customer_id) == ("system", "system", None)


def test_a_rolled_back_change_leaves_neither_audit_entry_nor_event():
    with pytest.raises(RuntimeError), transaction.atomic():
        record_change(actor=SYSTEM, action="product.create", event="product.created",
                      object_type="product", object_id=1)
        raise RuntimeError("the change fails after auditing")
    assert not AuditEntry.objects.exists() and not DomainEvent.objects.exists()


def test_an_unknown_event_type_is_refused():
    with pytest.raises(ValueError, match="unknown event type"):
        record_change(actor=SYSTEM, action="x.y", event="x.happened")
    assert not DomainEvent.objects.exists() and not AuditEntry.objects.exists()


def test_sensitive_customer_values_are_referenced_not_copied():
    record_change(actor=SYSTEM, action="customer.update", event="customer.field_changed",
                  object_type="customer", object_id=5, changes={
                      "name": {"before": "张伟", "after": "张伟伟"},
                      "mobile": {"before": "+8613800000000", "after": "+8613900000000"},
                      "id_number": {"before": "110***********1234", "after": ""},
                      "identifier": {"before": None, "after": "email:a@example.com"}})
    event = DomainEvent.objects.get()
    assert event.customer_id == 5
    assert event.changes == {
        "name": {"before": "张伟", "after": "张伟伟"},
        "mobile": {"ref": "customer.mobile", "cleared": False},
        "id_number": {"ref": "customer.id_number", "cleared": True},
        "identifier": {"ref": "customer.email", "cleared": False}}
    text = json.dumps(event.changes)
    assert "+86139" not in text and "1234" not in text and "a@example.com" not in text
    # The audit entry keeps what it always kept.
    assert AuditEntry.objects.get().changes["mobile"]["after"] == "+8613900000000"


@pytest.mark.django_db
def test_identifier_changes_audited_per_kind_are_referenced_too(tmp_path):
    """The import and the card audit identifier changes one key per kind; the events of a real
    import carry none of those values (a marketer-level subscriber must not read WeChat)."""
    from kehu.customers.services import customer_create

    customer = customer_create(actor=SYSTEM, name="李娜", mobile="13812345678",
                               email="ln@example.com", wechat="wx_secret_9")
    for event in DomainEvent.objects.filter(customer_id=customer.pk):
        text = json.dumps(event.changes, ensure_ascii=False)
        assert "12345678" not in text and "ln@example.com" not in text and "wx_secret_9" not in text, text
    record_change(actor=SYSTEM, action="customer.update", event="customer.field_changed",
                  object_type="customer", object_id=customer.pk, changes={
                      "identifier.wechat": {"before": "wx_old", "after": "wx_new"}})
    assert DomainEvent.objects.order_by("-id").first().changes == {
        "identifier.wechat": {"ref": "customer.wechat", "cleared": False}}


# Dispatching --------------------------------------------------------------------------------


def test_each_subscriber_gets_each_matching_event_once(subscribed):
    seen = {"exact": [], "family": [], "all": []}
    subscribed("customer.field_changed", lambda e: seen["exact"].append(e.id), name="t.exact")
    subscribed("customer.*", lambda e: seen["family"].append(e.id), name="t.family")
    subscribed("*", lambda e: seen["all"].append(e.id), name="t.all")
    emit(1, 2)
    emit(2, 1, type="customer.created")
    emit(3, 1, type="order.created")
    ids = list(DomainEvent.objects.order_by("id").values_list("id", flat=True))
    assert events.dispatch() > 0
    assert events.dispatch() == 0  # nothing new: dispatching again hands nothing twice
    assert seen == {"exact": ids[:2], "family": ids[:3], "all": ids}
    assert delivered("t.all") == ids
    assert EventSubscriberState.objects.get(name="t.exact").cursor == ids[-1]


def test_handlers_receive_plain_values(subscribed):
    got = []
    subscribed("*", got.append, name="t.plain")
    emit(9)
    events.dispatch()
    event = got[0]
    assert isinstance(event, events.Event)
    assert (event.type, event.customer_id, event.object_id) == ("customer.field_changed", 9, "9")
    assert event.actor == events.EventActor(None, "system", "system")
    assert event.changes == {"name": {"before": "a0", "after": "b0"}}


def test_a_failing_handler_holds_its_customers_later_events_not_others(subscribed, settings):
    settings.KEHU_EVENT_RETRY_SECONDS = 60
    calls = []
    broken = {"on": True}

    def handler(event):
        calls.append(event.id)
        if broken["on"] and event.customer_id == 1:
            raise RuntimeError("mailbox full")

    subscribed("*", handler, name="t.order", max_attempts=3)
    emit(1)
    emit(2)
    emit(1)
    first, other, later = DomainEvent.objects.order_by("id").values_list("id", flat=True)
    events.dispatch()
    assert later not in calls  # the later event of customer 1 waits
    status = dict(EventDelivery.objects.filter(subscriber="t.order")
                  .values_list("event_id", "status"))
    assert status == {first: "retry", other: "done", later: "held"}
    retry = EventDelivery.objects.get(event_id=first, subscriber="t.order")
    assert retry.attempts == 1 and "mailbox full" in retry.last_error
    assert timezone.now() + dt.timedelta(seconds=50) < retry.next_attempt_at

    # Not due yet: nothing is tried.
    calls.clear()
    events.dispatch()
    assert calls == []
    # Due and fixed: delivered, then the held event of that customer, in order.
    broken["on"] = False
    EventDelivery.objects.filter(pk=retry.pk).update(next_attempt_at=timezone.now())
    events.dispatch()
    assert calls == [first, later]
    assert delivered("t.order") == [first, other, later]


def test_after_the_last_try_a_delivery_is_dead_and_the_customer_goes_on(subscribed, settings):
    settings.KEHU_EVENT_RETRY_SECONDS = 0
    effects = []

    def handler(event):
        if event.changes["name"]["after"] == "b0":
            from kehu.customers.models import Tag

            Tag.objects.create(name=f"half-done {event.id}")  # rolled back with the failure
            raise ValueError("bad payload")
        effects.append(event.id)

    other = []
    subscribed("*", handler, name="t.dead", max_attempts=3)
    subscribed("*", lambda e: other.append(e.id), name="t.healthy")
    emit(1, 2)  # b0 fails, b1 waits behind it
    bad, good = DomainEvent.objects.order_by("id").values_list("id", flat=True)
    for _round in range(3):
        events.dispatch()
    dead = EventDelivery.objects.get(subscriber="t.dead", event_id=bad)
    assert (dead.status, dead.attempts) == ("dead", 3)
    assert "ValueError: bad payload" in dead.last_error
    assert effects == [good]  # released once the failing one was parked
    assert other == [bad, good]  # the other subscriber never waited
    from kehu.customers.models import Tag

    assert not Tag.objects.filter(name__startswith="half-done").exists()


def test_a_failure_mid_batch_keeps_the_other_events_effects_once(subscribed, settings):
    from kehu.customers.models import Tag

    settings.KEHU_EVENT_RETRY_SECONDS = 60

    def handler(event):
        Tag.objects.create(name=f"effect {event.id}")
        if event.customer_id == 3:
            raise RuntimeError("no")

    subscribed("*", handler, name="t.batch")
    for customer_id in (1, 2, 3, 4, 5):
        emit(customer_id)
    ids = list(DomainEvent.objects.order_by("id").values_list("id", flat=True))
    events.dispatch()
    assert sorted(Tag.objects.values_list("name", flat=True)) == sorted(
        f"effect {i}" for i in ids if i != ids[2])
    assert delivered("t.batch") == [i for i in ids if i != ids[2]]


def test_replaying_a_dead_letter_runs_it_again_and_is_audited(subscribed, settings, admin_user,
                                                               make_user):
    settings.KEHU_EVENT_RETRY_SECONDS = 0
    state = {"broken": True, "done": []}

    def handler(event):
        if state["broken"]:
            raise RuntimeError("down")
        state["done"].append(event.id)

    subscribed("*", handler, name="t.replay", max_attempts=1)
    emit(4)
    events.dispatch()
    dead = EventDelivery.objects.get(subscriber="t.replay")
    assert dead.status == "dead"
    with pytest.raises(PermissionDenied):
        events.delivery_replay(actor=Actor(user=make_user("sales_rep")), delivery_id=dead.pk)
    assert EventDelivery.objects.get(pk=dead.pk).status == "dead" and state["done"] == []

    failed = events.delivery_replay(actor=Actor(user=admin_user), delivery_id=dead.pk)
    assert (failed.status, failed.attempts) == ("dead", 2)
    state["broken"] = False
    replayed = events.delivery_replay(actor=Actor(user=admin_user), delivery_id=dead.pk)
    assert replayed.status == "done" and state["done"] == [dead.event_id]
    assert list(AuditEntry.objects.filter(action="event.replay").order_by("seq")
                .values_list("changes__status__after", flat=True)) == ["dead", "done"]
    with pytest.raises(NotFound):  # delivered now: nothing to replay
        events.delivery_replay(actor=Actor(user=admin_user), delivery_id=dead.pk)


def test_cli_lists_and_replays_dead_letters(subscribed, settings, capsys):
    settings.KEHU_EVENT_RETRY_SECONDS = 0
    state = {"broken": True}

    def handler(event):
        if state["broken"]:
            raise RuntimeError("smtp unreachable")

    subscribed("order.*", handler, name="t.cli", max_attempts=1)
    emit(8, type="order.created")
    call_command("events", "dispatch")
    dead = EventDelivery.objects.get(subscriber="t.cli")
    call_command("events", "dead", "--json")
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["id"] == dead.pk and line["subscriber"] == "t.cli"
    assert (line["type"], line["customer_id"], line["attempts"]) == ("order.created", 8, 1)
    assert line["error"] == "RuntimeError: smtp unreachable"
    with pytest.raises(SystemExit) as failed:
        call_command("events", "replay", str(dead.pk))
    assert failed.value.code == 1
    state["broken"] = False
    call_command("events", "replay", str(dead.pk))
    assert "delivered" in capsys.readouterr().out
    assert EventDelivery.objects.get(pk=dead.pk).status == "done"
    call_command("events", "subscribers")
    assert "t.cli" in capsys.readouterr().out


def test_events_are_dispatched_after_commit(subscribed, django_capture_on_commit_callbacks):
    got = []
    subscribed("product.*", lambda e: got.append(e.type), name="t.commit")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            for i in range(3):
                record_change(actor=SYSTEM, action="product.create", event="product.created",
                              object_type="product", object_id=i)
    assert len(callbacks) == 1  # one dispatch per transaction, not per event
    assert got == ["product.created"] * 3


def test_two_dispatches_of_the_same_events_deliver_them_once(subscribed):
    got = []
    subscribed("*", lambda e: got.append(e.id), name="t.twice")
    emit(1, 5)
    events.dispatch(batch=2)
    # A cursor behind its deliveries (a restored backup, a second worker's stale view)
    # hands nothing over twice.
    EventSubscriberState.objects.filter(name="t.twice").update(cursor=0)
    events.dispatch()
    ids = list(DomainEvent.objects.order_by("id").values_list("id", flat=True))
    assert got == ids
    assert delivered("t.twice") == ids
    assert EventSubscriberState.objects.get(name="t.twice").cursor == ids[-1]


# Retention ----------------------------------------------------------------------------------


def test_prune_deletes_old_delivered_events_only_and_never_the_audit_log(subscribed, settings):
    settings.KEHU_EVENT_RETRY_SECONDS = 0
    subscribed("*", lambda e: None if e.customer_id != 2 else 1 / 0, name="t.prune",
               max_attempts=1)
    record_change(actor=SYSTEM, action="customer.update", event="customer.field_changed",
                  object_type="customer", object_id=1)
    emit(2)  # will be a dead letter: kept
    events.dispatch()
    emit(3)  # not delivered yet: kept
    old = timezone.now() - dt.timedelta(days=31)
    DomainEvent.objects.update(occurred_at=old)
    emit(4)  # recent: kept
    audit_before = AuditEntry.objects.count()
    assert events.events_prune() == 1
    assert sorted(DomainEvent.objects.values_list("customer_id", flat=True)) == [2, 3, 4]
    assert AuditEntry.objects.count() == audit_before
    assert not EventDelivery.objects.filter(event__customer_id=1).exists()
    settings.KEHU_EVENT_RETENTION_DAYS = 400
    events.dispatch()
    assert events.events_prune() == 0  # 31 days is within 400


def test_prune_without_subscribers_keeps_only_recent_events(monkeypatch):
    # The apps' own subscribers (webhooks, rules …) would hold undelivered events back.
    monkeypatch.setattr(events, "_SUBSCRIBERS", {})
    emit(1)
    DomainEvent.objects.update(occurred_at=timezone.now() - dt.timedelta(days=40))
    emit(2)
    call_command("events", "prune", "--days", "30")
    assert list(DomainEvent.objects.values_list("customer_id", flat=True)) == [2]
