"""API key scopes per resource: every API operation refuses a key scoped to another resource
(403 insufficient_scope) and lets its own resource's scope through; broad keys work as
before; per-key rate limits with RateLimit-* headers and Retry-After; usage per key per day
on the API keys page."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from kehu.accounts import scopes
from kehu.accounts.models import ApiKey
from kehu.accounts.selectors import apikey_usage
from kehu.accounts.services import apikey_create
from kehu.core.actor import Actor

pytestmark = pytest.mark.django_db


def _operations():
    """(method, path relative to /api/v1/) of every operation that needs authentication."""
    from kehu.api.api import api

    api.urls  # noqa: B018 - binds the routers
    found = []
    for _prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                if operation.auth_param is None:  # public (a survey's token page)
                    continue
                concrete = re.sub(r"\{(\w+)\}", lambda m: "2026-01-05" if m.group(1) == "day"
                                  else "1", path.lstrip("/"))
                found += [(method, concrete) for method in operation.methods]
    return found


def _client(user, scope_list, **extra):
    _key, token = apikey_create(actor=Actor(user=user), user=user, scopes=scope_list, **extra)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}")


def _call(client, method, path):
    return client.generic(method, f"/api/v1/{path}", data="{}",
                          content_type="application/json")


def test_every_api_path_belongs_to_a_resource():
    unclaimed = sorted({path for _m, path in _operations()
                        if path.split("/", 1)[0] not in scopes.OPEN_PATHS
                        and scopes.resource_of(path) is None})
    assert not unclaimed, f"add these to kehu.accounts.scopes.RESOURCES: {unclaimed}"


def test_a_key_without_the_resource_scope_gets_403_on_every_operation(make_user, settings):
    settings.KEHU_API_KEY_RATE_LIMIT = 10**6
    admin = make_user("admin", username="scoped", is_superuser=True)
    clients = {}
    operations = _operations()
    assert len(operations) > 150
    for method, path in operations:
        resource = scopes.resource_of(path)
        if resource is None:
            continue
        other = "sales" if resource.code == "customers" else "customers"
        key = f"other:{other}"
        if key not in clients:
            clients[key] = _client(admin, [f"{other}:write"])
        response = _call(clients[key], method, path)
        assert response.status_code == 403, (method, path, response.status_code)
        body = response.json()
        assert body["code"] == "insufficient_scope", (method, path, body)
        assert body["details"]["scope"].startswith(resource.code + ":"), (method, path, body)


def test_the_resource_scope_lets_its_operations_through(make_user, settings):
    settings.KEHU_API_KEY_RATE_LIMIT = 10**6
    admin = make_user("admin", username="owner", is_superuser=True)
    clients = {}
    for method, path in _operations():
        resource = scopes.resource_of(path)
        if resource is None:
            continue
        if method in ("GET", "HEAD"):
            scope = f"{resource.code}:{resource.actions[0]}"  # read (manage for webhooks)
        elif path.split("/")[0] in ("track", "identify", "page", "screen", "alias", "group",
                                    "batch"):
            scope = f"{resource.code}:ingest"
        else:
            scope = f"{resource.code}:{resource.actions[-1] if len(resource.actions) == 1 else 'write'}"
        if scope not in clients:
            clients[scope] = _client(admin, [scope])
        response = _call(clients[scope], method, path)
        assert not (response.status_code == 403
                    and response.json().get("code") == "insufficient_scope"), (method, path,
                                                                              scope)


def test_scope_rules():
    allows = scopes.allows
    assert allows(["customers:read"], "customers/1", "read")
    assert not allows(["customers:read"], "customers/1", "write")
    assert allows(["customers:write"], "customers/1", "read")  # write reads too
    assert not allows(["customers:write"], "orders", "read")
    assert allows(["webhooks:manage"], "webhooks/1", "write")
    assert allows(["events:ingest"], "batch", "ingest")
    assert not allows(["events:ingest"], "customers", "read")
    assert not allows(["events:ingest"], "me", "read")
    # Broad scopes, as before: read everything, write (and ingest) everything.
    assert allows(["read"], "orders", "read") and not allows(["read"], "orders", "write")
    assert allows(["write"], "batch", "ingest") and not allows(["write"], "me", "read")
    assert allows(["customers:read"], "me", "read")
    assert not allows(["customers:read"], "nowhere", "read")


def test_unknown_scopes_are_refused_and_labels_are_translated(make_user):
    from django.utils import translation

    from kehu.core.errors import ValidationFailed

    admin = make_user("admin", username="labels")
    with pytest.raises(ValidationFailed) as refused:
        apikey_create(actor=Actor(user=admin), user=admin, scopes=["customers:delete"])
    assert "scopes" in refused.value.details
    with pytest.raises(ValidationFailed) as bad_limit:
        apikey_create(actor=Actor(user=admin), user=admin, scopes=["read"], rate_limit=0)
    assert "rate_limit" in bad_limit.value.details
    with translation.override("zh-hans"):
        labels = dict(scopes.resource_scopes())
        assert labels["customers:read"] == "客户：读取"
        assert labels["webhooks:manage"] == "Webhook：管理"


def test_per_key_rate_limit_headers_and_429(make_user):
    from django.core.cache import cache

    cache.clear()
    admin = make_user("admin", username="limited")
    client = _client(admin, ["customers:read"], rate_limit=2)
    first, second, third = (client.get("/api/v1/customers") for _n in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert (first["RateLimit-Limit"], first["RateLimit-Remaining"]) == ("2", "1")
    assert second["RateLimit-Remaining"] == "0"
    assert third["RateLimit-Remaining"] == "0"
    assert third.json()["code"] == "rate_limited"
    assert 1 <= int(third["Retry-After"]) <= 60
    assert third["Retry-After"] == third["RateLimit-Reset"]


def test_usage_per_key_is_counted_and_shown(make_user, client):
    from django.core.cache import cache

    cache.clear()
    admin = make_user("admin", username="counted", is_superuser=True)
    busy = _client(admin, ["customers:read"])
    for _n in range(3):
        assert busy.get("/api/v1/customers").status_code == 200
    idle = _client(admin, ["sales:read"])
    assert idle.get("/api/v1/customers").status_code == 403  # refused: not counted
    keys = apikey_usage(keys=list(ApiKey.objects.order_by("pk")))
    assert [(k.requests_today, k.requests_week) for k in keys] == [(3, 3), (0, 0)]
    assert keys[0].last_used_at is not None and keys[1].last_used_at is not None
    client.force_login(admin)
    page = client.get("/admin/api-keys/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = page.content.decode()
    assert re.findall(r'data-testid="requests-today">(\d+)<', text) == ["0", "3"]
    assert "<td>客户：读取</td>" in text  # the label, not the code


def test_the_page_creates_a_key_with_resource_scopes(make_user, client):
    admin = make_user("admin", username="creator", is_superuser=True)
    client.force_login(admin)
    response = client.post("/admin/api-keys/", {
        "name": "小程序", "resource_scopes": ["events:ingest", "customers:read"],
        "rate_limit": "120"})
    assert response.status_code == 200
    key = ApiKey.objects.get(name="小程序")
    assert (key.scopes, key.rate_limit) == (["customers:read", "events:ingest"], 120)
    refused = client.post("/admin/api-keys/", {"name": "空"})
    assert refused.status_code == 200 and not ApiKey.objects.filter(name="空").exists()
