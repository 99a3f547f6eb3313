"""Every answer under /api/v1/ is JSON {"code", "message", "details"} with the right status:
unknown paths, wrong methods, bodies over the upload limit, requests without a session or a
valid key, and Django's own error pages."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import translation

from kehu.accounts.models import ApiKey, Team
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


def _shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code and body["message"]
    return body


@pytest.mark.parametrize("method", ["get", "post", "delete"])
@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/customers/12/nope", "/api/v1/"])
def test_unknown_paths_are_a_json_404(method, path, admin_user, api_client_for):
    response = getattr(api_client_for(admin_user), method)(path)
    _shape(response, 404, "not_found")


def test_the_404_message_is_in_the_callers_language(admin_user, api_client_for):
    client = api_client_for(admin_user)
    english = client.get("/api/v1/nope", HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    chinese = client.get("/api/v1/nope", HTTP_ACCEPT_LANGUAGE="zh-hans").json()["message"]
    with translation.override("en"):
        assert english == "Not found."
    assert chinese != english


def test_a_wrong_method_is_a_json_405(admin_user, api_client_for):
    response = api_client_for(admin_user).delete("/api/v1/me")
    _shape(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


def test_a_body_over_the_limit_is_a_json_413_and_nothing_is_stored(admin_user, api_client_for,
                                                                    settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    body = json.dumps({"name": "大" * 3_000})
    response = api_client_for(admin_user).post("/api/v1/teams", data=body,
                                               content_type="application/json")
    details = _shape(response, 413, "too_large")["details"]
    assert details == {"limit_bytes": 2_000}
    assert not Team.objects.filter(name__startswith="大").exists()


def test_the_default_limit_answers_413_not_an_html_400(admin_user, api_client_for, settings):
    body = json.dumps({"events": [{"event_type": "x" * 1_000}] * 2_700})
    assert len(body) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = api_client_for(admin_user).post("/api/v1/events/batch", data=body,
                                               content_type="application/json")
    _shape(response, 413, "too_large")


def test_too_many_query_fields_is_a_json_400(admin_user, api_client_for, settings):
    query = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = api_client_for(admin_user).get(f"/api/v1/customers?{query}")
    _shape(response, 400, "bad_request")


@pytest.mark.parametrize("authorization", [None, "Bearer kh_nonsense", "Bearer ", "Basic eDp5"])
def test_writes_without_a_session_or_a_valid_key_are_401_not_a_csrf_failure(authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    client = Client(enforce_csrf_checks=True, **headers)
    response = client.post("/api/v1/teams", data=json.dumps({"name": "anon"}),
                           content_type="application/json")
    _shape(response, 401, "unauthenticated")
    assert client.get("/api/v1/me").status_code == 401
    assert not Team.objects.exists()


def test_a_revoked_key_writes_nothing_and_gets_401(admin_user):
    from kehu.accounts.services import apikey_revoke
    from kehu.core.actor import Actor

    key, token = ApiKeyFactory.issue(user=admin_user)
    apikey_revoke(actor=Actor.system(via="system"), key=key)
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None
    client = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.post("/api/v1/teams", data=json.dumps({"name": "revoked"}),
                           content_type="application/json")
    _shape(response, 401, "unauthenticated")
    assert not Team.objects.exists()


def test_a_signed_in_session_still_needs_the_csrf_token(admin_user):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin_user)
    response = browser.post("/api/v1/teams", data=json.dumps({"name": "csrf"}),
                            content_type="application/json")
    _shape(response, 403, "csrf_failed")
    assert not Team.objects.exists()


def test_pages_outside_the_api_keep_their_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
