"""Sensitive lookups (issue 19): an hourly allowance per user, an audit entry per lookup with
its result count (never the value), and one alert when a user passes the threshold."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.core.models import AuditEntry
from tests.factories import create_customer

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v1/customers/lookup"
ID_NUMBER = "11010519491231002X"
ALERT = "security.lookup_limit"


@pytest.fixture
def limits(settings):
    settings.KEHU_SENSITIVE_LOOKUP_LIMIT = 3
    settings.KEHU_SENSITIVE_LOOKUP_ALERT = 3
    return settings


def _alerts():
    return list(AuditEntry.objects.filter(action=ALERT).values_list("object_id", flat=True))


def test_past_the_allowance_the_api_answers_429_in_json_and_raises_one_alert(
        limits, make_user, api_client_for):
    auditor, other = make_user("compliance_auditor"), make_user("compliance_auditor")
    victim = create_customer(name="秦桂荣", id_number=ID_NUMBER, mobile="13812345678")
    client = api_client_for(auditor)
    answers = [client.get(LOOKUP, {"id_number": ID_NUMBER}).status_code,
               client.get(LOOKUP, {"phone": "13900000000"}).status_code,
               client.get(LOOKUP, {"phone": "13812345678"}).status_code]
    assert answers == [200, 404, 200]
    assert _alerts() == []
    refused = client.get(LOOKUP, {"id_number": ID_NUMBER})
    assert refused.status_code == 429
    assert (refused.json()["code"], refused.json()["details"]) == (
        "rate_limited", {"limit": 3, "window_minutes": 60})
    assert _alerts() == [str(auditor.pk)]
    before = AuditEntry.objects.count()
    # The search box is the same lookup: it is refused too, and a flood adds no entries.
    assert client.get("/api/v1/customers", {"q": ID_NUMBER}).status_code == 429
    assert client.get(LOOKUP, {"email": "a@example.com"}).status_code == 429
    assert AuditEntry.objects.count() == before
    lookups = AuditEntry.objects.filter(action="customer.lookup").order_by("seq")
    assert [(e.actor_user_id, e.changes) for e in lookups] == [
        (auditor.pk, {"by": "id_number", "results": 1}),
        (auditor.pk, {"by": "phone", "results": 0}),
        (auditor.pk, {"by": "phone", "results": 1})]
    alert = AuditEntry.objects.get(action=ALERT)
    assert (alert.object_type, alert.object_repr, alert.changes) == (
        "user", auditor.get_username(),
        {"lookups": 4, "limit": 3, "alert_at": 3, "window_minutes": 60})
    texts = [str(e.changes) + e.object_repr + e.object_id for e in AuditEntry.objects.filter(
        action__in=("customer.lookup", ALERT))]
    assert not any(ID_NUMBER in t or "13812345678" in t for t in texts)
    # Another user's allowance is their own.
    assert api_client_for(other).get(LOOKUP, {"id_number": ID_NUMBER}).json()["id"] == victim.pk


def test_the_allowance_is_per_hour(limits, make_user, api_client_for, monkeypatch):
    auditor = make_user("compliance_auditor")
    create_customer(name="秦桂荣", id_number=ID_NUMBER)
    client = api_client_for(auditor)
    for _ in range(3):
        assert client.get(LOOKUP, {"id_number": ID_NUMBER}).status_code == 200
    assert client.get(LOOKUP, {"id_number": ID_NUMBER}).status_code == 429
    later = timezone.now() + timedelta(minutes=61)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert client.get(LOOKUP, {"id_number": ID_NUMBER}).status_code == 200


def test_an_alert_threshold_below_the_limit_alerts_while_still_answering(
        settings, make_user, api_client_for):
    settings.KEHU_SENSITIVE_LOOKUP_LIMIT, settings.KEHU_SENSITIVE_LOOKUP_ALERT = 10, 2
    agent = make_user("service_agent")
    create_customer(name="王先生", mobile="13812345678")
    client = api_client_for(agent)
    answers = [client.get(LOOKUP, {"phone": "13812345678"}).status_code for _ in range(4)]
    assert answers == [200] * 4
    assert _alerts() == [str(agent.pk)]  # once per hour, not once per lookup
    assert AuditEntry.objects.get(action=ALERT).changes["lookups"] == 3


def test_the_caller_lookup_page_is_counted_refused_with_a_message_and_alerts(
        limits, make_user, client):
    agent = make_user("service_agent")
    customer = create_customer(name="王先生", mobile="13812345678")
    client.force_login(agent)
    url = reverse("customers:lookup")
    for _ in range(3):
        response = client.get(url, {"phone": "138 1234 5678"})
        assert response.status_code == 302 and response.url.endswith(f"/{customer.pk}/")
    refused = client.get(url, {"phone": "138 1234 5678"}, follow=True)
    assert refused.redirect_chain[-1][0] == reverse("customers:list")
    assert len(list(refused.context["messages"])) == 1
    assert _alerts() == [str(agent.pk)]
    # Admins find the alert under "Security alerts" on the audit page.
    admin = make_user("admin")
    client.force_login(admin)
    page = client.get(reverse("core:audit")).content.decode()
    assert 'data-testid="security-alerts"' in page
    alerts = client.get(reverse("core:audit"), {"action": "security."})
    assert [e.action for e in alerts.context["entries"]] == [ALERT]


def test_a_read_only_user_cannot_look_up_by_phone_and_nothing_is_counted(
        make_user, client):
    reader = make_user("read_only")
    create_customer(name="王先生", mobile="13812345678")
    client.force_login(reader)
    before = AuditEntry.objects.count()
    response = client.get(reverse("customers:lookup"), {"phone": "13812345678"})
    assert (response.status_code, response.url) == (302, reverse("customers:list"))
    assert AuditEntry.objects.count() == before


def test_the_command_line_is_not_limited(limits, make_user):
    from kehu.core.actor import Actor
    from kehu.customers.services import customer_sensitive_lookup

    calls = [customer_sensitive_lookup(actor=Actor.system(), by="id_number", find=lambda: None)
             for _ in range(5)]
    assert calls == [None] * 5
    assert not AuditEntry.objects.filter(action__in=("customer.lookup", ALERT)).exists()
