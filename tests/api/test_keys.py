"""API keys follow their user: a deactivated user's keys and a locked-out user's keys (from the
address the sign-in lockout holds for) are refused with 401 and a code saying why; a `read`
key may call the POST operations that only read (segment preview) and no other."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from kehu.accounts.models import Team
from kehu.api.auth import READ_ONLY_POSTS
from kehu.core.actor import Actor
from kehu.segments.models import Segment
from tests.factories import ApiKeyFactory, CustomerFactory

pytestmark = pytest.mark.django_db

EAST = {"type": "group", "match": "all",
        "conditions": [{"type": "field", "field": "region", "op": "eq", "value": "华东"}]}


def _key_client(user, scopes=("read", "write"), address="127.0.0.1"):
    _key, token = ApiKeyFactory.issue(user=user, scopes=scopes)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=address)


def test_a_deactivated_users_key_is_refused_with_account_inactive(make_user):
    user = make_user("admin")
    client = _key_client(user)
    assert client.get("/api/v1/me").status_code == 200
    user.is_active = False
    user.save(update_fields=["is_active"])
    for response in (client.get("/api/v1/me"),
                     client.post("/api/v1/teams", data=json.dumps({"name": "x"}),
                                 content_type="application/json")):
        assert response.status_code == 401
        assert response.json()["code"] == "account_inactive"
    assert not Team.objects.exists()


def _fail_sign_ins(user, settings, address="127.0.0.1"):
    browser = Client(REMOTE_ADDR=address)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        browser.post(reverse("web:login"), {"username": user.username, "password": "wrong"})


def test_a_locked_out_users_key_is_refused_until_an_admin_unlocks(make_user, settings):
    from kehu.accounts.services import user_unlock

    user = make_user("admin")
    client = _key_client(user)
    assert client.get("/api/v1/me").status_code == 200
    _fail_sign_ins(user, settings)
    for response in (client.get("/api/v1/me"),
                     client.post("/api/v1/teams", data=json.dumps({"name": "x"}),
                                 content_type="application/json")):
        assert response.status_code == 401
        assert response.json()["code"] == "account_locked"
    assert not Team.objects.exists()
    user_unlock(actor=Actor.system(via="system"), user=user)
    assert client.get("/api/v1/me").status_code == 200


def test_the_lockout_holds_where_the_sign_in_lockout_does(make_user, settings):
    """Lockouts are per username and address (AXES_LOCKOUT_PARAMETERS): failing sign-ins from
    one address must not switch off an integration's key used from another."""
    user = make_user("admin")
    _fail_sign_ins(user, settings, address="203.0.113.9")
    assert _key_client(user, address="203.0.113.9").get("/api/v1/me").status_code == 401
    assert _key_client(user, address="198.51.100.7").get("/api/v1/me").status_code == 200


def test_a_read_key_may_preview_a_segment(make_user):
    marketer = make_user("marketer")
    CustomerFactory(region="华东")
    reader = _key_client(marketer, scopes=("read",))
    response = reader.post("/api/v1/segments/preview", data=json.dumps({"definition": EAST}),
                           content_type="application/json")
    assert response.status_code == 200 and response.json()["count"] == 1


def test_a_read_key_may_not_save_a_segment(make_user):
    reader = _key_client(make_user("marketer"), scopes=("read",))
    response = reader.post("/api/v1/segments", data=json.dumps({"name": "东",
                                                                "definition": EAST}),
                           content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert response.json()["details"] == {"scope": "write"}
    assert not Segment.objects.exists()


def test_the_read_only_posts_are_real_post_operations():
    from kehu.api.api import api

    paths = api.get_openapi_schema()["paths"]
    for route in READ_ONLY_POSTS:
        # READ_ONLY_POSTS holds Django routes (`<rule_id>`); OpenAPI spells them `{rule_id}`.
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)
        assert "post" in paths[f"/api/v1/{path}"], route
