"""Time rules: set-based ticks, once per entry however many ticks, again after leaving and
coming back; schedules once per occurrence; the dry run is the set that then fires."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from kehu.automation import engine, selectors, services
from kehu.automation.models import RuleRun
from kehu.customers.models import Customer
from kehu.interactions.models import FollowUpTask
from tests.automation.conftest import ALL, TASK, customer, deliver, runs
from tests.factories import InteractionFactory

pytestmark = pytest.mark.django_db
DAY = dt.timedelta(days=1)


def _aged(c, days):
    Customer.objects.filter(pk=c.pk).update(created_at=timezone.now() - days * DAY)
    return c


def _talk(c, days_ago):
    InteractionFactory(customer=c, occurred_at=timezone.now() - days_ago * DAY)


def _ids(qs):
    return sorted(qs.values_list("pk", flat=True))


def test_no_interaction_fires_once_per_entry_across_many_ticks(people):
    actor = people["actor"]
    quiet = _aged(customer(people["rep"], name="沉默"), 60)
    _talk(quiet, 40)
    busy = _aged(customer(people["rep"], name="活跃"), 60)
    _talk(busy, 5)
    fresh = _aged(customer(people["rep"], name="新客"), 5)
    rule = services.rule_create(actor=actor, name="30天未跟进", trigger={
        "kind": "no_interaction", "days": 30}, conditions=ALL, actions=[TASK])
    dry = selectors.rule_dry_run(user=people["admin"], rule=rule)
    assert dry.would_fire == 1 and [s["id"] for s in dry.sample] == [quiet.pk]
    assert any("30" in line for line in dry.sample[0]["why"])
    services.rule_activate(actor=actor, rule=rule, backfill=True)
    for _round in range(4):
        engine.tick()
    assert [(r.customer_id, r.key, r.status) for r in runs(rule)] == [
        (quiet.pk, "entry:1", RuleRun.DONE)]
    assert FollowUpTask.objects.filter(customer=quiet).count() == 1
    # Contact now: the customer leaves; 31 days later they (and the others) enter again.
    _talk(quiet, 0)
    engine.tick()
    later = timezone.now() + 31 * DAY
    for minute in range(3):
        engine.tick(now=later + dt.timedelta(minutes=minute))
    fired = sorted((r.customer_id, r.key) for r in runs(rule))
    assert fired == sorted([(quiet.pk, "entry:1"), (quiet.pk, "entry:2"), (busy.pk, "entry:1"),
                            (fresh.pk, "entry:1")])


def test_future_only_activation_skips_who_already_qualifies(people):
    actor = people["actor"]
    quiet = _aged(customer(people["rep"], name="沉默"), 60)
    rule = services.rule_create(actor=actor, name="30天", trigger={
        "kind": "no_interaction", "days": 30}, conditions=ALL, actions=[TASK])
    services.rule_activate(actor=actor, rule=rule, backfill=False)
    engine.tick()
    assert runs(rule) == []
    newcomer = _aged(customer(people["rep"], name="后来"), 45)
    engine.tick()
    assert [r.customer_id for r in runs(rule)] == [newcomer.pk]
    assert quiet.pk not in [r.customer_id for r in runs(rule)]


def test_birthday_and_date_rules(people):
    actor = people["actor"]
    today = timezone.localdate()
    soon = customer(people["rep"], name="寿星", birthday=(today + 3 * DAY).replace(year=1990))
    customer(people["rep"], name="远", birthday=(today + 40 * DAY).replace(year=1990))
    birthday = services.rule_create(actor=actor, name="生日", trigger={
        "kind": "before_anniversary", "field": "birthday", "days": 7}, conditions=ALL,
        actions=[TASK])
    old = _aged(customer(people["rep"], name="老"), 100)
    after = services.rule_create(actor=actor, name="建档90天", trigger={
        "kind": "after_date", "field": "created_at", "days": 90}, conditions=ALL,
        actions=[TASK])
    for rule in (birthday, after):
        services.rule_activate(actor=actor, rule=rule, backfill=True)
    engine.tick()
    engine.tick()
    assert [r.customer_id for r in runs(birthday)] == [soon.pk]
    assert [r.customer_id for r in runs(after)] == [old.pk]


def test_a_schedule_fires_once_per_occurrence(people):
    actor = people["actor"]
    a = customer(people["rep"], name="甲", address="上海市黄浦区南京东路1号")
    customer(people["rep"], name="乙", address="北京市朝阳区建国路1号")
    rule = services.rule_create(actor=actor, name="每天", trigger={
        "kind": "schedule", "every": "day", "at": "09:00"}, conditions={
        "type": "group", "match": "all", "conditions": [
            {"type": "field", "field": "city", "op": "eq", "value": "上海市"}]}, actions=[TASK])
    services.rule_activate(actor=actor, rule=rule, backfill=False)
    engine.tick()
    assert runs(rule) == []
    tomorrow = timezone.now() + DAY
    engine.tick(now=tomorrow)
    engine.tick(now=tomorrow + dt.timedelta(seconds=30))
    assert [r.customer_id for r in runs(rule)] == [a.pk]
    engine.tick(now=tomorrow + DAY)
    assert [r.customer_id for r in runs(rule)] == [a.pk, a.pk]


def test_dry_run_equals_the_set_a_backfill_fires(people):
    actor = people["actor"]
    made = [customer(people["rep"], name=f"客户{i}",
                     lifecycle_stage="customer" if i % 3 else "lead") for i in range(9)]
    deliver()
    rule = services.rule_create(actor=actor, name="成交", trigger={
        "kind": "lifecycle_changed", "to": "customer"}, conditions=ALL, actions=[TASK])
    dry = selectors.rule_dry_run(user=people["admin"], rule=rule)
    expected = sorted(c.pk for c in made if c.lifecycle_stage == "customer")
    assert dry.would_fire == len(expected) == 6
    _rule, covered = services.rule_activate(actor=actor, rule=rule, backfill=True)
    assert covered == 6
    engine.runs_execute_due()
    assert sorted(r.customer_id for r in runs(rule, status=RuleRun.DONE)) == expected
    assert sorted(FollowUpTask.objects.values_list("customer_id", flat=True)) == expected


def test_dry_run_samples_only_what_the_reader_may_see(people, make_user):
    actor = people["actor"]
    other = make_user("sales_rep", username="other")
    mine = [_aged(customer(people["boss"], name=f"我的{i}", birthday=dt.date(1990, 1, 2)), 60)
            for i in range(2)]
    theirs = _aged(customer(other, name="别人"), 60)
    rule = services.rule_create(actor=actor, name="30天", trigger={
        "kind": "no_interaction", "days": 30}, conditions=ALL, actions=[TASK])
    boss = people["boss"]
    boss.team = people["team"]
    dry = selectors.rule_dry_run(user=boss, rule=rule)
    assert dry.would_fire == 3
    assert sorted(s["id"] for s in dry.sample) == sorted(c.pk for c in mine)
    assert theirs.pk not in [s["id"] for s in dry.sample]


def test_a_time_rule_that_cannot_be_evaluated_says_so(people, client):
    from kehu.automation.models import Rule

    rule = services.rule_create(actor=people["actor"], name="坏规则", trigger={
        "kind": "no_interaction", "days": 30}, conditions=ALL, actions=[TASK])
    services.rule_activate(actor=people["actor"], rule=rule, backfill=True)
    Rule.objects.filter(pk=rule.pk).update(conditions={
        "type": "group", "match": "all", "conditions": [
            {"type": "field", "field": "custom.gone", "op": "eq", "value": "x"}]})
    engine.tick()
    rule.refresh_from_db()
    assert rule.last_error
    client.force_login(people["admin"])
    assert "rule-error" in client.get("/automation/rules/").content.decode()
