"""Customer API: permission matrix (role x endpoint x record scope) with exact statuses and
"nothing changed" on denial, optimistic-locking 409, masking per role, search, lookup."""

import json

import pytest

from kehu.core.models import AuditEntry
from kehu.customers.models import Customer, CustomerTag, CustomFieldDefinition, Identifier
from tests.factories import TeamFactory, create_customer
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db

ROLES = ["admin", "sales_manager", "sales_rep", "marketer", "service_agent", "read_only"]
ID = "11010519491231002X"


def post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def patch(client, url, body):
    return client.patch(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def world(make_user):
    """Two teams; the caller is in team A; customers owned by the caller, by a teammate and
    by someone in team B."""
    team_a, team_b = TeamFactory(), TeamFactory()
    teammate = make_user("sales_rep", team=team_a)
    stranger = make_user("sales_rep", team=team_b)
    return {"team_a": team_a, "teammate": teammate, "stranger": stranger}


def _state():
    return (Customer.objects.count(), list(Customer.objects.order_by("pk").values_list(
        "version", "status", "owner_id", "title")), AuditEntry.objects.count(),
        Identifier.objects.count(), CustomerTag.objects.count())


# Which (role, record) pairs can be read: own / team / other.
VISIBLE = {
    "admin": {"own", "team", "other"}, "sales_manager": {"own", "team"},
    "sales_rep": {"own"}, "marketer": {"own", "team", "other"},
    "service_agent": {"own", "team", "other"}, "read_only": {"own", "team", "other"},
}
CHANGE = {"admin", "sales_manager", "sales_rep"}


def _records(user, world):
    return {
        "own": create_customer(owner=user, name="自己的", mobile="13800000001"),
        "team": create_customer(owner=world["teammate"], name="同组的", mobile="13800000002"),
        "other": create_customer(owner=world["stranger"], name="别组的", mobile="13800000003"),
    }


@pytest.mark.parametrize("role", ROLES)
def test_read_matrix(role, make_user, api_client_for, world):
    user = make_user(role, team=world["team_a"])
    records = _records(user, world)
    client = api_client_for(user)
    before = db_snapshot()
    listed = {c["name"] for c in client.get("/api/v1/customers").json()["items"]}
    assert listed == {records[s].name for s in VISIBLE[role]}
    for scope, customer in records.items():
        response = client.get(f"/api/v1/customers/{customer.pk}")
        assert response.status_code == (200 if scope in VISIBLE[role] else 404), scope
        if response.status_code == 404:
            assert response.json()["code"] == "not_found"
    assert db_snapshot() == before


@pytest.mark.parametrize("role", ROLES)
def test_update_matrix(role, make_user, api_client_for, world):
    user = make_user(role, team=world["team_a"])
    records = _records(user, world)
    client = api_client_for(user)
    for scope, customer in records.items():
        before = _state()
        response = patch(client, f"/api/v1/customers/{customer.pk}",
                         {"version": 1, "title": "经理"})
        if role in CHANGE and scope in VISIBLE[role]:
            assert response.status_code == 200, (scope, response.json())
            assert response.json()["title"] == "经理" and response.json()["version"] == 2
        else:
            expected = 404 if scope not in VISIBLE[role] else 403
            assert response.status_code == expected, (scope, response.json())
            assert _state() == before


@pytest.mark.parametrize("role", ROLES)
def test_create_matrix(role, make_user, api_client_for):
    user = make_user(role)
    client = api_client_for(user)
    before = _state()
    response = post(client, "/api/v1/customers",
                    {"name": "新客户", "mobile": "138 0013 8000"})
    if role in CHANGE:
        assert response.status_code == 201
        body = response.json()
        assert body["mobile"] == "+8613800138000" and body["owner"]["id"] == user.pk
        assert body["identifiers"][0]["kind"] == "mobile"
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert _state() == before


@pytest.mark.parametrize("role", ROLES)
def test_delete_matrix(role, make_user, api_client_for):
    user = make_user(role)
    customer = create_customer(owner=user)
    client = api_client_for(user)
    before = _state()
    response = client.delete(f"/api/v1/customers/{customer.pk}")
    if role == "admin":
        assert response.status_code == 204
        assert Customer.objects.get().status == "deleted"
    else:
        assert response.status_code == 403
        assert _state() == before


@pytest.mark.parametrize("role", ROLES)
def test_tag_matrix(role, make_user, api_client_for):
    user = make_user(role)
    customer = create_customer(owner=user)
    client = api_client_for(user)
    before = _state()
    response = post(client, f"/api/v1/customers/{customer.pk}/tags",
                    {"name": "VIP"})
    if role in {"admin", "sales_manager", "marketer"}:
        assert response.status_code == 201 and response.json()["name"] == "VIP"
    else:
        assert response.status_code == 403
        assert _state() == before


@pytest.mark.parametrize("role", ROLES)
def test_bulk_assign_matrix(role, make_user, api_client_for, world):
    user = make_user(role, team=world["team_a"])
    customer = create_customer(owner=user)
    client = api_client_for(user)
    before = _state()
    response = post(client, "/api/v1/customers/bulk/assign-owner",
                    {"customer_ids": [customer.pk], "owner_id": world["teammate"].pk})
    if role in {"admin", "sales_manager"}:
        assert response.status_code == 200 and response.json() == {"changed": 1}
        assert Customer.objects.get().owner == world["teammate"]
    else:
        assert response.status_code == 403
        assert _state() == before


@pytest.mark.parametrize("role", ROLES)
def test_custom_field_define_matrix(role, make_user, api_client_for):
    client = api_client_for(make_user(role))
    before = db_snapshot()
    response = post(client, "/api/v1/custom-fields",
                    {"key": "level", "label": "等级", "field_type": "choice",
                     "choices": ["A", "B"]})
    assert response.status_code == (201 if role == "admin" else 403)
    assert CustomFieldDefinition.objects.exists() is (role == "admin")
    if role != "admin":
        assert db_snapshot() == before


@pytest.mark.parametrize("role,mobile,id_number,revealed", [
    ("admin", "+8613812345678", "110***********002X", 200),
    ("sales_manager", "+8613812345678", "110***********002X", 403),
    ("marketer", "138****5678", None, 403),
    ("service_agent", "+8613812345678", "110***********002X", 403),
    ("read_only", "138****5678", None, 403),
])
def test_masking_and_reveal_per_role(role, mobile, id_number, revealed, make_user,
                                     api_client_for):
    user = make_user(role)
    customer = create_customer(owner=user, mobile="13812345678", id_number=ID)
    client = api_client_for(user)
    body = client.get(f"/api/v1/customers/{customer.pk}").json()
    assert (body["mobile"], body["id_number"]) == (mobile, id_number)
    assert ID not in json.dumps(body)
    listed = client.get("/api/v1/customers").json()["items"][0]
    assert listed["mobile"] == mobile
    audits = AuditEntry.objects.count()
    response = client.post(f"/api/v1/customers/{customer.pk}/reveal-id-number")
    assert response.status_code == revealed
    if revealed == 200:
        assert response.json() == {"id_number": ID}
        assert AuditEntry.objects.count() == audits + 1
    else:
        assert AuditEntry.objects.count() == audits


def test_patch_with_stale_version_is_409_with_current_and_fields(make_user, api_client_for):
    rep = make_user("sales_rep")
    customer = create_customer(owner=rep, name="张伟")
    client = api_client_for(rep)
    first = patch(client, f"/api/v1/customers/{customer.pk}", {"version": 1, "title": "经理"})
    assert first.status_code == 200
    before = _state()
    stale = patch(client, f"/api/v1/customers/{customer.pk}", {"version": 1, "name": "张三"})
    assert stale.status_code == 409
    body = stale.json()
    assert body["code"] == "conflict"
    assert body["details"]["fields"] == ["title"]
    assert body["details"]["current"]["title"] == "经理"
    assert body["details"]["current"]["version"] == 2
    assert _state() == before


def test_field_errors_are_422_by_field(make_user, api_client_for):
    rep = make_user("sales_rep")
    response = post(api_client_for(rep), "/api/v1/customers",
                    {"name": "张伟", "mobile": "123", "email": "x@", "birthday": "1990-02-30"})
    assert response.status_code == 422
    assert sorted(response.json()["details"]) == ["birthday", "email", "mobile"]
    assert Customer.objects.count() == 0


@pytest.mark.parametrize("q", ["zw", "zhangwei", "张", "5678", "+86 138 1234 5678",
                               "138-1234-5678", "0086 13812345678"])
def test_list_search(q, make_user, api_client_for):
    admin = make_user("admin")
    create_customer(name="张伟", mobile="13812345678")
    create_customer(name="李娜", mobile="13900000000")
    items = api_client_for(admin).get("/api/v1/customers", {"q": q}).json()["items"]
    assert [i["name"] for i in items] == ["张伟"]


def test_list_cursor_and_count(make_user, api_client_for):
    admin = make_user("admin")
    for i in range(5):
        create_customer(name=f"客户{i}")
    client = api_client_for(admin)
    first = client.get("/api/v1/customers", {"limit": 2, "count": "true", "sort": "name"}).json()
    assert first["count"] == 5 and len(first["items"]) == 2
    names = [i["name"] for i in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = client.get("/api/v1/customers", {"limit": 2, "sort": "name",
                                                "cursor": cursor}).json()
        names += [i["name"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert names == sorted(names) and len(names) == 5


def test_lookup_endpoint(make_user, api_client_for):
    agent = make_user("service_agent")
    customer = create_customer(name="王先生", mobile="13812345678")
    client = api_client_for(agent)
    response = client.get("/api/v1/customers/lookup", {"phone": "+86 138-1234-5678"})
    assert response.status_code == 200 and response.json()["id"] == customer.pk
    assert client.get("/api/v1/customers/lookup", {"phone": "13900000000"}).status_code == 404
    before = db_snapshot()
    assert client.get("/api/v1/customers/lookup", {"phone": "12"}).status_code == 422
    assert db_snapshot() == before


def test_identifier_address_contact_endpoints(make_user, api_client_for):
    admin = make_user("admin")
    client = api_client_for(admin)
    person = create_customer(name="张伟", mobile="13812345678")
    other = create_customer(name="李娜")
    org = create_customer(name="某科技有限公司", kind="organisation")
    response = post(client, f"/api/v1/customers/{other.pk}/identifiers",
                    {"kind": "phone", "value": "138 1234 5678"})
    assert response.status_code == 422
    assert f"#{person.pk}" in response.json()["details"]["value"][0]
    response = post(client, f"/api/v1/customers/{person.pk}/identifiers",
                    {"kind": "email", "value": "ZW@Example.com", "is_primary": True})
    assert response.status_code == 201 and response.json()["value"] == "zw@example.com"
    ident_id = response.json()["id"]
    assert client.delete(f"/api/v1/customers/{person.pk}/identifiers/{ident_id}"
                         ).status_code == 204
    response = post(client, f"/api/v1/customers/{person.pk}/addresses",
                    {"raw": "上海市浦东新区世纪大道100号"})
    assert response.status_code == 201
    assert (response.json()["district"], response.json()["region"]) == ("浦东新区", "华东")
    response = post(client, f"/api/v1/customers/{org.pk}/contacts",
                    {"person_id": person.pk, "decision_role": "decision_maker",
                     "is_primary": True})
    assert response.status_code == 201 and response.json()["person"]["id"] == person.pk
    contacts = client.get(f"/api/v1/customers/{org.pk}/contacts").json()
    assert [c["decision_role"] for c in contacts] == ["decision_maker"]
    employers = client.get(f"/api/v1/customers/{person.pk}").json()["employers"]
    assert employers[0]["organisation"]["name"] == "某科技有限公司"


def test_custom_values_through_the_api_and_openapi(make_user, api_client_for, client):
    admin = make_user("admin")
    api = api_client_for(admin)
    post(api, "/api/v1/custom-fields", {"key": "budget", "label": "预算",
                                        "field_type": "number", "validation": {"min": 0}})
    bad = post(api, "/api/v1/customers", {"name": "张伟", "custom": {"budget": "-1"}})
    assert bad.status_code == 422 and list(bad.json()["details"]) == ["custom.budget"]
    good = post(api, "/api/v1/customers", {"name": "张伟", "custom": {"budget": "100"}})
    assert good.json()["custom"] == {"budget": 100}
    listed = api.get("/api/v1/customers", {"custom": "budget=>=50"}).json()["items"]
    assert [i["name"] for i in listed] == ["张伟"]
    schema = client.get("/api/v1/openapi.json").json()
    assert "`budget` (number" in json.dumps(schema, ensure_ascii=False)
    assert "/api/v1/customers/{customer_id}" in schema["paths"]


def test_saved_views_api(make_user, api_client_for):
    rep, other = make_user("sales_rep"), make_user("sales_rep")
    response = post(api_client_for(rep), "/api/v1/saved-views",
                    {"name": "华东", "params": {"region": "华东"}})
    assert response.status_code == 201
    view_id = response.json()["id"]
    stranger = api_client_for(other)
    before = db_snapshot()
    assert stranger.get("/api/v1/saved-views").json() == []
    assert stranger.delete(f"/api/v1/saved-views/{view_id}").status_code == 404
    assert db_snapshot() == before
    assert api_client_for(rep).delete(f"/api/v1/saved-views/{view_id}").status_code == 204


def test_caller_match_is_scoped_and_masked(make_user, api_client_for):
    from kehu.accounts.models import Team

    team = Team.objects.create(name="外呼组")
    rep, other_rep = make_user("sales_rep", team=team), make_user("sales_rep", team=team)
    customer = create_customer(owner=rep, name="李先生", mobile="13812345678")
    api = "/api/v1/customers/lookup"
    mine = api_client_for(rep).get(api, {"phone": "0086 138 1234 5678"})
    assert mine.status_code == 200
    body = mine.json()
    assert (body["id"], body["mobile"], body["card_path"]) == (
        customer.pk, "+8613812345678", f"/customers/{customer.pk}/")
    assert body["owner"]["id"] == rep.pk
    # Same phone, another rep's book: indistinguishable from "nobody has this number".
    assert api_client_for(other_rep).get(api, {"phone": "13812345678"}).status_code == 404
    # Mobile masked for the marketer: a lookup by it would reveal the masked digits.
    marketer_client = api_client_for(make_user("marketer"))
    before = db_snapshot()
    marketer = marketer_client.get(api, {"phone": "13812345678"})
    assert (marketer.status_code, marketer.json()["code"], marketer.json()["details"]) == (
        403, "permission_denied", {"field": "customer.mobile"})
    assert db_snapshot() == before


def test_caller_match_ignores_merged_or_deleted_customers(make_user, api_client_for):
    from kehu.core.actor import Actor
    from kehu.customers import services

    admin = make_user("admin")
    customer = create_customer(owner=admin, name="赵女士", mobile="13700001111")
    services.customer_delete(actor=Actor(user=admin), customer=customer)
    response = api_client_for(admin).get("/api/v1/customers/lookup", {"phone": "13700001111"})
    assert response.status_code == 404
