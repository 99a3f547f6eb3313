"""Purchase signals (detected, shown, evented once, configurable) and the insights segment
fields: churn_risk / churn_level / purchase_signal round trip (save → reload → recount)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from kehu.core.actor import Actor
from kehu.core.models import DomainEvent
from kehu.insights import selectors, services
from kehu.insights.models import CustomerChurn, CustomerSignals
from kehu.interactions.models import Event
from kehu.segments.models import Segment
from kehu.segments.selectors import segment_queryset
from kehu.segments.services import segment_create, segment_refresh
from tests.factories import CustomerFactory
from tests.insights.book import order

SYSTEM = Actor.system(via="system")


def _views(customer, n, *, url="/pricing", days_ago=1, event_type="page_view"):
    now = timezone.now()
    Event.objects.bulk_create([Event(customer=customer, event_type=event_type,
                                     occurred_at=now - timedelta(days=days_ago, minutes=i),
                                     properties={"url": url}) for i in range(n)])


def test_signals_detected_shown_and_evented_once(db, rep, team):
    keen = CustomerFactory(owner=rep, team=team, name="看价格")
    casual = CustomerFactory(owner=rep, team=team)
    carted = CustomerFactory(owner=rep, team=team)
    _views(keen, 3)
    _views(keen, 1, url="/support/售后条款")
    _views(casual, 2)
    _views(carted, 1, event_type="cart_add")
    counts = services.signals_detect(actor=SYSTEM)
    assert counts == {"customers": 2, "new_signals": 3, "cleared": 0}
    assert CustomerSignals.objects.get(customer=keen).kinds == ["after_sales_views",
                                                               "pricing_views"]
    assert CustomerSignals.objects.get(customer=carted).kinds == ["cart_abandoned"]
    texts = [s["text"] for s in selectors.customer_insights(user=rep, customer=keen)["signals"]]
    assert "Viewed the pricing page 3 times this week" in texts
    events = DomainEvent.objects.filter(type="signal.detected", customer_id=keen.pk)
    assert sorted(e.changes["signal"]["after"] for e in events) == ["after_sales_views",
                                                                    "pricing_views"]
    # Nothing new: no new events; the cart turned into an order clears its signal.
    order(carted.pk, timezone.now())
    assert services.signals_detect(actor=SYSTEM) == {"customers": 1, "new_signals": 0,
                                                     "cleared": 1}
    assert DomainEvent.objects.filter(type="signal.detected").count() == 3


def test_signal_rules_are_configurable(db):
    keen = CustomerFactory()
    _views(keen, 2)
    services.signal_rule_update(actor=SYSTEM, kind="pricing_views", changes={"min_count": 2})
    services.signals_detect(actor=SYSTEM)
    assert CustomerSignals.objects.get(customer=keen).kinds == ["pricing_views"]
    services.signal_rule_update(actor=SYSTEM, kind="pricing_views", changes={"enabled": False})
    services.signals_detect(actor=SYSTEM)
    assert not CustomerSignals.objects.filter(customer=keen).exists()


def test_churn_and_signal_segment_fields_round_trip(db, make_user):
    marketer = make_user("marketer")
    actor = Actor(user=marketer)
    now = timezone.now()
    risky, safe, keen = (CustomerFactory() for _ in range(3))
    order(risky.pk, now - timedelta(days=300))
    order(safe.pk, now - timedelta(days=2))
    order(keen.pk, now - timedelta(days=5))
    _views(keen, 3)
    services.churn_score(actor=SYSTEM, now=now)
    services.signals_detect(actor=SYSTEM)
    assert CustomerChurn.objects.get(customer=risky).level == "high"
    definition = {"type": "group", "match": "all", "conditions": [
        {"type": "field", "field": "churn_risk", "op": "gte", "value": 0.5}]}
    segment = segment_create(actor=actor, name="流失风险高", definition=definition)
    reloaded = Segment.objects.get(pk=segment.pk)
    assert reloaded.definition["conditions"][0]["field"] == "churn_risk"
    assert reloaded.size == 1
    members = set(segment_queryset(user=marketer, definition=reloaded.definition)
                  .values_list("pk", flat=True))
    assert members == {risky.pk}
    # Recount after the risk moves: the risky customer buys again.
    order(risky.pk, now - timedelta(hours=1))
    services.churn_score(actor=SYSTEM, now=now)
    assert segment_refresh(actor=actor, segment=reloaded).size == 0
    level = {"type": "group", "match": "all", "conditions": [
        {"type": "field", "field": "churn_level", "op": "in", "value": ["low"]}]}
    assert set(segment_queryset(user=marketer, definition=level)
               .values_list("pk", flat=True)) == {risky.pk, safe.pk, keen.pk}
    signal = {"type": "group", "match": "all", "conditions": [
        {"type": "field", "field": "purchase_signal", "op": "has_any",
         "value": ["pricing_views"]}]}
    saved = segment_create(actor=actor, name="看报价", definition=signal)
    assert Segment.objects.get(pk=saved.pk).size == 1
    none = {"type": "not", "condition": signal["conditions"][0]}
    assert set(segment_queryset(user=marketer, definition={
        "type": "group", "match": "all", "conditions": [none]}).values_list(
            "pk", flat=True)) == {risky.pk, safe.pk}


def test_insights_fields_read_as_sentences(db):
    from kehu.segments.describe import describe_text

    definition = {"type": "group", "match": "all", "conditions": [
        {"type": "field", "field": "churn_risk", "op": "gte", "value": 0.7},
        {"type": "field", "field": "churn_level", "op": "eq", "value": "high"},
        {"type": "field", "field": "purchase_signal", "op": "has_any",
         "value": ["pricing_views"]}]}
    text = describe_text(definition)
    assert "Churn risk (0–1)" in text and "High risk" in text
    assert "Viewing the pricing page" in text
