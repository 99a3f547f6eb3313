"""More event triggers, each through the service that makes the change: fires once for the
qualifying change, never for a change of another kind or value."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kehu.automation import services
from kehu.automation.models import RuleRun
from tests.automation.conftest import ALL, TASK, customer, deliver, runs
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def _order(actor, c, status="pending"):
    from kehu.transactions.services import order_create

    return order_create(actor=actor, customer=c, lines=[
        {"product": ProductFactory().pk, "quantity": 1}], status=status)


def _changes(people, good, bad, kind):
    """Make the qualifying change for `good` and a non-qualifying one for `bad`."""
    actor = people["actor"]
    if kind == "order_created":
        _order(actor, good)
    elif kind == "order_status_changed":
        from kehu.transactions.services import order_update_status

        order_update_status(actor=actor, order=_order(actor, good), status="paid")
        order_update_status(actor=actor, order=_order(actor, bad), status="cancelled")
    elif kind == "ticket_opened":
        from kehu.transactions.services import ticket_open

        ticket_open(actor=actor, customer=good, kind="complaint", subject="送货延误投诉")
        ticket_open(actor=actor, customer=bad, kind="inquiry", subject="咨询")
    elif kind == "interaction_logged":
        from kehu.interactions.services import interaction_log

        interaction_log(actor=actor, customer=good, kind="visit", summary="上门拜访")
        interaction_log(actor=actor, customer=bad, kind="call", summary="电话")
    elif kind == "event_ingested":
        from kehu.interactions.services import event_ingest

        now = timezone.now().isoformat()
        event_ingest(actor=actor, events=[
            {"customer_id": good.pk, "event_type": "page_view", "occurred_at": now,
             "properties": {"url": "/pricing/pro"}},
            {"customer_id": bad.pk, "event_type": "page_view", "occurred_at": now,
             "properties": {"url": "/blog"}},
            {"customer_id": bad.pk, "event_type": "app_login", "occurred_at": now,
             "properties": {"url": "/pricing"}}])
    elif kind == "segment_entered":
        from kehu.segments.services import segment_refresh

        segment_refresh(actor=actor, segment=people["segment"])


TRIGGERS = {
    "order_created": {"kind": "order_created"},
    "order_status_changed": {"kind": "order_status_changed", "to": "paid"},
    "ticket_opened": {"kind": "ticket_opened", "ticket_kind": "complaint"},
    "interaction_logged": {"kind": "interaction_logged", "interaction_kind": "visit"},
    "event_ingested": {"kind": "event_ingested", "event_type": "page_view",
                       "property": "url", "op": "contains", "value": "/pricing"},
    "segment_entered": {"kind": "segment_entered"},
}


@pytest.mark.parametrize("kind", sorted(TRIGGERS))
def test_fires_once_for_the_qualifying_change_only(people, kind):
    actor = people["actor"]
    good = customer(people["rep"], name="应触发有限公司", kind="organisation", industry="制造业")
    bad = customer(people["rep"], name="不应触发有限公司", kind="organisation", industry="教育")
    trigger = dict(TRIGGERS[kind])
    if kind == "segment_entered":
        from kehu.segments.services import segment_create

        people["segment"] = segment_create(actor=actor, name="制造业", compute=False,
                                           definition={"type": "group", "match": "all",
                                                       "conditions": [{
                                                           "type": "field", "field": "industry",
                                                           "op": "eq", "value": "制造业"}]})
        trigger["segment"] = people["segment"].pk
    deliver()
    rule = services.rule_create(actor=actor, name=kind, trigger=trigger, conditions=ALL,
                                actions=[TASK])
    services.rule_activate(actor=actor, rule=rule, backfill=False)
    _changes(people, good, bad, kind)
    deliver()
    deliver()
    assert [(r.customer_id, r.status) for r in runs(rule)] == [(good.pk, RuleRun.DONE)]
