"""The identity API: queue, merge a candidate, dismiss, merge any customers, undo."""

from __future__ import annotations

import json

import pytest

from kehu.customers.models import Customer
from kehu.identity.models import DuplicateCandidate, Merge
from tests.identity.conftest import full_customer
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def candidate():
    a = full_customer(name="张伟", mobile="13812345678", interactions=1)
    b = full_customer(name="章伟", mobile="13812345670", interactions=1)
    c = DuplicateCandidate.objects.create(key=f"{a.pk}-{b.pk}", probability=0.98,
                                          explanation=[{"left_id": a.pk, "right_id": b.pk,
                                                        "probability": 0.98, "fields": []}])
    c.members.create(customer=a)
    c.members.create(customer=b)
    return c, a, b


def _post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def test_queue_merge_and_undo(api_client_for, steward, candidate):
    cand, a, b = candidate
    client = api_client_for(steward)
    listed = client.get("/api/v1/duplicates").json()
    assert listed["count"] == 1
    assert listed["items"][0]["customers"] == [{"id": a.pk, "name": "张伟"},
                                               {"id": b.pk, "name": "章伟"}]
    response = _post(client, f"/api/v1/duplicates/{cand.pk}/merge",
                     {"survivor_id": a.pk, "field_choices": {"name": b.pk}})
    assert response.status_code == 201, response.json()
    merged = response.json()
    assert (merged["survivor_id"], merged["merged_ids"], merged["probability"]) == (
        a.pk, [b.pk], 0.98)
    assert Customer.objects.get(pk=a.pk).name == "章伟"
    assert client.get("/api/v1/duplicates").json()["count"] == 0
    undone = _post(client, f"/api/v1/merges/{merged['id']}/undo")
    assert undone.status_code == 200
    assert undone.json()["undone_at"] is not None
    assert Customer.objects.get(pk=a.pk).name == "张伟"
    assert Customer.objects.get(pk=b.pk).status == "active"
    again = _post(client, f"/api/v1/merges/{merged['id']}/undo")
    assert (again.status_code, again.json()["code"]) == (409, "already_undone")


def test_dismiss_and_merge_any(api_client_for, steward, candidate):
    cand, a, b = candidate
    client = api_client_for(steward)
    response = _post(client, f"/api/v1/duplicates/{cand.pk}/dismiss")
    assert (response.status_code, response.json()["status"]) == (200, "dismissed")
    c = full_customer(name="张伟")
    response = _post(client, "/api/v1/customers/merge",
                     {"survivor_id": c.pk, "customer_ids": [a.pk, b.pk]})
    assert response.status_code == 201
    assert sorted(response.json()["merged_ids"]) == sorted([a.pk, b.pk])
    assert Customer.objects.get(pk=c.pk).interactions.count() == 2


def test_permission_matrix(api_client_for, make_user, candidate):
    cand, a, b = candidate
    rep = api_client_for(make_user("sales_rep"))
    reader = api_client_for(make_user("data_steward"), scopes=("read",))
    before = db_snapshot()
    assert rep.get("/api/v1/duplicates").status_code == 403
    denied = _post(rep, "/api/v1/customers/merge", {"survivor_id": a.pk, "customer_ids": [b.pk]})
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    assert _post(reader, f"/api/v1/duplicates/{cand.pk}/merge",
                 {"survivor_id": a.pk}).status_code == 403
    assert not Merge.objects.exists()
    assert db_snapshot() == before
    assert Customer.objects.get(pk=b.pk).status == "active"
