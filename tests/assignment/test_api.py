"""/api/v1/assignment-rules and /api/v1/book-transfers, with their permission matrix."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from kehu.assignment.models import AssignmentRule
from kehu.customers.models import Customer
from kehu.interactions.models import FollowUpTask
from tests.assignment.conftest import EAST
from tests.factories import CustomerFactory, UserFactory


def _post(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


def _put(client, path, body):
    return client.put(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def manager(team):
    manager = UserFactory(role_code="sales_manager", username="mgr")
    team.managers.add(manager)
    return manager


def test_crud_and_preview(api_client_for, manager, team, members, east_customers):
    client = api_client_for(manager)
    created = _post(client, "/api/v1/assignment-rules", {
        "name": "华东区", "condition": EAST, "team": team.pk, "method": "round_robin",
        "capacity": 30})
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule["team"] == {"id": team.pk, "name": "华东销售"} and rule["capacity"] == 30
    assert rule["condition"]["conditions"][0]["value"] == "华东"
    customers = east_customers(2, owner=manager, team=team)
    CustomerFactory(region="华南", owner=manager, team=team)
    preview = _post(client, f"/api/v1/assignment-rules/{rule['id']}/preview", {})
    assert preview.status_code == 200, preview.content
    body = preview.json()
    assert body["matches"] == 2
    assert sorted(d["customer_id"] for d in body["decisions"]) == sorted(c.pk for c in customers)
    assert [d["user"] for d in body["decisions"]] == ["张伟", "李娜"]
    assert all(Customer.objects.get(pk=c.pk).owner == manager for c in customers)
    changed = _put(client, f"/api/v1/assignment-rules/{rule['id']}", {
        "name": "华东区", "condition": EAST, "team": team.pk, "method": "least_loaded"})
    assert changed.status_code == 200 and changed.json()["method"] == "least_loaded"
    listed = client.get("/api/v1/assignment-rules").json()
    assert [r["name"] for r in listed] == ["华东区"]
    applied = _post(client, "/api/v1/assignment-rules/apply",
                    {"customer_ids": [c.pk for c in customers]})
    assert applied.status_code == 200, applied.content
    assert [d["user"] for d in applied.json()] == ["张伟", "李娜"]
    assert client.delete(f"/api/v1/assignment-rules/{rule['id']}").status_code == 204
    assert not AssignmentRule.objects.exists()


def test_invalid_condition_names_the_path(api_client_for, manager, team):
    client = api_client_for(manager)
    response = _post(client, "/api/v1/assignment-rules", {
        "name": "坏", "team": team.pk, "condition": {"type": "group", "match": "all",
                                                     "conditions": [{"type": "field",
                                                                     "field": "nope",
                                                                     "op": "eq", "value": 1}]}})
    assert response.status_code == 422
    assert any(key.startswith("condition.conditions[0]") for key in response.json()["details"])
    assert not AssignmentRule.objects.exists()


def test_reorder(api_client_for, manager, team, make_rule):
    a, b = make_rule(name="甲", team=team), make_rule(name="乙", team=team)
    client = api_client_for(manager)
    response = _post(client, "/api/v1/assignment-rules/reorder", {"ids": [b.pk, a.pk]})
    assert response.status_code == 200
    assert [r["name"] for r in response.json()] == ["乙", "甲"]


@pytest.mark.parametrize("role,status", [("admin", 200), ("sales_manager", 200),
                                         ("sales_rep", 403), ("marketer", 403),
                                         ("data_steward", 403), ("read_only", 403)])
def test_permission_matrix_list(api_client_for, role, status):
    user = UserFactory(role_code=role)
    assert api_client_for(user).get("/api/v1/assignment-rules").status_code == status


@pytest.mark.parametrize("role", ["sales_rep", "marketer", "read_only", "data_steward"])
def test_denied_create_changes_nothing(api_client_for, team, role):
    user = UserFactory(role_code=role, team=team)
    response = _post(api_client_for(user), "/api/v1/assignment-rules",
                     {"name": "x", "team": team.pk})
    assert response.status_code == 403
    assert not AssignmentRule.objects.exists()


def test_read_key_cannot_write(api_client_for, manager, team):
    response = _post(api_client_for(manager, scopes=("read",)), "/api/v1/assignment-rules",
                     {"name": "x", "team": team.pk})
    assert response.status_code == 403
    assert not AssignmentRule.objects.exists()


def test_manager_cannot_use_another_team(api_client_for, manager, db):
    from tests.factories import TeamFactory

    other = TeamFactory(name="华南销售")
    response = _post(api_client_for(manager), "/api/v1/assignment-rules",
                     {"name": "x", "team": other.pk})
    assert response.status_code == 422 and "team" in response.json()["details"]
    assert not AssignmentRule.objects.exists()


def test_apply_out_of_scope_customer_is_not_found(api_client_for, manager, team, make_rule,
                                                 members):
    make_rule(team=team, condition={})
    stranger = UserFactory(role_code="sales_rep")
    outside = CustomerFactory(owner=stranger)
    response = _post(api_client_for(manager), "/api/v1/assignment-rules/apply",
                     {"customer_ids": [outside.pk]})
    assert response.status_code == 404
    outside.refresh_from_db()
    assert outside.owner == stranger


def test_book_transfer_preview_then_transfer(api_client_for, manager, team, members):
    old, new = members[0], members[1]
    mine = [CustomerFactory(owner=old, team=team, region="华东") for _ in range(3)]
    south = CustomerFactory(owner=old, team=team, region="华南")
    other = CustomerFactory(owner=members[2], team=team, region="华东")
    for customer in (mine[0], south):
        FollowUpTask.objects.create(customer=customer, assignee=old, title="回访",
                                    due_date=timezone.localdate())
    FollowUpTask.objects.create(customer=mine[1], assignee=old, title="旧", status="done",
                                due_date=timezone.localdate())
    client = api_client_for(manager)
    body = {"from_user": old.pk, "to_user": new.pk, "filters": "region=华东"}
    preview = _post(client, "/api/v1/book-transfers", {**body, "preview": True})
    assert preview.status_code == 200, preview.content
    assert preview.json()["customers"] == 3 and preview.json()["tasks"] == 1
    assert Customer.objects.filter(owner=new).count() == 0
    done = _post(client, "/api/v1/book-transfers", body)
    assert done.status_code == 201, done.content
    assert done.json()["status"] == "done" and done.json()["customers"] == 3
    assert done.json()["tasks"] == 1
    assert set(Customer.objects.filter(owner=new).values_list("pk", flat=True)) == {
        c.pk for c in mine}
    south.refresh_from_db()
    other.refresh_from_db()
    assert south.owner == old and other.owner == members[2]
    assert FollowUpTask.objects.get(customer=mine[0]).assignee == new
    assert FollowUpTask.objects.get(customer=south).assignee == old
    assert FollowUpTask.objects.get(customer=mine[1]).assignee == old  # done: not moved


def test_book_transfer_denied_for_rep(api_client_for, team, members):
    CustomerFactory(owner=members[0], team=team)
    response = _post(api_client_for(members[0]), "/api/v1/book-transfers",
                     {"from_user": members[0].pk, "to_user": members[1].pk})
    assert response.status_code == 403
    assert Customer.objects.filter(owner=members[1]).count() == 0


def test_large_book_transfer_runs_as_a_job(api_client_for, manager, team, members, monkeypatch,
                                           django_capture_on_commit_callbacks):
    from kehu.assignment import services
    from kehu.assignment.models import BookTransfer
    from kehu.core.models import Job

    monkeypatch.setattr(services, "BOOK_TRANSFER_INLINE", 1)
    monkeypatch.setattr(services, "CHUNK", 2)
    ids = [CustomerFactory(owner=members[0], team=team).pk for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(api_client_for(manager), "/api/v1/book-transfers",
                         {"from_user": members[0].pk, "to_user": members[2].pk})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "queued" and body["job_id"] and body["customers"] == 3
    job = Job.objects.get(pk=body["job_id"])
    assert job.kind == "book_transfer" and job.status == Job.DONE and job.done == 3
    transfer = BookTransfer.objects.get(pk=body["id"])
    assert transfer.status == "done" and transfer.customers_moved == 3
    assert set(Customer.objects.filter(pk__in=ids).values_list("owner_id", flat=True)) == {
        members[2].pk}
