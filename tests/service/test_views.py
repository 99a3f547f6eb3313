"""The service desk pages: queues, the ticket workspace and its actions, the card's one-click
ticket, the public survey page, complaints and the configuration pages."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from kehu.service.models import BusinessCalendar, SatisfactionSurvey, SLAPolicy
from kehu.service.services.surveys import survey_token
from kehu.transactions.models import Ticket, TicketMessage
from kehu.transactions.ticket_services import ticket_open
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english_pages(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # assert on the English messages


def _clean(html: str) -> str:
    """No raw template syntax or untranslated codes leaked."""
    assert "{%" not in html and "{{" not in html
    return html


def test_one_click_ticket_from_the_caller_lookup_card(client, agent, customer, actor_for):
    customer.primary_mobile = "+8613812345678"
    customer.save(update_fields=["primary_mobile"])
    client.force_login(agent)
    card = client.get(reverse("cards:card", args=[customer.pk])).content.decode()
    assert 'data-testid="quick-ticket"' in card
    response = client.post(reverse("service:ticket_quick"), {"customer": customer.pk})
    ticket = Ticket.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("service:ticket", args=[ticket.pk])
    assert ticket.customer == customer and ticket.assignee == agent and ticket.status == "open"
    assert re.fullmatch(r"(Phone call|来电) \d{4}-\d{2}-\d{2} \d{2}:\d{2}", ticket.subject)


def test_quick_ticket_refused_without_ticket_rights(client, make_user, customer):
    client.force_login(make_user("read_only"))
    before = db_snapshot()
    assert client.post(reverse("service:ticket_quick"), {"customer": customer.pk}).status_code \
        == 403
    assert db_snapshot() == before


def test_queues(client, agent, customer, actor_for, make_user):
    actor = actor_for(agent)
    mine = ticket_open(actor=actor, customer=customer, kind="inquiry", subject="我的工单")
    nobody = ticket_open(actor=actor, customer=customer, kind="inquiry", subject="无人认领")
    Ticket.objects.filter(pk=nobody.pk).update(assignee=None)
    client.force_login(agent)
    page = _clean(client.get(reverse("service:queue")).content.decode())
    assert "我的工单" in page and "无人认领" not in page
    page = client.get(reverse("service:queue"), {"queue": "unassigned"}).content.decode()
    assert "无人认领" in page and "我的工单" not in page
    partial = client.get(reverse("service:queue"), {"queue": "all", "q": mine.number},
                         HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and mine.number in partial
    breaching = client.get(reverse("service:queue"), {"queue": "breaching"}).content.decode()
    assert "我的工单" in breaching or "No tickets" in breaching


def test_workspace_reply_note_resolve_and_phone_rating(client, agent, customer, actor_for):
    ticket = ticket_open(actor=actor_for(agent), customer=customer, kind="service_request",
                         subject="空调不制冷")
    client.force_login(agent)
    url = reverse("service:ticket", args=[ticket.pk])
    page = _clean(client.get(url).content.decode())
    assert 'data-testid="sla"' in page and "空调不制冷" in page
    assert client.post(url, {"action": "message", "kind": "note", "body": "内部备注"}
                       ).status_code == 302
    assert client.post(url, {"action": "message", "kind": "reply", "body": "明天上门",
                             "channel": "phone"}).status_code == 302
    kinds = list(TicketMessage.objects.filter(ticket=ticket).values_list("kind", flat=True))
    assert kinds == ["note", "reply"]
    bad = client.post(url, {"action": "work", "subject": "空调不制冷", "status": "resolved",
                            "priority": "normal", "resolution": ""})
    assert bad.status_code == 200 and "errorlist" in bad.content.decode()
    assert client.post(url, {"action": "work", "subject": "空调不制冷", "status": "resolved",
                             "priority": "normal", "assignee": agent.pk,
                             "resolution": "补充制冷剂"}).status_code == 302
    page = client.get(url).content.decode()
    link = re.search(r'data-testid="survey-link"', page)
    assert link is not None                       # no address: a link the agent shares
    assert client.post(url, {"action": "phone_rating", "rating": "3", "nps": "",
                             "comment": "电话回访"}).status_code == 302
    ticket.refresh_from_db()
    assert ticket.satisfaction == 3 and ticket.satisfaction_source == "agent_phone"
    assert "entered by an agent on the phone" in client.get(url).content.decode()


def test_readers_see_no_notes_and_cannot_act(client, agent, customer, actor_for, make_user):
    from kehu.transactions.ticket_services import ticket_message_add

    ticket = ticket_open(actor=actor_for(agent), customer=customer, kind="inquiry", subject="问价")
    ticket_message_add(actor=actor_for(agent), ticket=ticket, kind="note", body="机密备注")
    client.force_login(make_user("read_only"))
    url = reverse("service:ticket", args=[ticket.pk])
    page = client.get(url).content.decode()
    assert "机密备注" not in page and 'name="action"' not in page
    before = db_snapshot()
    assert client.post(url, {"action": "escalate", "reason": "x"}).status_code == 404
    assert db_snapshot() == before


def test_tickets_outside_the_record_scope_are_not_found(client, customer, others_customer,
                                                        rep, actor_for, admin_user):
    from kehu.core.actor import Actor

    theirs = ticket_open(actor=Actor(user=admin_user), customer=others_customer,
                         kind="inquiry", subject="别人的")
    client.force_login(rep)
    assert client.get(reverse("service:ticket", args=[theirs.pk])).status_code == 404
    assert "别人的" not in client.get(reverse("service:queue"), {"queue": "all"}).content.decode()


def test_public_survey_page(client, agent, customer, actor_for):
    from kehu.transactions.ticket_services import ticket_update

    ticket = ticket_open(actor=actor_for(agent), customer=customer, kind="inquiry", subject="问价")
    ticket_update(actor=actor_for(agent), ticket=ticket, status="resolved", priority="normal",
                  assignee=agent, resolution="已报价")
    survey = SatisfactionSurvey.objects.get(ticket=ticket)
    url = reverse("service:survey_public", args=[survey_token(survey)])
    page = client.get(url)                       # no sign-in
    assert page.status_code == 200 and 'name="rating"' in page.content.decode()
    assert 'name="viewport"' in page.content.decode()
    bad = client.post(url, {"rating": "", "comment": "x"})
    assert bad.status_code == 200 and SatisfactionSurvey.objects.get(pk=survey.pk).rating is None
    done = client.post(url, {"rating": "5", "nps": "10", "comment": "很好"})
    assert done.status_code == 200 and 'data-testid="survey-thanks"' in done.content.decode()
    again = client.get(url)
    assert again.status_code == 410 and "already answered" in again.content.decode()
    assert client.get(reverse("service:survey_public", args=["forged:token"])).status_code \
        == 404


def test_complaint_pages(client, agent, customer):
    client.force_login(agent)
    url = reverse("service:complaint_new") + f"?customer={customer.pk}"
    assert client.get(url).status_code == 200
    response = client.post(url, {"customer": customer.pk, "subject": "发票开错",
                                 "category": "billing", "severity": "medium",
                                 "priority": "normal", "description": ""})
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and ticket.kind == "complaint"
    listing = _clean(client.get(reverse("service:complaints")).content.decode())
    assert ticket.number in listing and ">billing<" not in listing


def test_configuration_pages(client, admin_user, agent):
    calendar = BusinessCalendar.objects.get(is_default=True)
    policy = SLAPolicy.objects.first()
    client.force_login(admin_user)
    for url in (reverse("service:policies"), reverse("service:policy_create"),
                reverse("service:policy_edit", args=[policy.pk]),
                reverse("service:calendars"), reverse("service:calendar", args=[calendar.pk]),
                reverse("service:calendar", args=[calendar.pk]) + "?year=2026"):
        assert client.get(url).status_code == 200, url
        _clean(client.get(url).content.decode())
    response = client.post(reverse("service:calendar", args=[calendar.pk]), {
        "action": "day", "date": "2026-03-02", "kind": "holiday", "name": "公司假日"})
    assert response.status_code == 302
    assert calendar.days.filter(date="2026-03-02", kind="holiday").exists()
    response = client.post(reverse("service:policy_edit", args=[policy.pk]), {
        "name": policy.name, "priority": policy.priority, "kind": "", "customer_tier": "",
        "calendar": "", "first_response_hours": "3", "next_response_hours": "",
        "resolution_hours": "20", "pause_statuses": ["waiting_customer"], "warn_percent": "75",
        "position": "5", "is_active": "on"})
    assert response.status_code == 302
    policy.refresh_from_db()
    assert str(policy.first_response_hours) == "3.00" and policy.warn_percent == 75
    client.force_login(agent)       # agents read the policies, never change them
    assert client.get(reverse("service:policies")).status_code == 200
    before = db_snapshot()
    assert client.post(reverse("service:policy_edit", args=[policy.pk]),
                       {"name": "x"}).status_code == 403
    assert client.post(reverse("service:calendar", args=[calendar.pk]), {
        "action": "day", "date": "2026-03-03", "kind": "holiday"}).status_code == 404
    assert db_snapshot() == before


def test_queue_queries_do_not_grow_with_rows(client, agent, customer, actor_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    actor = actor_for(agent)
    client.force_login(agent)
    # One request first: the first page of a session reads what later ones have cached
    # (the calendar, the session's user and role).
    client.get(reverse("service:queue"), {"queue": "all"})
    counts = []
    for batch in (2, 8):
        for _ in range(batch):
            ticket_open(actor=actor, customer=customer, kind="inquiry", subject="问价")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("service:queue"), {"queue": "all"}).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts
