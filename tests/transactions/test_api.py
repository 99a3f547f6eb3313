"""API permission matrix for products, orders and tickets: exact codes, nothing changed on denial."""

import json

import pytest

from kehu.core.models import AuditEntry
from kehu.transactions.models import Order, Product, Ticket
from tests.factories import CustomerFactory, ProductFactory
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db

ROLES = ["admin", "sales_manager", "sales_rep", "marketer", "service_agent", "data_steward",
         "compliance_auditor", "read_only"]
ORDER_MANAGERS = {"admin", "sales_manager", "sales_rep"}
# Compliance works the personal-information complaints routed to it.
TICKET_MANAGERS = {"admin", "service_agent", "compliance_auditor"}


def _send(client, method, url, body):
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def world(make_user, team):
    owner = make_user("sales_rep", team=team)
    return {"owner": owner, "customer": CustomerFactory(owner=owner, team=team),
            "foreign": CustomerFactory(owner=make_user("sales_rep")),
            "product": ProductFactory(unit_price="199.00")}


def _caller(role, make_user, team, world):
    return world["owner"] if role == "sales_rep" else make_user(role, team=team)


def _snapshot():
    return (Product.objects.count(), Order.objects.count(), Ticket.objects.count(),
            AuditEntry.objects.count())


@pytest.mark.parametrize("role", ROLES)
def test_product_create_matrix(role, make_user, api_client_for, team, world):
    client = api_client_for(_caller(role, make_user, team, world))
    before = _snapshot()
    response = _send(client, "post", "/api/v1/products",
                     {"sku": "NEW-1", "name": "新品", "unit_price": "12.50"})
    if role in ORDER_MANAGERS:
        assert response.status_code == 201
        assert response.json()["unit_price"] == "12.50"
    else:
        assert response.status_code == 403
        assert _snapshot() == before
    listed = client.get("/api/v1/products")
    assert listed.status_code == 200


def test_product_patch_and_duplicate_sku(make_user, api_client_for, world):
    client = api_client_for(make_user("admin"))
    other = ProductFactory(sku="TAKEN")
    response = _send(client, "patch", f"/api/v1/products/{world['product'].pk}",
                     {"unit_price": "150.00"})
    assert response.status_code == 200 and response.json()["unit_price"] == "150.00"
    response = _send(client, "patch", f"/api/v1/products/{world['product'].pk}",
                     {"sku": other.sku})
    assert response.status_code == 422 and list(response.json()["details"]) == ["sku"]


def _order_body(customer_id, product_id, **kwargs):
    return {"customer_id": customer_id, "status": "paid", "payment_method": "alipay",
            "lines": [{"product_id": product_id, "quantity": "2"}], **kwargs}


@pytest.mark.parametrize("role", ROLES)
def test_order_create_matrix(role, make_user, api_client_for, team, world):
    client = api_client_for(_caller(role, make_user, team, world))
    before = _snapshot()
    response = _send(client, "post", "/api/v1/orders",
                     _order_body(world["customer"].pk, world["product"].pk))
    if role in ORDER_MANAGERS:
        assert response.status_code == 201
        body = response.json()
        assert body["total_amount"] == "398.00" and len(body["lines"]) == 1
        assert body["number"].startswith("SO")
    else:
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert _snapshot() == before


@pytest.mark.parametrize("role,status", [("admin", 201), ("sales_manager", 404),
                                         ("sales_rep", 404), ("read_only", 403)])
def test_order_for_customer_outside_scope(role, status, make_user, api_client_for, team, world):
    client = api_client_for(_caller(role, make_user, team, world))
    before = _snapshot()
    response = _send(client, "post", "/api/v1/orders",
                     _order_body(world["foreign"].pk, world["product"].pk))
    assert response.status_code == status
    if status != 201:
        assert _snapshot() == before


@pytest.mark.parametrize("role", ROLES)
def test_order_read_and_status_matrix(role, make_user, api_client_for, team, world):
    admin = api_client_for(make_user("admin"))
    order_id = _send(admin, "post", "/api/v1/orders",
                     _order_body(world["customer"].pk, world["product"].pk)).json()["id"]
    client = api_client_for(_caller(role, make_user, team, world))
    assert client.get(f"/api/v1/orders/{order_id}").status_code == 200
    assert [o["id"] for o in client.get("/api/v1/orders").json()["items"]] == [order_id]
    before = db_snapshot()
    response = _send(client, "patch", f"/api/v1/orders/{order_id}", {"status": "shipped"})
    if role in ORDER_MANAGERS:
        assert response.status_code == 200 and response.json()["status"] == "shipped"
    else:
        assert response.status_code == 403
        assert Order.objects.get(pk=order_id).status == "paid"
        assert db_snapshot() == before


def test_invalid_transition_is_422_naming_status(make_user, api_client_for, world):
    client = api_client_for(world["owner"])
    order_id = _send(client, "post", "/api/v1/orders",
                     _order_body(world["customer"].pk, world["product"].pk,
                                 status="pending")).json()["id"]
    response = _send(client, "patch", f"/api/v1/orders/{order_id}", {"status": "completed"})
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["details"]) == ["status"]


def test_foreign_order_is_404_for_rep(make_user, api_client_for, world):
    admin = api_client_for(make_user("admin"))
    order_id = _send(admin, "post", "/api/v1/orders",
                     _order_body(world["foreign"].pk, world["product"].pk)).json()["id"]
    client = api_client_for(world["owner"])
    before = db_snapshot()
    assert client.get(f"/api/v1/orders/{order_id}").status_code == 404
    assert _send(client, "patch", f"/api/v1/orders/{order_id}",
                 {"status": "shipped"}).status_code == 404
    assert Order.objects.get(pk=order_id).status == "paid"
    assert db_snapshot() == before
    assert client.get("/api/v1/orders").json()["items"] == []


def test_order_summary(make_user, api_client_for, world):
    client = api_client_for(world["owner"])
    _send(client, "post", "/api/v1/orders", _order_body(world["customer"].pk, world["product"].pk))
    summary = client.get(f"/api/v1/customers/{world['customer'].pk}/order-summary").json()
    assert summary["count"] == 1 and summary["total_spend"] == "398.00"


@pytest.mark.parametrize("role", ROLES)
def test_ticket_open_matrix(role, make_user, api_client_for, team, world):
    client = api_client_for(_caller(role, make_user, team, world))
    before = _snapshot()
    response = _send(client, "post", "/api/v1/tickets", {
        "customer_id": world["customer"].pk, "kind": "complaint", "subject": "卡纸",
        "product_id": world["product"].pk})
    if role in TICKET_MANAGERS:
        assert response.status_code == 201
        assert response.json()["status"] == "open" and response.json()["number"].startswith("TK")
    else:
        assert response.status_code == 403
        assert _snapshot() == before


def test_ticket_work_and_rate_flow(make_user, api_client_for, world):
    agent = make_user("service_agent")
    client = api_client_for(agent)
    ticket_id = _send(client, "post", "/api/v1/tickets", {
        "customer_id": world["customer"].pk, "kind": "service_request",
        "subject": "上门维修"}).json()["id"]
    early = _send(client, "post", f"/api/v1/tickets/{ticket_id}/rate",
                  {"satisfaction": 5, "source": "agent_phone"})
    assert early.status_code == 422 and list(early.json()["details"]) == ["satisfaction"]
    response = _send(client, "patch", f"/api/v1/tickets/{ticket_id}",
                     {"status": "resolved", "resolution": "更换定影器", "priority": "high"})
    assert response.status_code == 200
    assert response.json()["resolved_at"] is not None and response.json()["priority"] == "high"
    assert response.json()["assignee"] == agent.username
    unmarked = _send(client, "post", f"/api/v1/tickets/{ticket_id}/rate", {"satisfaction": 5})
    assert unmarked.status_code == 422          # the agent must say it came by phone
    rated = _send(client, "post", f"/api/v1/tickets/{ticket_id}/rate",
                  {"satisfaction": 5, "source": "agent_phone"})
    assert rated.status_code == 200 and rated.json()["satisfaction"] == 5
    assert rated.json()["satisfaction_source"] == "agent_phone"
    bad = _send(client, "post", f"/api/v1/tickets/{ticket_id}/rate",
                {"satisfaction": 9, "source": "agent_phone"})
    assert bad.status_code == 422
    assert Ticket.objects.get(pk=ticket_id).satisfaction == 5
    unassigned = _send(client, "patch", f"/api/v1/tickets/{ticket_id}", {"assignee": None})
    assert unassigned.status_code == 200 and unassigned.json()["assignee"] is None


@pytest.mark.parametrize("role,status", [("admin", 200), ("service_agent", 200),
                                         ("sales_rep", 403), ("read_only", 403)])
def test_ticket_patch_and_rate_matrix(role, status, make_user, api_client_for, team, world):
    admin = api_client_for(make_user("admin"))
    ticket_id = _send(admin, "post", "/api/v1/tickets", {
        "customer_id": world["customer"].pk, "kind": "inquiry", "subject": "问价"}).json()["id"]
    client = api_client_for(_caller(role, make_user, team, world))
    before = AuditEntry.objects.count()
    response = _send(client, "patch", f"/api/v1/tickets/{ticket_id}",
                     {"status": "closed", "resolution": "已答复"})
    assert response.status_code == status
    rate = _send(client, "post", f"/api/v1/tickets/{ticket_id}/rate",
                 {"satisfaction": 3, "source": "agent_phone"})
    assert rate.status_code == (200 if status == 200 else 403)
    if status != 200:
        ticket = Ticket.objects.get(pk=ticket_id)
        assert ticket.status == "open" and ticket.satisfaction is None
        assert AuditEntry.objects.count() == before


def test_ticket_list_filters_and_scope(make_user, api_client_for, world):
    admin = api_client_for(make_user("admin"))
    for customer, subject in [(world["customer"], "自己的"), (world["foreign"], "别人的")]:
        _send(admin, "post", "/api/v1/tickets", {"customer_id": customer.pk, "kind": "inquiry",
                                                 "subject": subject})
    mine = api_client_for(world["owner"]).get("/api/v1/tickets").json()["items"]
    assert [t["subject"] for t in mine] == ["自己的"]
    unresolved = admin.get("/api/v1/tickets", {"status": "unresolved"}).json()["items"]
    assert len(unresolved) == 2
    assert admin.get("/api/v1/tickets", {"status": "bogus"}).status_code == 422
