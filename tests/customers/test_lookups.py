"""Sensitive lookups (issue 19): a lookup needs the field in clear; a lookup by ID number also
counts against an hourly allowance per user, is audited with its result count (never the
value), and passing the threshold raises one alert."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.core.models import AuditEntry
from tests.factories import create_customer
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db

LOOKUP = "/api/v1/customers/lookup"
ID_NUMBER = "11010519491231002X"
OTHER_ID = "110105194912310038"  # checksum-valid, nobody's
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
               client.get(LOOKUP, {"id_number": OTHER_ID}).status_code,
               client.get("/api/v1/customers", {"q": ID_NUMBER}).status_code]
    assert answers == [200, 404, 200]
    assert _alerts() == []
    refused = client.get(LOOKUP, {"id_number": ID_NUMBER})
    assert refused.status_code == 429
    assert (refused.json()["code"], refused.json()["details"]) == (
        "rate_limited", {"limit": 3, "window_minutes": 60})
    assert _alerts() == [str(auditor.pk)]
    before = db_snapshot()
    # The search box is the same lookup: refused too, and a flood adds no entries.
    assert client.get("/api/v1/customers", {"q": ID_NUMBER}).status_code == 429
    assert client.get(LOOKUP, {"id_number": OTHER_ID}).status_code == 429
    assert db_snapshot() == before
    # Phones are not counted: the caller lookup keeps answering.
    assert client.get(LOOKUP, {"phone": "13812345678"}).json()["id"] == victim.pk
    lookups = AuditEntry.objects.filter(action="customer.lookup").order_by("seq")
    assert [(e.actor_user_id, e.object_type, e.changes) for e in lookups] == [
        (auditor.pk, "customer", {"by": "id_number", "results": 1}),
        (auditor.pk, "customer", {"by": "id_number", "results": 0}),
        (auditor.pk, "customer", {"by": "id_number", "results": 1})]
    alert = AuditEntry.objects.get(action=ALERT)
    assert (alert.object_type, alert.object_repr, alert.changes) == (
        "user", auditor.get_username(),
        {"lookups": 4, "limit": 3, "alert_at": 3, "window_minutes": 60})
    texts = [str(e.changes) + e.object_repr + e.object_id for e in AuditEntry.objects.filter(
        action__in=("customer.lookup", ALERT))]
    assert not any(ID_NUMBER[6:14] in t or OTHER_ID[6:14] in t for t in texts)
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
    admin = make_user("admin")
    create_customer(name="秦桂荣", id_number=ID_NUMBER)
    client = api_client_for(admin)
    answers = [client.get(LOOKUP, {"id_number": ID_NUMBER}).status_code for _ in range(4)]
    assert answers == [200] * 4
    assert _alerts() == [str(admin.pk)]  # once per hour, not once per lookup
    assert AuditEntry.objects.get(action=ALERT).changes["lookups"] == 3


def test_admins_find_alerts_under_security_alerts_on_the_audit_page(
        limits, make_user, api_client_for, client):
    auditor = make_user("compliance_auditor")
    api = api_client_for(auditor)
    for _ in range(4):
        api.get(LOOKUP, {"id_number": OTHER_ID})
    assert _alerts() == [str(auditor.pk)]
    client.force_login(make_user("admin"))
    page = client.get(reverse("core:audit")).content.decode()
    assert 'data-testid="security-alerts"' in page
    alerts = client.get(reverse("core:audit"), {"action": "security."})
    assert [(e.action, e.object_id) for e in alerts.context["entries"]] == [
        (ALERT, str(auditor.pk))]


def test_phone_lookups_need_the_mobile_in_clear_and_are_not_counted(
        limits, make_user, client):
    agent, reader = make_user("service_agent"), make_user("read_only")
    customer = create_customer(name="王先生", mobile="13812345678")
    client.force_login(agent)
    url = reverse("customers:lookup")
    for _ in range(5):  # past the ID-number allowance: phones are the call centre's key
        response = client.get(url, {"phone": "138 1234 5678"})
        assert response.status_code == 302 and response.url.endswith(f"/{customer.pk}/")
    assert not AuditEntry.objects.filter(action__in=("customer.lookup", ALERT)).exists()
    client.force_login(reader)  # the read-only role sees mobiles masked
    before = db_snapshot()
    refused = client.get(url, {"phone": "13812345678"}, follow=True)
    assert refused.redirect_chain == [(reverse("customers:list"), 302)]
    assert len(list(refused.context["messages"])) == 1
    assert db_snapshot() == before


def test_the_command_line_is_not_limited(limits, make_user):
    from kehu.core.actor import Actor
    from kehu.customers.services import customer_sensitive_lookup

    calls = [customer_sensitive_lookup(actor=Actor.system(), by="id_number", find=lambda: None)
             for _ in range(5)]
    assert calls == [None] * 5
    assert not AuditEntry.objects.filter(action__in=("customer.lookup", ALERT)).exists()
