"""Outbound webhooks against a real local HTTP receiver: signed per Standard Webhooks (checked
with the `standardwebhooks` verifier), one delivery per (endpoint, event), retried on the
schedule, 410 disables, SSRF refused, secrets rotated without losing a call, and only those
who manage webhooks can see or change them."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from kehu.core.actor import Actor
from kehu.core.errors import ValidationFailed
from kehu.core.events import dispatch
from kehu.core.models import AuditEntry
from kehu.integration import services
from kehu.integration.models import WebhookDelivery, WebhookEndpoint
from tests.factories import create_customer

pytestmark = pytest.mark.django_db


class Receiver:
    """A local HTTP server recording every call; answers with the next queued status."""

    def __init__(self):
        self.calls: list[dict] = []
        self.answers: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.calls.append({"body": body, "headers": dict(self.headers),
                                       "path": self.path})
                status = receiver.answers.pop(0) if receiver.answers else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"nope")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/kehu?x=1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def admin_actor(admin_user):
    return Actor(user=admin_user, via="web")


def _endpoint(actor, receiver, patterns=("customer.*",)):
    return services.webhook_create(actor=actor, url=receiver.url, event_types=list(patterns),
                                   description="ERP", allow_private_network=True)


def _deliver():
    dispatch()
    return services.webhooks_send_due()


def test_a_customer_event_arrives_signed_and_verifiable(admin_actor, receiver):
    endpoint, secret = _endpoint(admin_actor, receiver)
    customer = create_customer(name="王小明", mobile="13812345678",
                               id_number="11010519491231002X")
    assert _deliver() == 1
    (call,) = receiver.calls
    payload = Webhook(secret).verify(call["body"], call["headers"])
    assert payload["type"] == "customer.created"
    assert payload["data"]["customer_id"] == customer.pk
    assert call["path"] == "/hooks/kehu?x=1"
    assert call["headers"]["webhook-id"] == f"msg_{payload['data']['event_id']}"
    # Sensitive values are references in events, so they never leave in a webhook either.
    assert b"11010519491231002X" not in call["body"] and b"13812345678" not in call["body"]
    with pytest.raises(WebhookVerificationError):
        Webhook(services.new_secret()).verify(call["body"], call["headers"])
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        WebhookDelivery.SUCCEEDED, 1, 200)


def test_only_subscribed_types_are_sent_and_each_event_once(admin_actor, receiver):
    _endpoint(admin_actor, receiver, patterns=("tag.added",))
    customer = create_customer(name="李雷")
    assert _deliver() == 0 and receiver.calls == []  # customer.created is not wanted
    from kehu.customers.services import tag_add

    tag_add(actor=admin_actor, customer=customer, name="VIP")
    dispatch()
    dispatch()  # a second dispatch of the same events adds nothing
    assert WebhookDelivery.objects.count() == 1
    assert services.webhooks_send_due() == 1 and services.webhooks_send_due() == 0
    assert [json.loads(c["body"])["type"] for c in receiver.calls] == ["tag.added"]


def test_failures_are_retried_on_the_schedule_then_delivered(admin_actor, receiver):
    _endpoint(admin_actor, receiver)
    receiver.answers = [500, 503]
    create_customer(name="韩梅梅")
    dispatch()
    now = timezone.now()
    assert services.webhooks_send_due(now=now) == 1
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        WebhookDelivery.FAILED, 1, 500)
    wait = (delivery.next_attempt_at - now).total_seconds()
    assert 4.5 <= wait <= 5.5  # the first delay, 5 s with jitter
    assert services.webhooks_send_due(now=now + dt.timedelta(seconds=2)) == 0  # not due yet
    assert services.webhooks_send_due(now=now + dt.timedelta(seconds=6)) == 1
    delivery.refresh_from_db()
    wait = (delivery.next_attempt_at - now - dt.timedelta(seconds=6)).total_seconds()
    assert (delivery.attempts, 270 <= wait <= 330) == (2, True)  # then 5 minutes
    assert services.webhooks_send_due(now=now + dt.timedelta(minutes=10)) == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.SUCCEEDED, 3)
    assert len(receiver.calls) == 3
    assert len({c["headers"]["webhook-id"] for c in receiver.calls}) == 1  # same message
    assert WebhookEndpoint.objects.get().failing_since is None


def test_a_delivery_gives_up_after_the_last_retry(admin_actor, receiver):
    _endpoint(admin_actor, receiver)
    receiver.answers = [500] * 20
    create_customer(name="韩梅梅")
    dispatch()
    at = timezone.now()
    for _ in range(len(services.RETRY_DELAYS) + 1):
        assert services.webhooks_send_due(now=at) == 1
        at += dt.timedelta(days=1, hours=2)
        WebhookEndpoint.objects.update(failing_since=at)  # keep it enabled
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (WebhookDelivery.GAVE_UP,
                                                    len(services.RETRY_DELAYS) + 1)
    assert services.webhooks_send_due(now=at) == 0


def test_410_disables_the_endpoint(admin_actor, receiver):
    endpoint, _secret = _endpoint(admin_actor, receiver)
    receiver.answers = [410]
    create_customer(name="韩梅梅")
    _deliver()
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "410" in endpoint.disabled_reason
    create_customer(name="李雷")
    _deliver()
    assert len(receiver.calls) == 1  # a disabled endpoint gets nothing new
    statuses = sorted(WebhookDelivery.objects.values_list("status", flat=True))
    assert statuses == [WebhookDelivery.GAVE_UP]
    assert AuditEntry.objects.filter(action="webhook.disable").count() == 1
    from kehu.notifications.models import Notification

    (told,) = Notification.objects.filter(kind="webhook.disabled")
    assert told.recipient_id == admin_actor.user.pk and "410" in told.body


def test_an_endpoint_failing_for_days_is_disabled(admin_actor, receiver, settings):
    endpoint, _secret = _endpoint(admin_actor, receiver)
    receiver.answers = [500] * 5
    create_customer(name="韩梅梅")
    dispatch()
    services.webhooks_send_due()
    WebhookEndpoint.objects.update(failing_since=timezone.now() - dt.timedelta(
        days=settings.KEHU_WEBHOOK_DISABLE_AFTER_DAYS + 1))
    services.webhooks_send_due(now=timezone.now() + dt.timedelta(minutes=1))
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_reason


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/x", "http://localhost/x", "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.8/hook", "http://[::1]/x", "http://0.0.0.0/", "ftp://example.com/x",
    "http://user:pw@example.com/x",
])
def test_internal_and_odd_urls_are_refused(admin_actor, url):
    with pytest.raises(ValidationFailed) as refused:
        services.webhook_create(actor=admin_actor, url=url, event_types=["*"])
    assert "url" in refused.value.details
    assert WebhookEndpoint.objects.count() == 0


def test_the_guard_checks_again_when_sending(admin_actor, receiver):
    _endpoint(admin_actor, receiver)
    WebhookEndpoint.objects.update(allow_private_network=False)
    create_customer(name="韩梅梅")
    _deliver()
    delivery = WebhookDelivery.objects.get()
    assert receiver.calls == [] and delivery.status == WebhookDelivery.FAILED
    assert "internal address" in delivery.last_error or "内部地址" in delivery.last_error


def test_a_host_the_operator_allows_needs_no_flag(admin_actor, receiver, settings):
    settings.KEHU_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    services.webhook_create(actor=admin_actor, url=receiver.url, event_types=["*"])
    create_customer(name="韩梅梅")
    assert _deliver() >= 1 and receiver.calls


def test_after_a_rotation_both_secrets_verify_for_a_day(admin_actor, receiver):
    endpoint, old = _endpoint(admin_actor, receiver)
    _endpoint_again, new = services.webhook_rotate_secret(actor=admin_actor,
                                                          endpoint_id=endpoint.pk)
    assert new != old
    create_customer(name="韩梅梅")
    _deliver()
    (call,) = receiver.calls
    assert len(call["headers"]["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(call["body"], call["headers"])
    Webhook(new).verify(call["body"], call["headers"])
    WebhookEndpoint.objects.update(previous_secret_expires_at=timezone.now())
    create_customer(name="李雷")
    _deliver()
    last = receiver.calls[-1]
    Webhook(new).verify(last["body"], last["headers"])
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(last["body"], last["headers"])


def test_replay_sends_a_delivery_again(admin_actor, receiver):
    _endpoint(admin_actor, receiver)
    create_customer(name="韩梅梅")
    _deliver()
    delivery = WebhookDelivery.objects.get()
    services.webhook_delivery_replay(actor=admin_actor, delivery_id=delivery.pk)
    assert services.webhooks_send_due() == 1 and len(receiver.calls) == 2
    assert receiver.calls[0]["body"] == receiver.calls[1]["body"]


def test_event_patterns_must_name_real_event_types(admin_actor):
    with pytest.raises(ValidationFailed) as refused:
        services.webhook_create(actor=admin_actor, url="https://example.com/h",
                                event_types=["customer.*", "custmer.created"])
    assert list(refused.value.details) == ["event_types[1]"]


# API and pages -------------------------------------------------------------------------------


def test_api_create_shows_the_secret_once_and_lists_without_it(admin_user, api_client_for,
                                                               receiver):
    api = api_client_for(admin_user)
    created = api.post("/api/v1/webhooks", {"url": receiver.url, "event_types": ["customer.*"],
                                            "allow_private_network": True},
                       content_type="application/json")
    assert created.status_code == 201, created.content
    secret = created.json()["secret"]
    assert secret.startswith("whsec_")
    listed = api.get("/api/v1/webhooks").json()
    assert [e["id"] for e in listed] == [created.json()["id"]] and "secret" not in listed[0]
    create_customer(name="韩梅梅")
    _deliver()
    endpoint_id = created.json()["id"]
    log = api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries").json()
    assert [(d["event_type"], d["status"]) for d in log] == [("customer.created", "succeeded")]
    replayed = api.post(f"/api/v1/webhook-deliveries/{log[0]['id']}/replay")
    assert replayed.status_code == 200 and replayed.json()["status"] == "pending"
    patched = api.patch(f"/api/v1/webhooks/{endpoint_id}", {"is_active": False},
                        content_type="application/json")
    assert patched.json()["is_active"] is False


@pytest.mark.parametrize("role", ["sales_manager", "marketer", "data_steward", "read_only"])
def test_others_can_neither_see_nor_change_webhooks(role, admin_actor, make_user,
                                                    api_client_for, client):
    endpoint, _secret = services.webhook_create(actor=admin_actor, url="https://example.com/h",
                                                event_types=["*"])
    user = make_user(role)
    api = api_client_for(user)
    assert api.get("/api/v1/webhooks").status_code == 403
    assert api.post("/api/v1/webhooks", {"url": "https://example.org/x", "event_types": ["*"]},
                    content_type="application/json").status_code == 403
    assert api.delete(f"/api/v1/webhooks/{endpoint.pk}").status_code == 403
    assert api.post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret").status_code == 403
    client.force_login(user)
    assert client.get("/integration/webhooks/").status_code == 403
    assert client.post(f"/integration/webhooks/{endpoint.pk}/delete/").status_code == 403
    assert list(WebhookEndpoint.objects.values_list("pk", "is_active")) == [(endpoint.pk, True)]
    endpoint.refresh_from_db()
    assert endpoint.secret_encrypted == WebhookEndpoint.objects.get().secret_encrypted


def test_the_page_creates_a_webhook_and_shows_its_secret_once(admin_user, client):
    client.force_login(admin_user)
    page = client.get("/integration/webhooks/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert page.status_code == 200 and "customer.created" in page.content.decode()
    made = client.post("/integration/webhooks/", {
        "url": "https://example.com/hook", "description": "ERP",
        "event_types": "customer.*\norder.created"})
    assert made.status_code == 302
    first = client.get(made["Location"]).content.decode()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.event_types == ["customer.*", "order.created"]
    assert "whsec_" in first
    assert "whsec_" not in client.get(made["Location"]).content.decode()
    refused = client.post("/integration/webhooks/", {"url": "http://10.1.2.3/x",
                                                     "event_types": "*"})
    assert refused.status_code == 200 and WebhookEndpoint.objects.count() == 1
