"""WeChat identifiers in the identity graph: a mini-program identify (openid, unionid, no
userId) stitches the visitor to a customer holding them (or a new one); a later identify
with the same unionid from another app finds that customer; ids held by two customers go to
review, never merged; malformed ids are refused per item."""

from __future__ import annotations

import json

import pytest

from kehu.core.actor import Actor
from kehu.customers.models import Customer, Identifier
from kehu.identity.models import DuplicateCandidate
from kehu.integration.ingest import wechat_ids
from kehu.interactions.models import Event

pytestmark = pytest.mark.django_db
APP = "wx8a2f0c1d9e3b4a55"
MINI = {"wechat": {"appId": APP, "openId": "oMini_7Hc2kQ", "unionId": "oUnion_Zx81",
                   "miniProgram": True}}


@pytest.fixture
def ingest_client(make_user, api_client_for):
    return api_client_for(make_user("admin", username="wx"), scopes=("events:ingest",))


def _post(client, path, body):
    response = client.post(f"/api/v1/{path}", data=json.dumps(body),
                           content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def _ids(customer):
    return sorted(customer.identifiers.filter(kind=Identifier.EXTERNAL, is_live=True)
                  .values_list("system", "value"))


def test_wechat_ids_are_read_from_context_and_traits():
    assert wechat_ids({"context": MINI}) == [("wechat:unionid", "oUnion_Zx81"),
                                             (f"wechat:mini:{APP}", "oMini_7Hc2kQ")]
    assert wechat_ids({"traits": {"openId": "oA", "unionId": "oU"},
                       "context": {"wechat": {"appId": "wxoa"}}}) == [
        ("wechat:unionid", "oU"), ("wechat:openid:wxoa", "oA")]
    assert wechat_ids({"traits": {"openId": "oA"}, "context": {"wechat": {"appId": "bad id!"}}}) \
        == [("wechat:openid", "oA")]
    assert wechat_ids({"traits": {"name": "x"}}) == []


def test_a_mini_program_identify_stitches_by_openid_and_unionid(ingest_client):
    for path in ("pages/index", "pages/goods?id=7"):
        _post(ingest_client, "page", {"anonymousId": "mp-device-1", "name": path,
                                      "context": {"wechat": {"appId": APP}}})
    result = _post(ingest_client, "identify", {"anonymousId": "mp-device-1",
                                               "traits": {"name": "陈静"}, "context": MINI})
    assert result["errors"] == []
    customer = Customer.objects.get(name="陈静")
    assert _ids(customer) == [(f"wechat:mini:{APP}", "oMini_7Hc2kQ"),
                              ("wechat:unionid", "oUnion_Zx81")]
    assert Event.objects.filter(customer=customer, event_type="page_view").count() == 2
    # The same person signs in on the official account's H5 page with the app's user id:
    # the unionid finds the card; the app id and that app's openid join it.
    _post(ingest_client, "identify", {
        "userId": "u-77", "traits": {"unionId": "oUnion_Zx81", "openId": "oOfficial_1"},
        "context": {"wechat": {"appId": "wxofficial"}}})
    assert Customer.objects.count() == 1
    assert _ids(customer) == [("app", "u-77"), (f"wechat:mini:{APP}", "oMini_7Hc2kQ"),
                              ("wechat:openid:wxofficial", "oOfficial_1"),
                              ("wechat:unionid", "oUnion_Zx81")]
    _post(ingest_client, "track", {"userId": "u-77", "event": "Order Completed"})
    assert Event.objects.filter(customer=customer, event_type="order_completed").exists()


def test_an_unknown_openid_without_user_id_makes_a_customer_named_by_label(ingest_client):
    _post(ingest_client, "identify", {"anonymousId": "mp-2", "context": {
        "wechat": {"appId": APP, "openId": "oMini_abcdef123", "miniProgram": True}}})
    customer = Customer.objects.get()
    assert customer.name == "微信用户 def123"  # the default language is Chinese
    assert _ids(customer) == [(f"wechat:mini:{APP}", "oMini_abcdef123")]


def test_ids_held_by_two_customers_go_to_review_not_merged(ingest_client, admin_user):
    from kehu.customers.services import customer_create, identifier_add

    actor = Actor(user=admin_user)
    first = customer_create(actor=actor, name="王强")
    identifier_add(actor=actor, customer=first, kind="external", system="wechat:unionid",
                   value="oUnion_A")
    second = customer_create(actor=actor, name="王蔷")
    identifier_add(actor=actor, customer=second, kind="external",
                   system=f"wechat:mini:{APP}", value="oMini_B")
    result = _post(ingest_client, "identify", {"anonymousId": "mp-3", "context": {
        "wechat": {"appId": APP, "openId": "oMini_B", "unionId": "oUnion_A",
                   "miniProgram": True}}})
    assert result["review"][0]["customers"] == sorted([first.pk, second.pk])
    assert Customer.objects.filter(status=Customer.STATUS_ACTIVE).count() == 2
    candidate = DuplicateCandidate.objects.get()
    assert set(candidate.members.values_list("customer_id", flat=True)) == {first.pk, second.pk}
    assert _ids(first) == [("wechat:unionid", "oUnion_A")]


@pytest.mark.parametrize("bad", ["has space", "x" * 129, "undefined"])
def test_malformed_wechat_ids_are_refused_per_item(ingest_client, bad):
    result = _post(ingest_client, "batch", {"batch": [
        {"type": "identify", "anonymousId": "mp-4", "traits": {"openId": bad}},
        {"type": "page", "anonymousId": "mp-4", "name": "home"}]})
    assert [(e["index"], e["code"]) for e in result["errors"]] == [(0, "invalid_id")]
    assert result["accepted"] == 1
    assert not Customer.objects.exists()
