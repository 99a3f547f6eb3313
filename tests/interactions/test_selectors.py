"""Selectors of the behaviour layer: scope, filters, cursors and pinned query counts."""

import dataclasses
import datetime as dt

import pytest
from django.utils import timezone

from kehu.core.errors import NotFound
from kehu.core.timeline import TimelineCursor
from kehu.customers.models import Customer
from kehu.interactions import selectors
from kehu.interactions.models import FollowUpTask
from tests.factories import CustomerFactory, EventFactory, InteractionFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _ago(minutes):
    return NOW - dt.timedelta(minutes=minutes)


def test_rep_sees_only_own_customers_interactions(rep, customer, others_customer):
    mine = InteractionFactory(customer=customer)
    InteractionFactory(customer=others_customer)
    assert list(selectors.interaction_list(rep, customer.pk)) == [mine]
    with pytest.raises(NotFound):
        selectors.interaction_list(rep, others_customer.pk)
    with pytest.raises(NotFound):
        selectors.interaction_get(rep, InteractionFactory(customer=others_customer).pk)
    assert selectors.interaction_get(rep, mine.pk) == mine


def test_manager_sees_team_customers(make_user, team, customer, others_customer):
    manager = make_user("sales_manager", team=team)
    InteractionFactory(customer=others_customer)
    assert selectors.interaction_list(manager, others_customer.pk).count() == 1
    outsider = CustomerFactory(owner=make_user("sales_rep"))
    with pytest.raises(NotFound):
        selectors.interaction_list(manager, outsider.pk)


def test_merged_customers_are_invisible(make_user, customer):
    InteractionFactory(customer=customer)
    Customer.objects.filter(pk=customer.pk).update(status="merged")
    with pytest.raises(NotFound):
        selectors.interaction_list(make_user("admin"), customer.pk)


def test_interaction_list_filters_kind_and_time(rep, customer):
    old = InteractionFactory(customer=customer, kind="visit", occurred_at=_ago(60))
    new = InteractionFactory(customer=customer, kind="call", occurred_at=_ago(5))
    assert list(selectors.interaction_list(rep, customer.pk)) == [new, old]
    assert list(selectors.interaction_list(rep, customer.pk, kinds={"visit"})) == [old]
    assert list(selectors.interaction_list(rep, customer.pk, before=_ago(10))) == [old]


def test_event_list_types_and_cursor(rep, customer):
    same = _ago(3)
    a = EventFactory(customer=customer, occurred_at=same)
    b = EventFactory(customer=customer, occurred_at=same)
    c = EventFactory(customer=customer, occurred_at=_ago(10), event_type="app_login")
    first = selectors.event_list(rep, customer.pk, limit=1)
    assert first == [b]
    second = selectors.event_list(rep, customer.pk, before=b.occurred_at, before_id=b.pk, limit=5)
    assert second == [a, c]
    assert selectors.event_list(rep, customer.pk, types=["app_login"]) == [c]
    assert selectors.event_list(rep, customer.pk, since=_ago(5)) == [b, a]


def test_follow_up_list_mine_plus_scope(rep, colleague, customer, others_customer, make_user):
    today = timezone.localdate()
    own = FollowUpTask.objects.create(customer=customer, assignee=rep, title="a", due_date=today)
    handed = FollowUpTask.objects.create(customer=others_customer, assignee=rep, title="b",
                                         due_date=today)
    foreign = FollowUpTask.objects.create(customer=others_customer, assignee=colleague,
                                          title="c", due_date=today)
    in_scope = FollowUpTask.objects.create(customer=customer, assignee=colleague, title="d",
                                           due_date=today + dt.timedelta(days=1))
    assert set(selectors.follow_up_list(rep)) == {own, handed, in_scope}
    assert set(selectors.follow_up_list(rep, mine=True)) == {own, handed}
    assert list(selectors.follow_up_list(rep, due_before=today + dt.timedelta(days=1))) == [
        own, handed]
    with pytest.raises(NotFound):
        selectors.follow_up_get(rep, foreign.pk)


def test_agenda_splits_overdue_today_upcoming(rep, customer):
    today = timezone.localdate()
    make = lambda days: FollowUpTask.objects.create(  # noqa: E731
        customer=customer, assignee=rep, title=str(days), due_date=today + dt.timedelta(days))
    late, now_, soon, far = make(-2), make(0), make(3), make(40)
    make(1).__class__.objects.filter(title="1").update(status="done")
    agenda = selectors.follow_up_agenda(rep)
    assert agenda.overdue == [late] and agenda.today == [now_] and agenda.upcoming == [soon]
    assert far not in agenda.upcoming


def test_timeline_items_newest_first_across_kinds(rep, customer):
    i1 = InteractionFactory(customer=customer, occurred_at=_ago(30), summary="拜访")
    e1 = EventFactory(customer=customer, occurred_at=_ago(20),
                      properties={"url": "/p/a1", "title": "A1 打印机"})
    i2 = InteractionFactory(customer=customer, occurred_at=_ago(10), outcome="报价",
                            actor=rep)
    items = selectors.timeline_items(rep, customer, limit=10)
    assert [(item.kind, item.object_id) for item in items] == [
        ("interaction", i2.pk), ("event", e1.pk), ("interaction", i1.pk)]
    first = items[0]
    assert dataclasses.is_dataclass(first) and first.at == i2.occurred_at
    assert first.meta["outcome"] == "报价" and first.meta["by"] == str(rep)
    assert items[1].title == "Page view" and "A1 打印机" in items[1].body
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.title = "x"


def test_timeline_items_respects_kinds_before_and_limit(rep, customer):
    for minutes in range(1, 6):
        InteractionFactory(customer=customer, occurred_at=_ago(minutes))
        EventFactory(customer=customer, occurred_at=_ago(minutes * 10))
    assert len(selectors.timeline_items(rep, customer, limit=3)) == 3
    only_events = selectors.timeline_items(rep, customer, kinds={"event", "order"}, limit=10)
    assert {item.kind for item in only_events} == {"event"} and len(only_events) == 5
    older = selectors.timeline_items(rep, customer, cursor=TimelineCursor(at=_ago(6), kind="interaction", object_id=0),
                                   limit=10)
    assert all(item.at < _ago(6) for item in older) and len(older) == 5
    assert selectors.timeline_items(rep, customer, kinds={"order"}, limit=10) == []


def test_timeline_items_out_of_scope_is_not_found(rep, others_customer):
    with pytest.raises(NotFound):
        selectors.timeline_items(rep, others_customer, limit=5)


@pytest.mark.parametrize("rows", [1, 15])
def test_timeline_items_query_count_is_bounded(rep, customer, rows, django_assert_num_queries):
    for n in range(rows):
        InteractionFactory(customer=customer, occurred_at=_ago(n), actor=rep)
        EventFactory(customer=customer, occurred_at=_ago(n))
    rep.access  # noqa: B018 - the policy is computed once per request, not per provider
    with django_assert_num_queries(2):
        items = selectors.timeline_items(rep, customer, limit=10)
    assert len(items) == min(10, rows * 2)
    with django_assert_num_queries(1):
        selectors.timeline_items(rep, customer, kinds={"interaction"}, limit=10)
