"""API permission matrix for interactions, follow-ups and events: exact codes, no side effects."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from kehu.core.models import AuditEntry
from kehu.interactions.models import Event, FollowUpTask, Interaction
from tests.factories import CustomerFactory, EventFactory, InteractionFactory
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db

ROLES = ["admin", "sales_manager", "sales_rep", "marketer", "service_agent", "data_steward",
         "compliance_auditor", "read_only"]
CAN_LOG = {"admin", "sales_manager", "sales_rep", "service_agent"}


def _post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def world(make_user, team):
    """Per role a caller; one customer owned by a rep in `team`, one owned by an outsider."""
    owner = make_user("sales_rep", team=team)
    return {"owner": owner, "customer": CustomerFactory(owner=owner, team=team),
            "foreign": CustomerFactory(owner=make_user("sales_rep"))}


def _caller(role, make_user, team, world):
    if role == "sales_rep":
        return world["owner"]
    return make_user(role, team=team)


@pytest.mark.parametrize("role", ROLES)
def test_log_interaction_matrix(role, make_user, api_client_for, team, world):
    client = api_client_for(_caller(role, make_user, team, world))
    body = {"kind": "call", "summary": "电话回访", "outcome": "满意",
            "next_follow_up": (timezone.localdate() + dt.timedelta(days=2)).isoformat()}
    audit_before = AuditEntry.objects.count()
    response = _post(client, f"/api/v1/customers/{world['customer'].pk}/interactions", body)
    if role in CAN_LOG:
        assert response.status_code == 201
        data = response.json()
        assert data["summary"] == "电话回访" and data["customer_id"] == world["customer"].pk
        assert FollowUpTask.objects.get().assignee == world["owner"]
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert not Interaction.objects.exists() and not FollowUpTask.objects.exists()
        assert AuditEntry.objects.count() == audit_before


@pytest.mark.parametrize("role,status", [("admin", 201), ("sales_manager", 404),
                                         ("sales_rep", 404), ("service_agent", 201),
                                         ("read_only", 403)])
def test_log_on_customer_outside_scope(role, status, make_user, api_client_for, team, world):
    client = api_client_for(_caller(role, make_user, team, world))
    response = _post(client, f"/api/v1/customers/{world['foreign'].pk}/interactions",
                     {"kind": "note", "summary": "x"})
    assert response.status_code == status
    assert Interaction.objects.exists() is (status == 201)


def test_unknown_customer_and_bad_payload(make_user, api_client_for):
    client = api_client_for(make_user("admin"))
    assert _post(client, "/api/v1/customers/999999/interactions",
                 {"kind": "call", "summary": "x"}).status_code == 404
    response = _post(client, f"/api/v1/customers/{CustomerFactory().pk}/interactions",
                     {"kind": "fax", "summary": ""})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert not Interaction.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_read_interactions_matrix(role, make_user, api_client_for, team, world):
    interaction = InteractionFactory(customer=world["customer"])
    client = api_client_for(_caller(role, make_user, team, world))
    listed = client.get(f"/api/v1/customers/{world['customer'].pk}/interactions")
    one = client.get(f"/api/v1/interactions/{interaction.pk}")
    assert listed.status_code == 200 and one.status_code == 200
    assert [i["id"] for i in listed.json()["items"]] == [interaction.pk]
    foreign = InteractionFactory(customer=world["foreign"])
    expected = 404 if role in ("sales_rep", "sales_manager") else 200
    assert client.get(f"/api/v1/interactions/{foreign.pk}").status_code == expected


def test_follow_ups_mine_complete_and_reschedule(make_user, api_client_for, world):
    owner = world["owner"]
    today = timezone.localdate()
    task = FollowUpTask.objects.create(customer=world["customer"], assignee=owner, title="回访",
                                       due_date=today)
    client = api_client_for(owner)
    listed = client.get("/api/v1/follow-ups").json()
    assert [t["id"] for t in listed["items"]] == [task.pk]
    later = (today + dt.timedelta(days=5)).isoformat()
    moved = _post(client, f"/api/v1/follow-ups/{task.pk}/reschedule", {"due_date": later})
    assert moved.status_code == 200 and moved.json()["due_date"] == later
    done = _post(client, f"/api/v1/follow-ups/{task.pk}/complete", {})
    assert done.status_code == 200 and done.json()["status"] == "done"
    again = _post(client, f"/api/v1/follow-ups/{task.pk}/complete", {})
    assert again.status_code == 422 and "status" in again.json()["details"]


def test_follow_up_of_someone_else_is_404(make_user, api_client_for, world):
    task = FollowUpTask.objects.create(customer=world["foreign"], assignee=None, title="x",
                                       due_date=timezone.localdate())
    client = api_client_for(world["owner"])
    before = db_snapshot()
    response = _post(client, f"/api/v1/follow-ups/{task.pk}/complete", {})
    assert response.status_code == 404
    assert db_snapshot() == before
    assert FollowUpTask.objects.get(pk=task.pk).status == "open"


def test_create_follow_up(make_user, api_client_for, world):
    response = _post(api_client_for(world["owner"]), "/api/v1/follow-ups", {
        "customer_id": world["customer"].pk, "title": "寄样品",
        "due_date": timezone.localdate().isoformat()})
    assert response.status_code == 201
    assert response.json()["assignee"] == world["owner"].username


def _event(customer_id, **kwargs):
    return {"customer_id": customer_id, "event_type": "page_view",
            "occurred_at": "2026-01-05T10:00:00+08:00", "properties": {"url": "/a"}, **kwargs}


@pytest.mark.parametrize("role,status", [("admin", 200), ("sales_rep", 200),
                                         ("service_agent", 200), ("marketer", 403),
                                         ("read_only", 403)])
def test_event_batch_matrix(role, status, make_user, api_client_for, team, world):
    client = api_client_for(_caller(role, make_user, team, world))
    response = _post(client, "/api/v1/events/batch",
                     {"events": [_event(world["customer"].pk), _event(world["customer"].pk)]})
    assert response.status_code == status
    if status == 200:
        assert response.json() == {"accepted": 2, "rejected": []}
        assert Event.objects.count() == 2
    else:
        assert not Event.objects.exists() and not AuditEntry.objects.filter(
            action="event.ingest").exists()


def test_event_batch_all_or_nothing_and_skip(make_user, api_client_for, world):
    client = api_client_for(make_user("admin"))
    pk = world["customer"].pk
    events = [_event(pk), _event(pk, occurred_at="not a time")]
    response = _post(client, "/api/v1/events/batch", {"events": events})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["details"]) == ["events[1].occurred_at"]
    assert not Event.objects.exists()
    response = _post(client, "/api/v1/events/batch", {"events": events, "skip_invalid": True})
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert response.json()["rejected"][0]["index"] == 1


def test_read_scope_key_cannot_ingest(make_user, api_client_for, world):
    client = api_client_for(make_user("admin"), scopes=("read",))
    before = db_snapshot()
    response = _post(client, "/api/v1/events/batch", {"events": [_event(world["customer"].pk)]})
    assert response.status_code == 403 and response.json()["code"] == "insufficient_scope"
    assert not Event.objects.exists()
    assert db_snapshot() == before


def test_event_pages_follow_the_cursor(make_user, api_client_for, world):
    customer = world["customer"]
    base = timezone.now()
    made = [EventFactory(customer=customer, occurred_at=base - dt.timedelta(minutes=n),
                         event_type="page_view" if n % 2 else "app_login") for n in range(5)]
    client = api_client_for(world["owner"])
    url = f"/api/v1/customers/{customer.pk}/events"
    first = client.get(url, {"limit": 2}).json()
    assert [e["id"] for e in first["items"]] == [made[0].pk, made[1].pk]
    second = client.get(url, {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [e["id"] for e in second["items"]] == [made[2].pk, made[3].pk]
    last = client.get(url, {"limit": 2, "cursor": second["next_cursor"]}).json()
    assert [e["id"] for e in last["items"]] == [made[4].pk] and last["next_cursor"] is None
    typed = client.get(url, {"type": "app_login"}).json()
    assert [e["id"] for e in typed["items"]] == [made[0].pk, made[2].pk, made[4].pk]
    other = api_client_for(make_user("sales_rep"))
    before = db_snapshot()
    assert client.get(url, {"cursor": "garbage"}).status_code == 422
    assert other.get(url).status_code == 404
    assert db_snapshot() == before
