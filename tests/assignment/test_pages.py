"""The assignment pages: rules list, editor (segment builder), dry run, leave, book transfer,
and the card's explanation."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kehu.assignment.models import AssignmentRule
from kehu.assignment.services import assignment_apply
from kehu.customers.models import Customer
from tests.assignment.conftest import SYSTEM
from tests.factories import CustomerFactory, UserFactory


@pytest.fixture
def manager(team):
    manager = UserFactory(role_code="sales_manager", username="mgr")
    team.managers.add(manager)
    return manager


def _login(client, user):
    client.force_login(user)
    return client


def test_rules_page_denied_to_rep(client, members):
    response = _login(client, members[0]).get("/assignment/")
    assert response.status_code == 403


def test_create_rule_through_the_editor(client, manager, team, members, east_customers):
    c = _login(client, manager)
    assert c.get("/assignment/rules/new/").status_code == 200
    response = c.post("/assignment/rules/new/", {
        "name": "华东区", "team": team.pk, "method": "round_robin", "is_active": "on",
        "r.type": "group", "r.match": "all", "r.n": "1", "r.c0.type": "field",
        "r.c0.field": "region", "r.c0.op": "eq", "r.c0.value": "华东"})
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = AssignmentRule.objects.get()
    assert rule.condition["conditions"][0] == {"type": "field", "field": "region", "op": "eq",
                                               "value": "华东"}
    page = c.get("/assignment/").content.decode()
    assert "华东区" in page and "张伟" in page
    east_customers(2, owner=manager, team=team)
    dry = c.post(f"/assignment/rules/{rule.pk}/dry-run/", HTTP_HX_REQUEST="true")
    assert "按华东区规则轮询分配给" in dry.content.decode()


def test_editor_shows_condition_errors(client, manager, team):
    c = _login(client, manager)
    response = c.post("/assignment/rules/new/", {
        "name": "坏", "team": team.pk, "method": "round_robin",
        "r.type": "group", "r.match": "all", "r.n": "1", "r.c0.type": "field",
        "r.c0.field": "created_at", "r.c0.op": "in_last_days", "r.c0.value": "abc"})
    assert response.status_code == 200
    assert 'data-testid="condition-errors"' in response.content.decode()
    assert not AssignmentRule.objects.exists()


def test_reorder_and_leave(client, manager, team, members, make_rule):
    a, b = make_rule(name="甲", team=team), make_rule(name="乙", team=team)
    c = _login(client, manager)
    response = c.post("/assignment/rules/reorder/", {"ids": [b.pk, a.pk]})
    assert response.status_code == 200
    assert list(AssignmentRule.objects.values_list("name", flat=True)) == ["乙", "甲"]
    today = timezone.localdate().isoformat()
    c.post(f"/assignment/members/{members[0].pk}/leave/", {"leave_from": today})
    members[0].refresh_from_db()
    assert members[0].on_leave(timezone.localdate())


def test_transfer_page(client, manager, team, members):
    CustomerFactory(owner=members[0], team=team)
    c = _login(client, manager)
    form = {"from_user": members[0].pk, "to_user": members[1].pk, "filters": ""}
    preview = c.post("/assignment/transfer/", form, HTTP_HX_REQUEST="true")
    assert 'data-testid="transfer-counts"' in preview.content.decode()
    assert Customer.objects.filter(owner=members[1]).count() == 0
    done = c.post("/assignment/transfer/", {**form, "action": "transfer"})
    assert done.status_code == 302
    assert Customer.objects.filter(owner=members[1]).count() == 1


def test_card_explains_the_decision(client, admin_user, team, members, make_rule,
                                    east_customers):
    make_rule(team=team)
    customer = east_customers(1)[0]
    assignment_apply(actor=SYSTEM, customer_ids=[customer.pk])
    page = _login(client, admin_user).get(f"/customers/{customer.pk}/",
                                          HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "按华东区规则轮询分配给 张伟" in page
