"""One outbox row per ingested batch (an `event.batch_ingested` envelope), and every
subscriber still sees each event: the rules engine fires per event, webhooks send one message
per event, and a failing handler retries the envelope's events together, effects once."""

from __future__ import annotations

import pytest

from kehu.automation import engine
from kehu.automation import services as rules
from kehu.automation.models import RuleRun
from kehu.core import events
from kehu.core.actor import Actor
from kehu.core.models import DomainEvent, EventDelivery
from kehu.customers.models import Tag
from kehu.customers.services import customer_create
from kehu.interactions.models import Event
from kehu.interactions.services import event_ingest, id_ranges

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor(make_user):
    return Actor(user=make_user("admin", username="root", is_superuser=True))


def _ingest(actor, customers, kinds):
    mark = DomainEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    result = event_ingest(actor=actor, events=[
        {"customer_id": c.pk, "event_type": kind, "source": "web",
         "occurred_at": "2026-01-05T10:00:00+08:00", "properties": {"url": f"/p/{n}"}}
        for n, (c, kind) in enumerate(zip(customers, kinds, strict=True))])
    return result, list(DomainEvent.objects.filter(id__gt=mark).order_by("id"))


def test_a_batch_writes_one_outbox_row_and_subscribers_get_each_event(actor, subscribed):
    people = [customer_create(actor=actor, name=f"客户{n}") for n in range(3)]
    seen = []
    subscribed("event.ingested", seen.append, name="t.ingested")
    result, rows = _ingest(actor, people * 2, ["page_view"] * 5 + ["add_to_cart"])
    assert [r.type for r in rows] == ["event.batch_ingested"]
    assert rows[0].changes == {"count": 6, "ids": id_ranges(result.ids)}
    events.dispatch(only=["t.ingested"])
    stored = list(Event.objects.order_by("pk").values_list("pk", "customer_id", "event_type"))
    assert [(int(e.object_id), e.customer_id, e.changes["event_type"]["after"])
            for e in seen] == stored
    assert [e.key for e in seen] == [f"{rows[0].id}.{n}" for n in range(1, 7)]
    assert {e.type for e in seen} == {"event.ingested"}
    assert all("/p/" not in e.changes_json for e in seen)  # properties are referenced
    # One delivery record for the envelope; dispatching again hands nothing twice.
    assert EventDelivery.objects.filter(subscriber="t.ingested").count() == 1
    events.dispatch(only=["t.ingested"])
    assert len(seen) == 6
    assert [e.key for e in events.as_delivered(rows)] == [e.key for e in seen]


def test_id_ranges():
    assert id_ranges([7, 1, 2, 3, 9, 8, 12]) == [[1, 3], [7, 9], [12, 12]]
    assert id_ranges([]) == []


def test_a_failing_event_retries_the_envelope_with_effects_once(actor, subscribed, settings):
    settings.KEHU_EVENT_RETRY_SECONDS = 0
    people = [customer_create(actor=actor, name=f"客户{n}") for n in range(3)]
    failing = {"on": True}

    def handler(event):
        Tag.objects.create(name=f"effect {event.key}")
        if failing["on"] and event.part == 2:
            raise RuntimeError("not yet")

    subscribed("event.ingested", handler, name="t.retry")
    _result, rows = _ingest(actor, people, ["page_view"] * 3)
    events.dispatch(only=["t.retry"])
    delivery = EventDelivery.objects.get(subscriber="t.retry")
    assert (delivery.status, delivery.event_id) == (EventDelivery.RETRY, rows[0].id)
    assert not Tag.objects.filter(name__startswith="effect").exists()  # rolled back together
    failing["on"] = False
    events.dispatch(only=["t.retry"])
    delivery.refresh_from_db()
    assert delivery.status == EventDelivery.DONE
    assert sorted(Tag.objects.filter(name__startswith="effect").values_list("name", flat=True)) \
        == [f"effect {rows[0].id}.{n}" for n in (1, 2, 3)]


def test_a_rule_fires_for_each_event_of_a_batch(actor):
    rule = rules.rule_create(
        actor=actor, name="看过价格", trigger={"kind": "event_ingested", "event_type": "page_view"},
        conditions={"type": "group", "match": "all", "conditions": []},
        actions=[{"kind": "add_tag", "tag": "看过价格"}])
    rule, _n = rules.rule_activate(actor=actor, rule=rule, backfill=False)
    a, b, c = (customer_create(actor=actor, name=n) for n in ("甲", "乙", "丙"))
    _ingest(actor, [a, b, a, c], ["page_view", "page_view", "page_view", "add_to_cart"])
    engine.invalidate()
    events.dispatch(only=["automation.rules"])
    runs = list(RuleRun.objects.filter(rule=rule).order_by("pk"))
    assert [r.customer_id for r in runs] == [a.pk, b.pk, a.pk]  # one run per event
    assert len({r.key for r in runs}) == 3
    tagged = set(Tag.objects.get(name="看过价格").customer_links.values_list("customer_id",
                                                                          flat=True))
    assert tagged == {a.pk, b.pk}


def test_webhooks_send_one_message_per_event_of_a_batch(actor):
    from kehu.integration.models import WebhookDelivery, WebhookEndpoint
    from kehu.integration.services import webhook_deliveries_enqueue

    WebhookEndpoint.objects.create(url="https://hooks.example.com/a", secret_encrypted="-",
                                   event_types=["event.ingested"])
    people = [customer_create(actor=actor, name=f"客户{n}") for n in range(2)]
    _result, rows = _ingest(actor, people, ["page_view", "add_to_cart"])
    for event in events.as_delivered(rows):
        webhook_deliveries_enqueue(event)
    sent = list(WebhookDelivery.objects.order_by("message_id").values_list(
        "message_id", "event_type", "event_id"))
    assert sent == [(f"msg_{rows[0].id}.1", "event.ingested", rows[0].id),
                    (f"msg_{rows[0].id}.2", "event.ingested", rows[0].id)]


def test_envelopes_are_not_offered_to_webhooks(actor):
    from kehu.core.errors import ValidationFailed
    from kehu.integration.forms import event_type_groups
    from kehu.integration.services import webhook_create

    offered = {t for _group, types in event_type_groups() for t in types}
    assert "event.ingested" in offered and "event.batch_ingested" not in offered
    with pytest.raises(ValidationFailed):
        webhook_create(actor=actor, url="https://hooks.example.com/x",
                       event_types=["event.batch_ingested"])


def test_a_subscriber_wanting_none_of_its_types_never_expands_it(actor, subscribed,
                                                                  monkeypatch):
    from kehu.interactions import services as interactions

    customer = customer_create(actor=actor, name="甲")
    seen = []
    subscribed("customer.*", seen.append, name="t.customers")
    _ingest(actor, [customer], ["page_view"])
    expanded = []
    original = events._ENVELOPES["event.batch_ingested"]
    monkeypatch.setitem(events._ENVELOPES, "event.batch_ingested",
                        lambda e: expanded.append(e) or original(e))
    events.dispatch(only=["t.customers"])
    assert [e.type for e in seen] == ["customer.created"] and expanded == []
    assert interactions.BATCH_EVENT == "event.batch_ingested"
