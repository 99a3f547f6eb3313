"""The service-desk API: a permission matrix per endpoint with "nothing changed" on denial,
record scope through the tickets' customers, the public survey endpoints, policies and
calendars."""

from __future__ import annotations

import json

import pytest

from kehu.core.actor import Actor
from kehu.service.models import BusinessCalendar, Complaint, SatisfactionSurvey, SLAPolicy
from kehu.service.services.surveys import survey_token
from kehu.transactions.models import Ticket, TicketMessage
from kehu.transactions.ticket_services import ticket_open, ticket_update
from tests.factories import CustomerFactory
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db
ROLES = ["admin", "service_agent", "compliance_auditor", "sales_rep", "read_only"]
WORKERS = {"admin", "service_agent", "compliance_auditor"}


def _send(client, method, url, body=None):
    return getattr(client, method)(url, data=json.dumps(body or {}),
                                   content_type="application/json")


@pytest.fixture
def world(make_user, team, admin_user):
    owner = make_user("sales_rep", team=team)
    mine = CustomerFactory(owner=owner, team=team)
    foreign = CustomerFactory(owner=make_user("sales_rep"))
    actor = Actor(user=admin_user)
    return {"owner": owner, "customer": mine, "foreign": foreign,
            "ticket": ticket_open(actor=actor, customer=mine, kind="inquiry", subject="自己的"),
            "other": ticket_open(actor=actor, customer=foreign, kind="inquiry", subject="别人的")}


def _caller(role, make_user, team, world):
    return world["owner"] if role == "sales_rep" else make_user(role, team=team)


@pytest.mark.parametrize("role", ROLES)
def test_message_matrix(role, make_user, api_client_for, team, world):
    client = api_client_for(_caller(role, make_user, team, world))
    url = f"/api/v1/service/tickets/{world['ticket'].pk}/messages"
    before = db_snapshot()
    response = _send(client, "post", url, {"kind": "reply", "body": "您好", "channel": "phone"})
    if role in WORKERS:
        assert response.status_code == 201 and response.json()["kind"] == "reply"
        assert Ticket.objects.get(pk=world["ticket"].pk).status == "in_progress"
    else:
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"
        assert db_snapshot() == before


@pytest.mark.parametrize("role", ROLES)
def test_complaint_open_matrix(role, make_user, api_client_for, team, world):
    client = api_client_for(_caller(role, make_user, team, world))
    before = db_snapshot()
    response = _send(client, "post", "/api/v1/service/complaints", {
        "customer_id": world["customer"].pk, "subject": "物流慢", "category": "delivery",
        "severity": "high"})
    if role in WORKERS:
        assert response.status_code == 201
        body = response.json()
        assert body["category"] == "delivery" and body["status"] == "open"
    else:
        assert response.status_code == 403
        assert db_snapshot() == before


@pytest.mark.parametrize("role", ROLES)
def test_policy_create_matrix(role, make_user, api_client_for, team, world):
    client = api_client_for(_caller(role, make_user, team, world))
    before = db_snapshot()
    response = _send(client, "post", "/api/v1/service/sla-policies", {
        "name": "VIP", "customer_tier": "high_value", "first_response_hours": "0.5",
        "resolution_hours": "8"})
    if role == "admin":
        assert response.status_code == 201 and response.json()["customer_tier"] == "high_value"
    else:
        assert response.status_code == 403
        assert db_snapshot() == before


def test_record_scope_and_queues(make_user, api_client_for, world):
    client = api_client_for(world["owner"])
    items = client.get("/api/v1/service/queue", {"queue": "all"}).json()["items"]
    assert [t["subject"] for t in items] == ["自己的"]
    assert client.get(f"/api/v1/service/tickets/{world['other'].pk}").status_code == 404
    admin = api_client_for(make_user("admin"))
    before = db_snapshot()
    # merging across customers is refused whatever the caller sees
    refused = _send(admin, "post", f"/api/v1/service/tickets/{world['ticket'].pk}/merge",
                    {"into_id": world["other"].pk})
    assert refused.status_code == 422 and "into" in refused.json()["details"]
    assert db_snapshot() == before
    assert client.get("/api/v1/service/queue", {"queue": "bogus"}).status_code == 422


def test_ticket_detail_hides_notes_from_readers(make_user, api_client_for, world):
    agent = api_client_for(make_user("service_agent"))
    url = f"/api/v1/service/tickets/{world['ticket'].pk}"
    _send(agent, "post", url + "/messages", {"kind": "note", "body": "内部"})
    _send(agent, "post", url + "/messages", {"kind": "reply", "body": "公开"})
    full = agent.get(url).json()
    assert [m["kind"] for m in full["messages"]] == ["note", "reply"]
    assert full["sla"]["policy"] == "普通工单"
    assert [c["clock"] for c in full["sla"]["clocks"]] == [
        "first_response", "next_response", "resolution"]
    reader = api_client_for(make_user("read_only")).get(url).json()
    assert [m["kind"] for m in reader["messages"]] == ["reply"]


def test_survey_flow_through_the_api(make_user, api_client_for, world):
    agent_user = make_user("service_agent")
    agent = api_client_for(agent_user)
    ticket = world["ticket"]
    early = _send(agent, "post", f"/api/v1/service/tickets/{ticket.pk}/surveys",
                  {"channel": "link"})
    assert early.status_code == 422
    ticket_update(actor=Actor(user=agent_user), ticket=ticket, status="resolved",
                  priority="normal", assignee=agent_user, resolution="已答复")
    sent = _send(agent, "post", f"/api/v1/service/tickets/{ticket.pk}/surveys",
                 {"channel": "link"})
    assert sent.status_code == 201
    token = sent.json()["url"].rstrip("/").rsplit("/", 1)[1]
    from django.test import Client

    public = Client()
    shown = public.get(f"/api/v1/service/public/surveys/{token}")
    assert shown.status_code == 200 and shown.json()["ticket_number"] == ticket.number
    answered = _send(public, "post", f"/api/v1/service/public/surveys/{token}",
                     {"rating": 4, "nps": 8, "comment": "不错"})
    assert answered.status_code == 200
    again = _send(public, "post", f"/api/v1/service/public/surveys/{token}", {"rating": 1})
    assert again.status_code == 410 and again.json()["code"] == "survey_answered"
    assert Ticket.objects.get(pk=ticket.pk).satisfaction == 4
    listed = agent.get("/api/v1/service/surveys", {"ticket_id": ticket.pk,
                                                    "answered": "true"}).json()["items"]
    assert [s["rating"] for s in listed] == [4]
    assert "url" not in listed[0] and "nonce" not in listed[0]


def test_survey_token_from_the_model_works_on_the_api(world, admin_user, client):
    ticket_update(actor=Actor(user=admin_user), ticket=world["ticket"], status="closed",
                  priority="normal", assignee=admin_user, resolution="ok")
    survey = SatisfactionSurvey.objects.get(ticket=world["ticket"])
    token = survey_token(survey)
    bad = _send(client, "post", f"/api/v1/service/public/surveys/{token}", {"rating": 9})
    assert bad.status_code == 422
    assert _send(client, "post", f"/api/v1/service/public/surveys/x{token}",
                 {"rating": 3}).status_code == 410


def test_complaint_close_rules_through_the_api(make_user, api_client_for, world):
    agent = api_client_for(make_user("service_agent"))
    created = _send(agent, "post", "/api/v1/service/complaints", {
        "customer_id": world["customer"].pk, "subject": "多收费", "category": "billing"}).json()
    ticket_id = created["ticket_id"]
    refused = _send(agent, "patch", f"/api/v1/tickets/{ticket_id}",
                    {"status": "resolved", "resolution": "退款"})
    assert refused.status_code == 422
    assert set(refused.json()["details"]) == {"root_cause", "corrective_action"}
    patched = _send(agent, "patch", f"/api/v1/service/complaints/{ticket_id}",
                    {"root_cause": "系统重复扣款", "corrective_action": "修复扣款幂等"})
    assert patched.status_code == 200 and patched.json()["root_cause"] == "系统重复扣款"
    assert _send(agent, "patch", f"/api/v1/tickets/{ticket_id}",
                 {"status": "resolved", "resolution": "退款"}).status_code == 200
    listed = agent.get("/api/v1/service/complaints", {"category": "billing"}).json()["items"]
    assert [c["ticket_id"] for c in listed] == [ticket_id]
    assert Complaint.objects.get(ticket_id=ticket_id).corrective_action == "修复扣款幂等"


def test_policies_and_calendars(make_user, api_client_for, admin_user):
    admin = api_client_for(admin_user)
    policies = admin.get("/api/v1/service/sla-policies").json()
    assert [p["priority"] for p in policies] == ["urgent", "high", "normal", "low"]
    bad = _send(admin, "post", "/api/v1/service/sla-policies", {
        "name": "x", "priority": "never", "pause_statuses": ["closed"]})
    assert bad.status_code == 422
    assert set(bad.json()["details"]) >= {"priority", "pause_statuses"}, bad.json()
    normal = SLAPolicy.objects.get(priority="normal")
    patched = _send(admin, "patch", f"/api/v1/service/sla-policies/{normal.pk}",
                    {"resolution_hours": "16"})
    assert patched.status_code == 200 and patched.json()["resolution_hours"] == "16.00"
    calendar = BusinessCalendar.objects.get(is_default=True)
    days = admin.get(f"/api/v1/service/calendars/{calendar.pk}/days", {"year": 2026}).json()
    assert len(days) == 39 and {d["kind"] for d in days} == {"holiday", "workday"}
    put = _send(admin, "put", f"/api/v1/service/calendars/{calendar.pk}/days/2026-03-02",
                {"kind": "holiday", "name": "司庆"})
    assert put.status_code == 200 and put.json()["name"] == "司庆"
    lunch = _send(admin, "patch", f"/api/v1/service/calendars/{calendar.pk}",
                  {"lunch_start": "11:30:00", "lunch_end": "13:00:00"})
    assert lunch.status_code == 200 and lunch.json()["lunch_start"] == "11:30:00"
    agent = api_client_for(make_user("service_agent"))
    before = db_snapshot()
    assert _send(agent, "delete", f"/api/v1/service/calendars/{calendar.pk}/days/2026-03-02"
                 ).status_code == 403
    assert _send(agent, "post", "/api/v1/service/sla/recompute").status_code == 403
    assert db_snapshot() == before
    assert _send(admin, "delete", f"/api/v1/service/calendars/{calendar.pk}/days/2026-03-02"
                 ).status_code == 204
    assert not TicketMessage.objects.exists()
