"""Segment-compatible ingestion: spec payloads accepted unchanged, replays stored once,
anonymous visitors stitched on identify (and undone), junk ids refused, conflicting
identifies queued for review, size limits, 429 and the ingest-only key."""

from __future__ import annotations

import base64
import json

import pytest

from kehu.core.actor import Actor
from kehu.core.models import DomainEvent
from kehu.customers.models import Customer, Identifier
from kehu.identity.models import DuplicateCandidate
from kehu.integration.models import IngestMessage, Stitch, Visitor, VisitorEvent
from kehu.interactions.models import Event

# The examples of Segment's HTTP Tracking API documentation, unchanged.
SPEC = {
    "identify": {"userId": "019mr8mf4r",
                 "traits": {"email": "pgibbons@example.com", "name": "Peter Gibbons",
                            "industry": "Technology"},
                 "context": {"ip": "24.5.68.47"},
                 "timestamp": "2012-12-02T00:30:08.276Z"},
    "track": {"userId": "019mr8mf4r", "event": "Item Purchased",
              "properties": {"name": "Leap to Conclusions Mat", "revenue": 14.99},
              "context": {"ip": "24.5.68.47"}, "timestamp": "2012-12-02T00:30:12.984Z"},
    "page": {"userId": "019mr8mf4r", "name": "Tracking HTTP API",
             "timestamp": "2012-12-02T00:31:29.738Z"},
    "screen": {"userId": "019mr8mf4r", "name": "Tracking HTTP API",
               "timestamp": "2012-12-02T00:31:29.738Z"},
    "group": {"userId": "019mr8mf4r", "groupId": "8e9df332ac",
              "traits": {"name": "Initech", "industry": "Technology", "employees": 420},
              "timestamp": "2012-12-02T00:30:12.984Z"},
    "alias": {"previousId": "39239-239239-239239-23923", "userId": "019mr8mf4r",
              "timestamp": "2012-12-02T00:30:08.276Z"},
}
BATCH = {
    "batch": [
        {"type": "identify", "userId": "019mr8mf4r",
         "traits": {"email": "jake@yahoo.com", "name": "Jake Peterson", "age": 26},
         "timestamp": "2012-12-02T00:30:08.276Z"},
        {"type": "track", "userId": "019mr8mf4r", "event": "Song Played",
         "properties": {"name": "Fallin for You", "artist": "Dierks Bentley"},
         "timestamp": "2012-12-02T00:30:12.984Z"},
        {"type": "identify", "userId": "971mj8mk7p", "traits": {"email": "cindy@example.com",
                                                                 "name": "Cindy Gallagher"},
         "timestamp": "2012-12-02T00:30:08.276Z"},
        {"type": "track", "userId": "971mj8mk7p", "event": "Song Played",
         "properties": {"name": "Get Right", "artist": "Jennifer Lopez"},
         "timestamp": "2012-12-02T00:30:12.984Z"},
    ],
    "context": {"device": {"type": "phone", "name": "Apple iPhone 6"}},
}


@pytest.fixture
def ingest_user(make_user):
    return make_user("admin", username="ingestor")


@pytest.fixture
def ingest_client(ingest_user, api_client_for):
    return api_client_for(ingest_user, scopes=("ingest",))


def _post(client, path, body):
    return client.post(f"/api/v1/{path}", data=json.dumps(body),
                       content_type="application/json")


def _app_customer(user_id):
    return Customer.objects.get(identifiers__kind=Identifier.EXTERNAL,
                                identifiers__system="app", identifiers__value=user_id)


def test_segment_spec_examples_are_accepted_unchanged(ingest_client):
    for kind in ("identify", "track", "page", "screen", "group", "alias"):
        response = _post(ingest_client, kind, SPEC[kind])
        assert response.status_code == 200, (kind, response.content)
        assert response.json()["accepted"] == 1
    customer = _app_customer("019mr8mf4r")
    assert customer.name == "Peter Gibbons"
    assert customer.identifiers.filter(kind="email", value="pgibbons@example.com").exists()
    types = set(Event.objects.filter(customer=customer).values_list("event_type", flat=True))
    assert types == {"item_purchased", "page_view", "screen_view", "group"}
    purchase = Event.objects.get(customer=customer, event_type="item_purchased")
    assert purchase.properties["$event"] == "Item Purchased"
    assert purchase.properties["revenue"] == 14.99
    assert purchase.occurred_at.year == 2012
    response = _post(ingest_client, "batch", BATCH)
    assert response.status_code == 200, response.content
    assert response.json()["accepted"] == 4 and response.json()["errors"] == []
    assert Event.objects.filter(customer=_app_customer("971mj8mk7p"),
                                event_type="song_played").count() == 1


def test_basic_auth_with_the_key_as_user_name(ingest_user):
    from django.test import Client

    from tests.factories import ApiKeyFactory

    _key, token = ApiKeyFactory.issue(user=ingest_user, scopes=("ingest",))
    basic = base64.b64encode(f"{token}:".encode()).decode()
    client = Client(HTTP_AUTHORIZATION=f"Basic {basic}")
    assert _post(client, "page", {"anonymousId": "a-1", "name": "Home"}).status_code == 200
    assert VisitorEvent.objects.filter(visitor__key="a:a-1", event_type="page_view").exists()


def test_a_replayed_batch_stores_nothing_twice(ingest_client):
    batch = {"batch": [
        {"type": "track", "messageId": f"m-{i}", "anonymousId": "anon-7",
         "event": "Viewed", "timestamp": "2024-05-01T08:00:00Z"} for i in range(3)]}
    first = _post(ingest_client, "batch", batch).json()
    again = _post(ingest_client, "batch", batch).json()
    assert (first["accepted"], first["duplicates"]) == (3, 0)
    assert (again["accepted"], again["duplicates"]) == (3, 3)
    assert VisitorEvent.objects.count() == 3
    assert IngestMessage.objects.count() == 3


def test_anonymous_events_are_stitched_on_identify_and_undone(ingest_client, ingest_user):
    for path in ("/", "/pricing"):
        _post(ingest_client, "page", {"anonymousId": "visitor-42", "name": path,
                                      "properties": {"path": path}})
    assert VisitorEvent.objects.filter(visitor__key="a:visitor-42").count() == 2
    response = _post(ingest_client, "identify", {
        "userId": "u-1", "anonymousId": "visitor-42",
        "traits": {"name": "李娜", "email": "lina@example.com", "phone": "13800138000"}})
    assert response.status_code == 200, response.content
    customer = _app_customer("u-1")
    assert Event.objects.filter(customer=customer, event_type="page_view").count() == 2
    assert not VisitorEvent.objects.exists()
    assert DomainEvent.objects.filter(type="visitor.stitched", customer_id=customer.pk).exists()
    # Later anonymous events of that browser go straight to the customer.
    _post(ingest_client, "track", {"anonymousId": "visitor-42", "event": "Signed Up"})
    assert Event.objects.filter(customer=customer, event_type="signed_up").exists()

    from kehu.integration.stitching import stitch_undo

    stitch = Stitch.objects.get(customer=customer)
    stitch_undo(actor=Actor(user=ingest_user), stitch_id=stitch.pk)
    assert Event.objects.filter(customer=customer, event_type="page_view").count() == 0
    visitor = Visitor.objects.get(key="a:visitor-42")
    assert visitor.customer_id is None
    assert visitor.events.filter(event_type="page_view").count() == 2
    assert DomainEvent.objects.filter(type="visitor.unstitched").exists()


def test_alias_before_identify_links_the_visitor(ingest_client):
    _post(ingest_client, "page", {"anonymousId": "anon-x", "name": "Home"})
    _post(ingest_client, "alias", {"previousId": "anon-x", "userId": "u-9"})
    assert not Customer.objects.exists()
    _post(ingest_client, "identify", {"userId": "u-9", "traits": {"name": "Wang"}})
    assert Event.objects.filter(customer=_app_customer("u-9"), event_type="page_view").exists()


@pytest.mark.parametrize("junk", ["undefined", "null", "0", "anonymous", "guest", "",
                                  "[object Object]", "NaN", " None "])
def test_junk_ids_are_refused_per_item(ingest_client, junk):
    response = _post(ingest_client, "batch", {"batch": [
        {"type": "page", "anonymousId": junk, "messageId": "bad"},
        {"type": "page", "anonymousId": "real-visitor", "messageId": "good"}]})
    body = response.json()
    assert body["accepted"] == 1
    assert body["errors"][0]["index"] == 0 and body["errors"][0]["messageId"] == "bad"
    assert body["errors"][0]["code"] in ("junk_id", "missing_id")
    assert not Visitor.objects.filter(key=f"a:{junk.strip()}").exists()
    single = _post(ingest_client, "identify", {"userId": junk, "traits": {"name": "X"}})
    assert single.status_code == 400
    assert not Customer.objects.exists()


def test_a_conflicting_identify_is_queued_for_review_not_merged(ingest_client, admin_user):
    from kehu.customers.services import customer_create, identifier_add

    actor = Actor(user=admin_user)
    first = customer_create(actor=actor, name="张伟", email="zw@example.com")
    identifier_add(actor=actor, customer=first, kind="external", system="app", value="u-5")
    second = customer_create(actor=actor, name="张薇", email="other@example.com")
    response = _post(ingest_client, "identify", {"userId": "u-5",
                                                 "traits": {"email": "other@example.com"}})
    assert response.status_code == 200
    assert Customer.objects.filter(pk__in=[first.pk, second.pk],
                                   status=Customer.STATUS_ACTIVE).count() == 2
    candidate = DuplicateCandidate.objects.get()
    assert set(candidate.members.values_list("customer_id", flat=True)) == {first.pk, second.pk}
    assert not first.identifiers.filter(value="other@example.com").exists()


def test_stitches_per_customer_per_day_are_limited(ingest_client, settings):
    settings.KEHU_INGEST_MAX_STITCHES_PER_DAY = 1
    for anon in ("d-1", "d-2"):
        _post(ingest_client, "page", {"anonymousId": anon})
    assert _post(ingest_client, "identify", {"userId": "u-2", "anonymousId": "d-1"}
                 ).status_code == 200
    refused = _post(ingest_client, "identify", {"userId": "u-2", "anonymousId": "d-2"})
    assert refused.status_code == 400 and refused.json()["code"] == "stitch_limit"
    assert VisitorEvent.objects.filter(visitor__key="a:d-2").count() == 1


def test_size_limits(ingest_client):
    big = {"anonymousId": "v", "event": "Big", "properties": {"blob": "x" * 33_000}}
    response = _post(ingest_client, "track", big)
    assert response.status_code == 413 and response.json()["code"] == "too_large"
    batch = {"batch": [{"type": "track", **big, "messageId": "big"},
                       {"type": "track", "anonymousId": "v", "event": "Small"}]}
    body = _post(ingest_client, "batch", batch).json()
    assert body["accepted"] == 1
    assert body["errors"] == [{"index": 0, "messageId": "big", "code": "too_large",
                               "message": body["errors"][0]["message"]}]
    huge = {"batch": [{"type": "track", "anonymousId": "v", "event": "E",
                       "properties": {"blob": "x" * 30_000}} for _ in range(20)]}
    response = _post(ingest_client, "batch", huge)
    assert response.status_code == 413 and response.json()["code"] == "batch_too_large"
    assert VisitorEvent.objects.count() == 1


def test_over_the_key_limit_is_429_with_retry_after(ingest_client, settings):
    from django.core.cache import cache

    cache.clear()
    settings.KEHU_INGEST_RATE_LIMIT = 3
    batch = {"batch": [{"type": "page", "anonymousId": "v"} for _ in range(3)]}
    assert _post(ingest_client, "batch", batch).status_code == 200
    response = _post(ingest_client, "page", {"anonymousId": "v"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert VisitorEvent.objects.count() == 3
    cache.clear()


def test_an_ingest_only_key_can_only_ingest(ingest_client, ingest_user, api_client_for):
    assert ingest_client.get("/api/v1/customers").status_code == 403
    assert _post(ingest_client, "customers", {"name": "x"}).status_code == 403
    reader = api_client_for(ingest_user, scopes=("read",))
    assert _post(reader, "track", {"anonymousId": "v", "event": "E"}).status_code == 403
    writer = api_client_for(ingest_user, scopes=("read", "write"))
    assert _post(writer, "track", {"anonymousId": "v", "event": "E"}).status_code == 200
    assert not Customer.objects.exists()


def test_a_browser_sends_the_key_in_a_text_plain_body(ingest_user):
    from django.test import Client

    from tests.factories import ApiKeyFactory

    _key, token = ApiKeyFactory.issue(user=ingest_user, scopes=("ingest",))
    body = {"writeKey": token, "batch": [{"type": "page", "anonymousId": "b-1", "name": "Home"}]}
    response = Client().post("/api/v1/batch", data=json.dumps(body), content_type="text/plain")
    assert response.status_code == 200, response.content
    assert response["Access-Control-Allow-Origin"] == "*"
    assert VisitorEvent.objects.filter(visitor__key="a:b-1").exists()
    wrong = {**body, "writeKey": "kh_not_a_key"}
    assert Client().post("/api/v1/batch", data=json.dumps(wrong),
                         content_type="text/plain").status_code == 401


def test_identify_traits_update_the_card_through_the_customer_services(ingest_client):
    _post(ingest_client, "identify", {"userId": "u-3", "traits": {"name": "Old Name"}})
    customer = _app_customer("u-3")
    response = _post(ingest_client, "identify", {"userId": "u-3", "traits": {
        "firstName": "娜", "lastName": "李", "phone": "13800138000", "gender": "female",
        "birthday": "1990-05-01", "address": {"state": "广东", "city": "深圳",
                                              "street": "科技园南路 1 号"}}})
    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert customer.name == "李娜"
    assert str(customer.birthday) == "1990-05-01"
    assert customer.identifiers.filter(kind="mobile", value="+8613800138000").exists()
    assert customer.addresses.filter(city="深圳市").exists()
    assert DomainEvent.objects.filter(type="customer.field_changed",
                                      customer_id=customer.pk).exists()
    bad = _post(ingest_client, "identify", {"userId": "u-3", "traits": {"phone": "12"}})
    assert bad.status_code == 400
    customer.refresh_from_db()
    assert customer.identifiers.filter(kind="mobile").count() == 1


def test_stitches_are_listed_and_undone_through_the_api(ingest_client, ingest_user,
                                                        api_client_for, make_user):
    _post(ingest_client, "page", {"anonymousId": "v-api"})
    _post(ingest_client, "identify", {"userId": "u-api", "anonymousId": "v-api"})
    customer = _app_customer("u-api")
    assert ingest_client.get("/api/v1/stitches").status_code == 403
    admin = api_client_for(ingest_user)
    listed = admin.get(f"/api/v1/stitches?customer_id={customer.pk}").json()
    assert [(s["visitor"], s["events"], s["undone_at"]) for s in listed] == [("a:v-api", 1, None)]
    stranger = api_client_for(make_user("sales_rep", username="rep"))
    assert stranger.post(f"/api/v1/stitches/{listed[0]['id']}/undo").status_code == 404
    assert Event.objects.filter(customer=customer).count() == 1
    undone = admin.post(f"/api/v1/stitches/{listed[0]['id']}/undo")
    assert undone.status_code == 200 and undone.json()["undone_at"]
    assert not Event.objects.filter(customer=customer).exists()
    assert VisitorEvent.objects.filter(visitor__key="a:v-api").count() == 1


def test_the_stitches_page_lists_and_undoes(ingest_client, ingest_user, client, make_user):
    from django.urls import reverse

    _post(ingest_client, "page", {"anonymousId": "v-page"})
    _post(ingest_client, "identify", {"userId": "u-page", "anonymousId": "v-page",
                                      "traits": {"name": "周杰"}})
    stitch = Stitch.objects.get()
    rep = make_user("sales_rep", username="rep2")
    client.force_login(rep)
    assert client.get(reverse("integration:stitches")).status_code == 403
    assert client.post(reverse("integration:stitch_undo", args=[stitch.pk])).status_code == 403
    client.force_login(ingest_user)
    page = client.get(reverse("integration:stitches")).content.decode()
    assert "a:v-page" in page and "周杰" in page
    response = client.post(reverse("integration:stitch_undo", args=[stitch.pk]))
    assert response.status_code == 302
    stitch.refresh_from_db()
    assert stitch.undone_at is not None
    assert VisitorEvent.objects.filter(visitor__key="a:v-page").count() == 1
