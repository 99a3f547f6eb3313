"""Round robin and least open items distribute exactly as docs/assignment.md states."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from kehu.assignment.models import Assignment, AssignmentRule
from kehu.assignment.services import assignment_apply, assignment_preview
from kehu.core.events import record_change  # noqa: F401  (events module loaded)
from kehu.core.models import DomainEvent
from kehu.customers.models import Customer
from kehu.interactions.models import FollowUpTask
from tests.assignment.conftest import SYSTEM
from tests.factories import CustomerFactory


def _owners(ids):
    rows = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "owner__username"))
    return [rows[i] for i in sorted(ids)]


def _tasks(user, n):
    customer = CustomerFactory()
    for i in range(n):
        FollowUpTask.objects.create(customer=customer, assignee=user, title=f"t{i}",
                                    due_date=timezone.localdate())


def test_round_robin_goes_a_b_c_a_b_c(make_rule, team, members, east_customers):
    rule = make_rule(team=team)
    ids = [c.pk for c in east_customers(6)]
    decisions = assignment_apply(actor=SYSTEM, customer_ids=ids)
    assert [d.user for d in decisions] == ["张伟", "李娜", "王芳", "张伟", "李娜", "王芳"]
    assert _owners(ids) == ["repa", "repb", "repc", "repa", "repb", "repc"]
    assert {c.team_id for c in Customer.objects.filter(pk__in=ids)} == {team.pk}
    rule.refresh_from_db()
    assert rule.last_user_id == members[2].pk  # the pointer: who got the last customer


def test_round_robin_pointer_is_durable_across_calls(make_rule, team, members, east_customers):
    make_rule(team=team)
    first = east_customers(2)
    assignment_apply(actor=SYSTEM, customer_ids=[c.pk for c in first])
    later = east_customers(2)
    decisions = assignment_apply(actor=SYSTEM, customer_ids=[c.pk for c in later])
    assert [d.user for d in decisions] == ["王芳", "张伟"]


def test_round_robin_skips_on_leave_and_inactive(make_rule, team, members, east_customers):
    make_rule(team=team)
    today = timezone.localdate()
    members[1].leave_from, members[1].leave_until = today - dt.timedelta(days=1), today
    members[1].save()
    members[2].is_active = False
    members[2].save()
    decisions = assignment_apply(actor=SYSTEM, customer_ids=[c.pk for c in east_customers(3)])
    assert [d.user for d in decisions] == ["张伟", "张伟", "张伟"]


def test_leave_that_ended_or_not_started_does_not_skip(make_rule, team, members,
                                                     east_customers):
    make_rule(team=team)
    today = timezone.localdate()
    members[0].leave_until = today - dt.timedelta(days=1)  # open start, ended yesterday
    members[0].save()
    members[1].leave_from = today + dt.timedelta(days=1)  # starts tomorrow, open end
    members[1].save()
    decisions = assignment_apply(actor=SYSTEM, customer_ids=[c.pk for c in east_customers(3)])
    assert [d.user for d in decisions] == ["张伟", "李娜", "王芳"]


def test_least_loaded_ties_rotate(make_rule, team, members, east_customers):
    make_rule(team=team, method="least_loaded")
    _tasks(members[0], 2)
    decisions = assignment_apply(actor=SYSTEM, customer_ids=[c.pk for c in east_customers(4)])
    assert [d.user for d in decisions] == ["李娜", "王芳", "李娜", "王芳"]
    assert [d.open_items for d in decisions] == [0, 0, 0, 0]


def test_least_loaded_counts_open_items_only(make_rule, team, members, east_customers):
    make_rule(team=team, method="least_loaded")
    _tasks(members[0], 1)
    _tasks(members[1], 3)
    _tasks(members[2], 2)
    # Done and cancelled tasks are not open items.
    customer = CustomerFactory()
    for status in ("done", "cancelled", "done", "done"):
        FollowUpTask.objects.create(customer=customer, assignee=members[0], title="old",
                                    due_date=timezone.localdate(), status=status)
    decisions = assignment_apply(actor=SYSTEM, customer_ids=[c.pk for c in east_customers(2)])
    assert [d.user for d in decisions] == ["张伟", "张伟"]
    assert decisions[0].open_items == 1
    assert "张伟" in decisions[0].explanation


def test_open_items_registry_adds_other_kinds(make_rule, team, members, east_customers):
    from kehu.core.workload import register_open_items, unregister_open_items

    make_rule(team=team, method="least_loaded")
    register_open_items("deals_test", "deals", lambda ids: {members[0].pk: 5,
                                                             members[1].pk: 5})
    try:
        decisions = assignment_apply(actor=SYSTEM, customer_ids=[east_customers(1)[0].pk])
    finally:
        unregister_open_items("deals_test")
    assert decisions[0].user == "王芳"


def test_capacity_caps_members(make_rule, team, members, east_customers):
    make_rule(team=team, capacity=2)
    _tasks(members[0], 2)  # at capacity
    _tasks(members[1], 1)
    decisions = assignment_apply(actor=SYSTEM, customer_ids=[c.pk for c in east_customers(3)])
    assert [d.user for d in decisions] == ["李娜", "王芳", "李娜"]


def test_nobody_eligible_is_explained_and_owner_kept(make_rule, team, members, east_customers):
    make_rule(team=team, capacity=1)
    for m in members:
        _tasks(m, 1)
    customer = east_customers(1)[0]
    [decision] = assignment_apply(actor=SYSTEM, customer_ids=[customer.pk])
    assert decision.user_id is None and decision.reason == "no_eligible_member"
    customer.refresh_from_db()
    assert customer.owner_id is None
    stored = Assignment.objects.get(customer=customer)
    assert stored.reason == "no_eligible_member"


def test_fixed_user(make_rule, team, members, east_customers):
    make_rule(method="fixed", fixed_user=members[1])
    decisions = assignment_apply(actor=SYSTEM, customer_ids=[c.pk for c in east_customers(2)])
    assert [d.user for d in decisions] == ["李娜", "李娜"]
    assert decisions[0].team_id == team.pk  # the fixed user's team
    members[1].leave_from = timezone.localdate()
    members[1].save()
    [decision] = assignment_apply(actor=SYSTEM, customer_ids=[east_customers(1)[0].pk])
    assert decision.reason == "fixed_user_unavailable" and decision.user_id is None


def test_priority_first_match_wins(make_rule, team, members, east_customers):
    make_rule(name="全部", condition={}, method="fixed", fixed_user=members[2], priority=20)
    make_rule(name="华东区", team=team, method="fixed", fixed_user=members[0], priority=10)
    west = CustomerFactory(region="华南")
    east = east_customers(1)[0]
    decisions = assignment_apply(actor=SYSTEM, customer_ids=[west.pk, east.pk])
    by_id = {d.customer_id: d for d in decisions}
    assert by_id[east.pk].rule == "华东区" and by_id[east.pk].user == "张伟"
    assert by_id[west.pk].rule == "全部" and by_id[west.pk].user == "王芳"


def test_inactive_rules_and_no_match(make_rule, team, members, east_customers):
    make_rule(team=team, is_active=False)
    customer = east_customers(1)[0]
    [decision] = assignment_apply(actor=SYSTEM, customer_ids=[customer.pk])
    assert decision.rule_id is None and decision.reason == "no_rule_matched"
    assert not Assignment.objects.exists()
    # An explicit rule id applies that rule whatever its status.
    rule = AssignmentRule.objects.get()
    [decision] = assignment_apply(actor=SYSTEM, customer_ids=[customer.pk], rule_id=rule.pk)
    assert decision.user == "张伟"


def test_preview_writes_nothing(make_rule, team, members, east_customers):
    rule = make_rule(team=team)
    ids = [c.pk for c in east_customers(2)]
    events = DomainEvent.objects.count()
    decisions = assignment_preview(actor=SYSTEM, customer_ids=ids)
    assert [d.user for d in decisions] == ["张伟", "李娜"]
    rule.refresh_from_db()
    assert rule.last_user_id is None
    assert _owners(ids) == [None, None]
    assert DomainEvent.objects.count() == events and not Assignment.objects.exists()


def test_decisions_audited_with_events(make_rule, team, members, east_customers):
    make_rule(team=team)
    customer = east_customers(1)[0]
    assignment_apply(actor=SYSTEM, customer_ids=[customer.pk])
    types = list(DomainEvent.objects.filter(customer_id=customer.pk).order_by("id")
                 .values_list("type", flat=True))
    assert "customer.field_changed" in types and types[-1] == "assignment.decided"
    decided = DomainEvent.objects.filter(type="assignment.decided").get()
    assert decided.changes["user"] == "张伟" and decided.changes["rule"] == "华东区"
    assert Assignment.objects.get().explanation == "按华东区规则轮询分配给 张伟"


def test_new_unowned_customer_is_auto_assigned(make_rule, team, members):
    from kehu.core import events
    from tests.factories import create_customer

    make_rule(team=team)
    customer = create_customer(name="赵敏", address="浙江省杭州市西湖区文三路90号")
    owned = create_customer(name="周芷若", owner=members[2],
                            address="浙江省杭州市西湖区文三路91号")
    events.dispatch()
    customer.refresh_from_db()
    owned.refresh_from_db()
    assert customer.owner == members[0]
    assert owned.owner == members[2]  # has an owner: left alone
    assert Assignment.objects.filter(customer=owned).count() == 0


def test_open_deals_count_as_open_items_and_won_or_lost_ones_do_not(make_rule, team, members,
                                                                     east_customers):
    """The pipeline app registers open deals: a rep with two open deals is more loaded than
    one with a follow-up; closed deals are not open items."""
    from kehu.core.actor import Actor
    from kehu.pipeline.models import Deal
    from kehu.pipeline.services.deals import deal_create

    make_rule(team=team, method="least_loaded")
    customer = CustomerFactory()
    for owner, n in ((members[0], 2), (members[2], 1)):
        for i in range(n):
            deal_create(actor=Actor.system(via="system"), customer=customer, title=f"d{i}",
                        amount="100", expected_close_date=timezone.localdate(), owner=owner)
    _tasks(members[1], 1)
    Deal.objects.filter(owner=members[2]).update(status="won")  # closed: not open
    decisions = assignment_apply(actor=SYSTEM, customer_ids=[east_customers(1)[0].pk])
    assert decisions[0].user == "王芳" and decisions[0].open_items == 0
