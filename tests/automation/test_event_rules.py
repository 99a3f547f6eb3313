"""Event triggers fire exactly once per qualifying change, never for others; loop guard,
chain depth and the hourly limit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.automation import services
from kehu.automation.models import RuleRun
from kehu.customers.services import customer_update, tag_add
from kehu.interactions.models import FollowUpTask
from tests.automation.conftest import ALL, TASK, customer, deliver, runs

pytestmark = pytest.mark.django_db


def _rule(people, trigger, actions=(TASK,), conditions=ALL, **extra):
    rule = services.rule_create(actor=people["actor"], name="规则", trigger=trigger,
                                conditions=conditions, actions=list(actions), **extra)
    rule, _n = services.rule_activate(actor=people["actor"], rule=rule, backfill=False)
    return rule


def test_field_changed_from_to_fires_once_per_qualifying_change(people):
    rule = _rule(people, {"kind": "field_changed", "field": "lifecycle_stage",
                          "from": "prospect", "to": "customer"})
    a = customer(people["rep"], name="甲", lifecycle_stage="prospect")
    b = customer(people["rep"], name="乙", lifecycle_stage="lead")
    deliver()
    actor = people["actor"]
    customer_update(actor=actor, customer=a, expected_version=None,
                    changes={"lifecycle_stage": "customer"})
    customer_update(actor=actor, customer=b, expected_version=None,
                    changes={"lifecycle_stage": "customer"})  # from lead: not qualifying
    deliver()
    deliver()  # a second dispatch delivers nothing again
    done = runs(rule)
    assert [(r.customer_id, r.status) for r in done] == [(a.pk, RuleRun.DONE)]
    tasks = FollowUpTask.objects.filter(customer=a)
    assert [(t.title, t.assignee_id) for t in tasks] == [("跟进 甲", people["rep"].pk)]
    assert not FollowUpTask.objects.filter(customer=b).exists()


@pytest.mark.parametrize("trigger", [
    {"kind": "customer_created"},
    {"kind": "tag_added", "tag": "VIP"},
    {"kind": "lifecycle_changed", "to": "customer"},
])
def test_each_event_trigger_fires_once_and_not_for_others(people, trigger):
    rule = _rule(people, trigger, conditions={"type": "group", "match": "all", "conditions": [
        {"type": "field", "field": "city", "op": "eq", "value": "上海市"}]})
    shanghai = customer(people["rep"], name="上海客户", address="上海市浦东新区世纪大道100号")
    beijing = customer(people["rep"], name="北京客户", address="北京市朝阳区建国路1号")
    for c in (shanghai, beijing):
        tag_add(actor=people["actor"], customer=c, name="VIP")
        tag_add(actor=people["actor"], customer=c, name="其他")
        customer_update(actor=people["actor"], customer=c, expected_version=None,
                        changes={"lifecycle_stage": "customer"})
    deliver()
    assert [r.customer_id for r in runs(rule)] == [shanghai.pk]
    assert FollowUpTask.objects.filter(customer=shanghai).count() == 1
    assert not FollowUpTask.objects.filter(customer=beijing).exists()


def test_a_rules_own_actions_do_not_retrigger_it(people):
    # Tagging on "tag added" would loop forever without the guard.
    rule = _rule(people, {"kind": "tag_added"}, actions=[{"kind": "add_tag", "tag": "已处理"}])
    c = customer(people["rep"], name="循环")
    tag_add(actor=people["actor"], customer=c, name="VIP")
    for _round in range(3):
        deliver()
    fired = runs(rule, status=RuleRun.DONE)
    assert len(fired) == 1
    guarded = runs(rule, status=RuleRun.SKIPPED)
    assert len(guarded) == 1 and guarded[0].error == _("loop guard: caused by this rule's own action")


def test_chains_stop_at_depth_three(people):
    actor = people["actor"]
    made = []
    for index in range(5):
        rule = services.rule_create(actor=actor, name=f"链{index}", trigger={
            "kind": "tag_added", "tag": f"t{index}"}, conditions=ALL,
            actions=[{"kind": "add_tag", "tag": f"chain{index}"}])
        made.append(rule)
    # rule i starts rule i+1
    for index, rule in enumerate(made[:-1]):
        services.rule_update(actor=actor, rule=rule, name=rule.name, trigger=rule.trigger,
                             conditions=ALL, actions=[{"kind": "add_tag", "tag": f"chain{index}"},
                                                      {"kind": "start_rule",
                                                       "rule": str(made[index + 1].pk)}])
    for rule in made:
        services.rule_activate(actor=actor, rule=rule, backfill=False)
    c = customer(people["rep"], name="链客户")
    tag_add(actor=actor, customer=c, name="t0")
    deliver()
    depths = {r.rule_id: r.depth for r in RuleRun.objects.filter(status=RuleRun.DONE)}
    assert depths == {made[0].pk: 0, made[1].pk: 1, made[2].pk: 2, made[3].pk: 3}
    last = RuleRun.objects.get(rule=made[3])
    assert last.outcome[1]["status"] == "skipped" and last.outcome[1]["detail"] == _(
        "chain depth limit (%d) reached") % 3
    names = set(c.tag_links.values_list("tag__name", flat=True))
    assert names == {"t0", "chain0", "chain1", "chain2", "chain3"}


def test_the_hourly_limit_pauses_the_rule(people):
    rule = _rule(people, {"kind": "customer_created"}, max_runs_per_hour=2)
    for index in range(4):
        customer(people["rep"], name=f"客户{index}")
    deliver()
    rule.refresh_from_db()
    assert (rule.status, rule.paused_reason) == ("paused", "limit")
    assert len(runs(rule, status=RuleRun.DONE)) == 2
    skipped = runs(rule, status=RuleRun.SKIPPED)
    assert len(skipped) == 1 and skipped[0].error == _("paused: limit reached")
    assert FollowUpTask.objects.count() == 2


def test_a_failing_action_is_retried_and_shown(people, monkeypatch):
    from kehu.automation import actions, engine

    rule = _rule(people, {"kind": "customer_created"},
                 actions=[TASK, {"kind": "add_tag", "tag": "新客"}])
    calls = {"n": 0}
    real = actions.SPECS["add_tag"]

    def flaky(ctx, action, index):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("tag service down")
        return real.perform(ctx, action, index)

    monkeypatch.setitem(actions.SPECS, "add_tag", actions.ActionSpec(
        "add_tag", real.label, real.params, flaky))
    c = customer(people["rep"], name="重试")
    deliver()
    run = runs(rule)[0]
    assert run.status == RuleRun.RETRY and "tag service down" in run.error
    assert [o["status"] for o in run.outcome] == ["done", "failed"]
    assert engine.runs_execute_due() == 0  # not due yet
    engine.runs_execute_due(now=timezone.now() + dt.timedelta(hours=1))
    run.refresh_from_db()
    assert run.status == RuleRun.DONE and run.attempts == 2
    assert [o["status"] for o in run.outcome] == ["done", "done"]
    assert FollowUpTask.objects.filter(customer=c).count() == 1  # not made twice
    assert c.tag_links.filter(tag__name="新客").exists()


def test_a_broken_rule_is_logged_and_never_holds_the_others_back(people):
    from kehu.automation.models import Rule

    broken = _rule(people, {"kind": "customer_created"})
    fine = _rule(people, {"kind": "customer_created"})
    # A custom field the conditions name was removed since: evaluating it fails.
    Rule.objects.filter(pk=broken.pk).update(conditions={
        "type": "group", "match": "all", "conditions": [
            {"type": "field", "field": "custom.gone", "op": "eq", "value": "x"}]})
    c = customer(people["rep"], name="照常")
    deliver()
    assert [r.status for r in runs(fine)] == [RuleRun.DONE]
    failed = runs(broken)
    assert [r.status for r in failed] == [RuleRun.FAILED] and failed[0].error
    assert FollowUpTask.objects.filter(customer=c).count() == 1


def test_changes_from_before_activation_are_left_to_the_backfill(people):
    c = customer(people["rep"], name="早到")  # its event is not dispatched yet
    rule = services.rule_create(actor=people["actor"], name="新客户", trigger={
        "kind": "customer_created"}, conditions=ALL, actions=[TASK])
    services.rule_activate(actor=people["actor"], rule=rule, backfill=True)
    from kehu.automation.engine import runs_execute_due

    runs_execute_due()
    deliver()
    assert [(r.customer_id, r.key.split(":")[0]) for r in runs(rule)] == [(c.pk, "backfill")]
    assert FollowUpTask.objects.filter(customer=c).count() == 1
