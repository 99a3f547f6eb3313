"""/api/v1/notifications: my notifications only, paginated, unread filter, read marks."""

from __future__ import annotations

import json

import pytest

from kehu.notifications.models import Notification
from kehu.notifications.services import notification_send
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


def _post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def world(make_user, system):
    alice = make_user("sales_rep", username="alice")
    bob = make_user("read_only", username="bob")
    mine = [notification_send(actor=system, recipients=[alice], kind="rule", title=f"提醒{i}",
                              link="/customers/1/", customer_id=1)[0] for i in range(3)]
    [theirs] = notification_send(actor=system, recipients=[bob], kind="rule", title="bob's")
    return alice, bob, mine, theirs


def test_list_is_mine_newest_first_and_paginated(world, api_client_for):
    alice, _bob, mine, _theirs = world
    client = api_client_for(alice, scopes=("read",))
    response = client.get("/api/v1/notifications", {"limit": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert [item["id"] for item in body["items"]] == [mine[2].pk, mine[1].pk]
    first = body["items"][0]
    assert first["title"] == "提醒2" and first["read"] is False and first["read_at"] is None
    assert first["link"] == "/customers/1/" and first["customer_id"] == 1
    response = client.get("/api/v1/notifications", {"limit": 2, "offset": 2})
    assert [item["id"] for item in response.json()["items"]] == [mine[0].pk]


def test_unread_filter_count_and_mark_read(world, api_client_for):
    alice, _bob, mine, _theirs = world
    client = api_client_for(alice)
    assert client.get("/api/v1/notifications/unread-count").json() == {"unread_count": 3}
    response = _post(client, "/api/v1/notifications/read", {"ids": [mine[0].pk]})
    assert response.status_code == 200
    assert response.json() == {"marked": 1, "unread_count": 2}
    unread = client.get("/api/v1/notifications", {"unread": "true"}).json()
    assert {item["id"] for item in unread["items"]} == {mine[1].pk, mine[2].pk}
    assert _post(client, "/api/v1/notifications/read", {"all": True}).json() == {
        "marked": 2, "unread_count": 0}
    listed = client.get("/api/v1/notifications").json()["items"]
    assert all(item["read"] for item in listed)


def test_another_users_notifications_are_invisible_and_untouchable(world, api_client_for):
    alice, bob, mine, theirs = world
    client = api_client_for(bob)
    items = client.get("/api/v1/notifications").json()["items"]
    assert [item["id"] for item in items] == [theirs.pk]
    before = db_snapshot()
    response = _post(client, "/api/v1/notifications/read", {"ids": [mine[0].pk]})
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = _post(client, "/api/v1/notifications/read", {"ids": [theirs.pk, mine[0].pk]})
    assert response.status_code == 404
    assert db_snapshot() == before
    assert not Notification.objects.filter(read_at__isnull=False).exists()


@pytest.mark.parametrize("body,field", [
    ({}, "ids"), ({"ids": [], "all": False}, "ids"), ({"ids": [1], "all": True}, "ids"),
    ({"ids": ["x"]}, None), ({"all": 1}, None), ({"bogus": 1}, None),
])
def test_bad_bodies_are_422(world, api_client_for, body, field):
    alice, *_rest = world
    response = _post(api_client_for(alice), "/api/v1/notifications/read", body)
    assert response.status_code == 422
    # Refused by the schema (invalid_request) or by the rule (validation_error), field named.
    assert response.json()["code"] == ("validation_error" if field else "invalid_request")
    if field:
        assert field in response.json()["details"]


def test_read_scope_key_cannot_mark_and_anonymous_is_401(world, api_client_for, client):
    alice, *_rest = world
    response = _post(api_client_for(alice, scopes=("read",)), "/api/v1/notifications/read",
                     {"all": True})
    assert response.status_code == 403
    assert not Notification.objects.filter(read_at__isnull=False).exists()
    assert client.get("/api/v1/notifications").status_code == 401
    assert client.get("/api/v1/notifications/unread-count").status_code == 401
