"""The privacy pages: the card section, the queue, the request's life, retention,
assessments, the public link and request pages; permissions."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from kehu.core.actor import Actor
from kehu.privacy import services
from kehu.privacy.models import Assessment, ConsentRecord, PrivacyRequest
from tests.factories import create_customer

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def compliance(make_user):
    return make_user("compliance_auditor")


def test_card_section_records_consent_and_shows_history(admin_user):
    customer = create_customer(name="卡片客户")
    client = client_for(admin_user)
    page = client.get(f"/privacy/customers/{customer.pk}/")
    assert page.status_code == 200 and "consent-current" in page.content.decode()
    done = client.post(f"/privacy/customers/{customer.pk}/consent/", {
        "purpose": "marketing", "channel": "sms", "status": "granted", "source": "verbal",
        "notice_text": "电话中口头同意", "notice_version": "v2"}, HTTP_HX_REQUEST="true")
    assert done.status_code == 200
    assert ConsentRecord.objects.filter(customer=customer, status="granted").count() == 1
    assert 'data-testid="consent-marketing-sms"' in done.content.decode()


def test_a_read_only_user_sees_but_cannot_record(make_user):
    customer = create_customer(name="只读客户")
    viewer = make_user("read_only")
    client = client_for(viewer)
    assert client.get(f"/privacy/customers/{customer.pk}/").status_code == 200
    refused = client.post(f"/privacy/customers/{customer.pk}/consent/", {
        "purpose": "marketing", "channel": "sms", "status": "granted", "source": "verbal"})
    assert refused.status_code == 403
    assert not ConsentRecord.objects.exists()
    assert client.get("/privacy/").status_code == 403
    assert client.get(f"/privacy/customers/{customer.pk}/archive/").status_code == 403


def test_request_life_on_the_pages(compliance):
    customer = create_customer(name="请求客户")
    client = client_for(compliance)
    opened = client.post(f"/privacy/customers/{customer.pk}/request/", {"kind": "access",
                                                                       "details": "要一份副本"})
    row = PrivacyRequest.objects.get()
    assert opened.status_code == 302 and opened["Location"].endswith(f"/privacy/requests/{row.pk}/")
    queue = client.get("/privacy/").content.decode()
    assert f'data-testid="clock-{row.pk}"' in queue
    refused_early = client.post(f"/privacy/requests/{row.pk}/", {"action": "complete",
                                                                 "outcome": "sent"})
    assert refused_early.status_code == 200
    row.refresh_from_db()
    assert row.status == "open"
    client.post(f"/privacy/requests/{row.pk}/", {"action": "verify",
                                                 "verification": "核对身份证原件"})
    archive = client.get(f"/privacy/customers/{customer.pk}/archive/")
    assert archive.status_code == 200 and archive["Content-Type"] == "application/zip"
    client.post(f"/privacy/requests/{row.pk}/", {"action": "complete", "outcome": "已发送副本"})
    row.refresh_from_db()
    assert row.status == "completed" and row.outcome == "已发送副本"


def test_retention_and_assessment_pages(compliance):
    client = client_for(compliance)
    page = client.get("/privacy/retention/")
    assert page.status_code == 200
    dry = client.post("/privacy/retention/", {"run": "dry"})
    assert 'data-testid="retention-result"' in dry.content.decode()
    client.post("/privacy/retention/", {"data_class": "exports", "days": "3", "is_active": "on"})
    from kehu.privacy.models import RetentionPolicy

    assert RetentionPolicy.objects.get(data_class="exports").days == 3
    client.post("/privacy/assessments/", {"key": "marketing-sms", "kind": "assessment",
                                          "title": "短信营销影响评估", "risk": "medium",
                                          "body": "目的、方式、风险与措施"})
    client.post("/privacy/assessments/", {"key": "marketing-sms", "kind": "assessment",
                                          "title": "短信营销影响评估", "risk": "low",
                                          "body": "第二版"})
    assert list(Assessment.objects.order_by("version").values_list("version", "risk")) == [
        (1, "medium"), (2, "low")]


def test_public_link_and_request_pages(admin_user):
    customer = create_customer(name="链接客户")
    _link, token = services.consent_link_create(
        actor=Actor(user=admin_user), customer_id=customer.pk, purpose="marketing",
        channel="email", action="confirm", notice_text="每月一封优惠邮件")
    public = Client()
    shown = public.get(f"/privacy/link/{token}/")
    assert shown.status_code == 200 and "每月一封优惠邮件" in shown.content.decode()
    assert not ConsentRecord.objects.exists()  # a GET never changes anything
    assert public.post(f"/privacy/link/{token}/").status_code == 200
    assert public.post(f"/privacy/link/{token}/").status_code == 410
    assert ConsentRecord.objects.get().source == "double_opt_in"
    sent = public.post("/privacy/request/", {"kind": "deletion", "requester_name": "某人",
                                             "requester_contact": "13800000000"})
    assert sent.status_code == 200 and PrivacyRequest.objects.get().intake == "form"
    assert re.search(r"#\d+", sent.content.decode())


def test_who_viewed_and_the_unusual_access_report(admin_user, make_user, compliance):
    import datetime as dt

    from django.utils import timezone

    from kehu.customers.services import customer_reveal_id_number
    from kehu.privacy.selectors import unusual_access

    snoop = make_user("admin", username="snoop")
    people = [create_customer(name=f"证件{n}", id_number=f"11010519900101{n:03d}"
                              + "10X98765432"[sum(int(d) * w for d, w in zip(
                                  f"11010519900101{n:03d}", [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7,
                                                              9, 10, 5, 8, 4, 2],
                                  strict=True)) % 11]) for n in range(3)]
    for person in people:
        customer_reveal_id_number(actor=Actor(user=snoop), customer=person)
    section = client_for(compliance).get(f"/privacy/customers/{people[0].pk}/").content.decode()
    assert 'data-testid="who-viewed"' in section and "snoop" in section
    since = timezone.now() - dt.timedelta(days=1)
    report = unusual_access(user=compliance, since=since, threshold=3)
    assert [(r.actor_label, r.reveals, r.customers) for r in report] == [("snoop", 3, 3)]
    assert unusual_access(user=compliance, since=since, threshold=4) == []
    page = client_for(compliance).get("/privacy/access/")
    assert page.status_code == 200


def test_the_public_request_form_is_rate_limited_per_address_and_per_contact(settings):
    """5 an hour (KEHU_PRIVACY_FORM_LIMIT): the sixth from one address, or the sixth for one
    contact from anywhere, is refused with 429 and a message saying when to try again; other
    addresses and contacts are not affected."""
    settings.KEHU_PRIVACY_FORM_LIMIT = 5

    def send(contact, ip):
        return Client(REMOTE_ADDR=ip).post("/privacy/request/", {
            "kind": "access", "requester_name": "某人", "requester_contact": contact})

    for i in range(5):
        assert send(f"1380000000{i}", "203.0.113.7").status_code == 200
    refused = send("13800000009", "203.0.113.7")
    assert refused.status_code == 429
    assert "Too many requests" in refused.content.decode() or "请求过多" in \
        refused.content.decode()
    assert send("13800000009", "198.51.100.1").status_code == 200  # another address
    # One contact from many addresses (spelled differently): the sixth is refused.
    for i in range(4):
        assert send("139-0000-0000" if i % 2 else "+86 13900000000",
                    f"192.0.2.{i + 1}").status_code == 200
    assert send("13900000000", "192.0.2.50").status_code == 200
    assert send("13900000000", "192.0.2.51").status_code == 429
    assert PrivacyRequest.objects.filter(intake="form").count() == 11
