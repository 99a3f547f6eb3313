"""Permission matrix for the accounts endpoints: role x endpoint, exact status, nothing changed on denial."""

import json

import pytest

from kehu.accounts.models import Team, User
from kehu.core.models import AuditEntry
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db

ROLES = ["admin", "sales_manager", "sales_rep", "marketer", "service_agent", "data_steward",
         "compliance_auditor", "read_only"]
MANAGE_USERS = {"admin"}


@pytest.mark.parametrize("role", ROLES)
def test_me_describes_the_caller(role, make_user, api_client_for):
    user = make_user(role)
    response = api_client_for(user).get("/api/v1/me")
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == user.username and body["role"] == role
    assert body["record_scope"] == user.role.record_scope


@pytest.mark.parametrize("role", ROLES)
def test_create_user_matrix(role, make_user, api_client_for):
    caller = make_user(role)
    api = api_client_for(caller)
    users_before, audit_before = User.objects.count(), AuditEntry.objects.count()
    response = api.post(
        "/api/v1/users", data=json.dumps({"username": "newbie", "password": "Kehu-Str0ng-pass",
                                          "role": "sales_rep"}),
        content_type="application/json")
    if role in MANAGE_USERS:
        assert response.status_code == 201
        assert response.json()["role"] == "sales_rep"
        assert User.objects.count() == users_before + 1
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert User.objects.count() == users_before
        assert AuditEntry.objects.count() == audit_before


@pytest.mark.parametrize("role", ROLES)
def test_create_team_matrix(role, make_user, api_client_for):
    caller = make_user(role)
    client = api_client_for(caller)
    before = db_snapshot()
    response = client.post(
        "/api/v1/teams", data=json.dumps({"name": "新团队"}), content_type="application/json")
    assert response.status_code == (201 if role == "admin" else 403)
    assert Team.objects.filter(name="新团队").exists() is (role == "admin")
    if role != "admin":
        assert db_snapshot() == before


def test_read_scope_key_cannot_write(make_user, api_client_for):
    admin = make_user("admin")
    client = api_client_for(admin, scopes=("read",))
    before = db_snapshot()
    response = client.post(
        "/api/v1/teams", data=json.dumps({"name": "x"}), content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert db_snapshot() == before


def test_write_only_key_cannot_read(make_user, api_client_for):
    admin = make_user("admin")
    client = api_client_for(admin, scopes=("write",))
    before = db_snapshot()
    response = client.get("/api/v1/me")
    assert response.status_code == 403
    assert db_snapshot() == before


def test_missing_or_bad_key_is_401_with_stable_code(client):
    before = db_snapshot()
    assert client.get("/api/v1/me").json()["code"] == "unauthenticated"
    response = client.get("/api/v1/me", HTTP_AUTHORIZATION="Bearer kehu_nope_nope")
    assert response.status_code == 401
    assert db_snapshot() == before


def test_error_message_follows_the_callers_language(client):
    zh = client.get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="zh-hans").json()["message"]
    en = client.get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    assert en.startswith("Sign in")
    assert zh != en and "登录" in zh


def test_session_auth_requires_csrf_on_writes(make_user):
    from django.test import Client

    admin = make_user("admin")
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)
    assert browser.get("/api/v1/me").status_code == 200
    before = db_snapshot()
    response = browser.post("/api/v1/teams", data=json.dumps({"name": "csrf"}),
                            content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    assert db_snapshot() == before


def test_invalid_payload_is_422_naming_the_field(make_user, api_client_for):
    admin = make_user("admin")
    response = api_client_for(admin).post("/api/v1/users", data=json.dumps({"username": "x"}),
                                          content_type="application/json")
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_request" and "password" in body["details"]


def test_weak_password_is_422_validation_error(make_user, api_client_for):
    admin = make_user("admin")
    response = api_client_for(admin).post(
        "/api/v1/users", data=json.dumps({"username": "weakling", "password": "1234"}),
        content_type="application/json")
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert "password" in response.json()["details"]


def test_openapi_and_docs_are_served(client):
    schema = client.get("/api/v1/openapi.json").json()
    assert schema["info"]["title"] == "kehu API"
    assert "/api/v1/me" in schema["paths"]
    assert client.get("/api/v1/docs").status_code == 200


def test_users_list_is_paginated(make_user, api_client_for):
    caller = make_user("read_only")
    for _ in range(3):
        make_user("sales_rep")
    body = api_client_for(caller).get("/api/v1/users?limit=2").json()
    assert body["count"] == 4 and len(body["items"]) == 2


def test_api_throttles_a_runaway_key_with_a_stable_code(make_user, api_client_for, settings):
    from kehu.api.api import api

    throttle = api.throttle[0]
    original = throttle.rate, throttle.num_requests, throttle.duration
    throttle.rate = "3/m"
    throttle.num_requests, throttle.duration = throttle.parse_rate("3/m")
    try:
        from django.core.cache import cache

        cache.clear()
        client = api_client_for(make_user("admin"))
        codes = [client.get("/api/v1/me").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
        assert client.get("/api/v1/me").json()["code"] == "throttled"
    finally:
        throttle.rate, throttle.num_requests, throttle.duration = original
        cache.clear()
