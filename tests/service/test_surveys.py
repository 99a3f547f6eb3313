"""Satisfaction surveys: sent on resolution, signed single-use expiring links, the answer on
the ticket and the card, agents' phone ratings marked as such."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import signing

from kehu.core.errors import ValidationFailed
from kehu.core.models import DomainEvent
from kehu.notifications.models import OutboundMessage
from kehu.service.models import SatisfactionSurvey
from kehu.service.services.surveys import (
    SALT,
    SurveyUnavailable,
    survey_answer,
    survey_from_token,
    survey_record_by_agent,
    survey_send,
    survey_token,
)
from kehu.transactions.models import Ticket
from kehu.transactions.selectors import customer_service_summary
from kehu.transactions.ticket_services import ticket_open, ticket_update
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


def _resolved(actor, customer):
    ticket = ticket_open(actor=actor, customer=customer, kind="service_request",
                         subject="打印机维修")
    return ticket_update(actor=actor, ticket=ticket, status="resolved", priority="normal",
                         assignee=ticket.assignee, resolution="已更换硒鼓")


def test_resolution_emails_the_survey_and_the_answer_lands_on_ticket_and_card(
        agent, customer, actor_for):
    customer.primary_email = "wang@example.com"
    customer.save(update_fields=["primary_email"])
    ticket = _resolved(actor_for(agent), customer)
    survey = SatisfactionSurvey.objects.get(ticket=ticket)
    assert survey.channel == "email" and survey.answered_at is None
    message = OutboundMessage.objects.get(dedupe_key=f"survey:{survey.pk}")
    token = survey_token(survey)
    assert message.to == ["wang@example.com"] and token in message.text
    assert message.purpose == "service" and message.customer_id == customer.pk
    survey_answer(token=token, rating=4, nps=9, comment="师傅很专业")
    ticket.refresh_from_db()
    assert ticket.satisfaction == 4 and ticket.satisfaction_source == "survey"
    survey.refresh_from_db()
    assert (survey.rating, survey.nps, survey.comment, survey.by_agent) == (4, 9, "师傅很专业",
                                                                           False)
    assert customer_service_summary(agent, customer).average_satisfaction == 4.0
    event = DomainEvent.objects.get(type="survey.answered")
    assert event.changes["rating"] == 4 and event.customer_id == customer.pk
    assert DomainEvent.objects.filter(type="ticket.rated", customer_id=customer.pk).exists()


def test_sms_when_no_email_and_a_link_when_neither(agent, customer, others_customer, actor_for):
    customer.primary_mobile = "+8613800138000"
    customer.save(update_fields=["primary_mobile"])
    ticket = _resolved(actor_for(agent), customer)
    assert SatisfactionSurvey.objects.get(ticket=ticket).channel == "sms"
    assert OutboundMessage.objects.get(channel="sms").to in (["+8613800138000"],
                                                             "+8613800138000")
    other = _resolved(actor_for(agent), others_customer)
    assert SatisfactionSurvey.objects.get(ticket=other).channel == "link"


def test_token_is_single_use(agent, customer, actor_for):
    ticket = _resolved(actor_for(agent), customer)
    token = survey_token(SatisfactionSurvey.objects.get(ticket=ticket))
    survey_answer(token=token, rating=5)
    before = db_snapshot()
    with pytest.raises(SurveyUnavailable) as caught:
        survey_answer(token=token, rating=1, comment="改主意了")
    assert caught.value.code == "survey_answered"
    assert db_snapshot() == before
    assert Ticket.objects.get(pk=ticket.pk).satisfaction == 5


def test_token_expires(agent, customer, actor_for, clock):
    clock.set(2026, 3, 2, 10)
    ticket = _resolved(actor_for(agent), customer)
    survey = SatisfactionSurvey.objects.get(ticket=ticket)
    assert survey.expires_at == survey.sent_at + dt.timedelta(days=14)
    token = survey_token(survey)
    clock.set(2026, 3, 16, 9, 59)
    assert survey_from_token(token).pk == survey.pk
    clock.set(2026, 3, 16, 10, 1)
    before = db_snapshot()
    with pytest.raises(SurveyUnavailable) as caught:
        survey_answer(token=token, rating=5)
    assert caught.value.code == "survey_expired"
    assert db_snapshot() == before


def test_forged_and_tampered_tokens_are_refused(agent, customer, actor_for):
    ticket = _resolved(actor_for(agent), customer)
    survey = SatisfactionSurvey.objects.get(ticket=ticket)
    token = survey_token(survey)
    forged = signing.Signer(salt="another-salt").sign(survey.nonce)
    for bad in (token[:-2] + "xx", forged, "nonsense", survey.nonce,
                signing.Signer(salt=SALT).sign("0" * 32)):
        with pytest.raises(SurveyUnavailable) as caught:
            survey_answer(token=bad, rating=5)
        assert caught.value.code == "survey_invalid"
    assert Ticket.objects.get(pk=ticket.pk).satisfaction is None


def test_a_new_survey_retires_the_old_link(agent, customer, actor_for):
    actor = actor_for(agent)
    ticket = _resolved(actor, customer)
    first = SatisfactionSurvey.objects.get(ticket=ticket)
    second = survey_send(actor=actor, ticket=ticket, channel="link")
    with pytest.raises(SurveyUnavailable) as caught:
        survey_answer(token=survey_token(first), rating=3)
    assert caught.value.code == "survey_expired"
    survey_answer(token=survey_token(second), rating=3)
    with pytest.raises(ValidationFailed):       # answered: no further survey
        survey_send(actor=actor, ticket=ticket, channel="link")


def test_survey_needs_a_resolved_ticket_and_an_address(agent, customer, actor_for):
    actor = actor_for(agent)
    ticket = ticket_open(actor=actor, customer=customer, kind="inquiry", subject="问价")
    before = db_snapshot()
    with pytest.raises(ValidationFailed) as caught:
        survey_send(actor=actor, ticket=ticket, channel="email")
    assert "ticket" in caught.value.details and "channel" in caught.value.details
    assert db_snapshot() == before


def test_bad_answers_are_refused(agent, customer, actor_for):
    ticket = _resolved(actor_for(agent), customer)
    token = survey_token(SatisfactionSurvey.objects.get(ticket=ticket))
    for rating, nps in ((0, None), (6, None), (True, None), (3, 11), (3, -1)):
        with pytest.raises(ValidationFailed):
            survey_answer(token=token, rating=rating, nps=nps)
    assert SatisfactionSurvey.objects.get(ticket=ticket).answered_at is None


def test_agent_phone_rating_is_marked_and_never_overrides_the_customer(agent, customer,
                                                                      actor_for):
    actor = actor_for(agent)
    ticket = _resolved(actor, customer)
    survey = survey_record_by_agent(actor=actor, ticket=ticket, rating=2, comment="电话里说一般")
    assert survey.by_agent and survey.channel == "phone"
    ticket.refresh_from_db()
    assert ticket.satisfaction == 2 and ticket.satisfaction_source == "agent_phone"
    # the emailed link still lets the customer answer, and the customer's answer wins
    live = SatisfactionSurvey.objects.filter(ticket=ticket, by_agent=False).first()
    assert live.expires_at <= survey.answered_at     # the phone answer retired the link
    fresh = survey_send(actor=actor, ticket=ticket, channel="link")
    survey_answer(token=survey_token(fresh), rating=5)
    ticket.refresh_from_db()
    assert ticket.satisfaction == 5 and ticket.satisfaction_source == "survey"
    with pytest.raises(ValidationFailed):
        survey_record_by_agent(actor=actor, ticket=ticket, rating=1)
