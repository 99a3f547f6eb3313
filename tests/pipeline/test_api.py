"""The pipeline API: create → quote → accept → contract → plan → payment over HTTP, stable
error codes, record scope and masking, a permission matrix where denied calls change
nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from kehu.customers.models import ContactLink
from kehu.pipeline.models import Contract, Deal, Payment, Quote, Target
from tests.factories import ProductFactory, TeamFactory, create_customer
from tests.pipeline.helpers import make_deal, stage, today

pytestmark = pytest.mark.django_db
API = "/api/v1"


def _json(client, method, path, body=None):
    call = getattr(client, method)
    if body is None:
        return call(API + path)
    return call(API + path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def team():
    return TeamFactory()


@pytest.fixture
def rep(make_user, team):
    return make_user("sales_rep", team=team)


def test_full_flow_over_the_api(api_client_for, rep):
    client = api_client_for(rep)
    customer = create_customer(owner=rep, name="深圳某某电子有限公司", kind="organisation")
    product = ProductFactory(unit_price="500.00")
    deal = _json(client, "post", "/deals", {
        "customer_id": customer.pk, "title": "产线升级", "expected_close_date":
        (today() + dt.timedelta(days=15)).isoformat(),
        "lines": [{"product_id": product.pk, "quantity": "4"}]})
    assert deal.status_code == 201, deal.content
    deal = deal.json()
    assert deal["amount"] == "2000.00" and deal["stage"] == "初步接洽"
    assert deal["weighted_amount"] == "200.00" and len(deal["stage_history"]) == 1
    moved = _json(client, "post", f"/deals/{deal['id']}/move", {"stage_id": stage("方案报价").pk})
    assert moved.json()["probability"] == 50
    lost = _json(client, "post", f"/deals/{deal['id']}/move", {"stage_id": stage("输单").pk})
    assert lost.status_code == 422 and lost.json()["details"]["lost_reason"]
    quote = _json(client, "post", "/quotes", {
        "deal_id": deal["id"], "valid_until": (today() + dt.timedelta(days=7)).isoformat(),
        "lines": [{"product_id": product.pk, "quantity": "4", "discount": "5",
                   "tax_rate": "13%"}]}).json()
    assert (quote["subtotal"], quote["tax_total"], quote["total"]) == (
        "1900.00", "247.00", "2147.00")
    refused = _json(client, "post", f"/quotes/{quote['id']}/accept")
    assert refused.status_code == 422 and refused.json()["code"] == "invalid_transition"
    assert _json(client, "post", f"/quotes/{quote['id']}/send").json()["status"] == "sent"
    assert _json(client, "post", f"/quotes/{quote['id']}/accept").json()["status"] == "accepted"
    contract = _json(client, "post", "/contracts", {
        "quote_id": quote["id"], "title": "产线升级合同", "start_date": today().isoformat(),
        "end_date": (today() + dt.timedelta(days=365)).isoformat()})
    assert contract.status_code == 201, contract.content
    contract = contract.json()
    assert contract["amount"] == "2147.00" and contract["status"] == "draft"
    plan = _json(client, "put", f"/contracts/{contract['id']}/plan", {"instalments": [
        {"due_date": today().isoformat(), "amount": "1000.00"},
        {"due_date": (today() + dt.timedelta(days=30)).isoformat(), "amount": "1147.00"}]})
    assert plan.status_code == 200 and len(plan.json()["instalments"]) == 2
    for status in ("approving", "signed", "executing"):
        assert _json(client, "post", f"/contracts/{contract['id']}/status",
                     {"status": status}).json()["status"] == status
    payment = _json(client, "post", "/payments", {
        "contract_id": contract["id"], "received_on": today().isoformat(), "amount": "1200.00",
        "method": "bank_transfer", "reference": "BT-1"})
    assert payment.status_code == 201
    assert [a["amount"] for a in payment.json()["allocations"]] == ["1000.00", "200.00"]
    aging = _json(client, "get", "/receivables/aging").json()
    assert aging["totals"]["total"] == "947.00"
    board = _json(client, "get", f"/pipelines/{Deal.objects.get().pipeline_id}/board").json()
    column = next(c for c in board if c["stage"]["name"] == "方案报价")
    assert column["count"] == 1 and column["amount"] == "2000.00"
    forecast = _json(client, "get", "/forecast?months=2").json()
    assert len(forecast) == 2 and "commit" in forecast[0]
    invoice = _json(client, "post", "/invoice-requests", {
        "contract_id": contract["id"], "amount": "1200.00", "kind": "normal"})
    assert invoice.status_code == 201 and invoice.json()["status"] == "requested"


def test_scope_and_masking(api_client_for, make_user, team):
    owner = make_user("sales_rep", team=team)
    other = make_user("sales_rep", team=TeamFactory())
    manager = make_user("sales_manager", team=team)
    marketer = make_user("marketer")
    org = create_customer(owner=owner, name="杭州某某贸易有限公司", kind="organisation")
    person = create_customer(owner=owner, name="陈静", mobile="13812345678")
    ContactLink.objects.create(organisation=org, person=person, decision_role="influencer")
    deal = make_deal(owner, customer=org, contacts=[{"person": person.pk,
                                                      "decision_role": "influencer"}])
    # the owner sees the contact's mobile in clear; the marketer's role masks it
    mine = _json(api_client_for(owner), "get", f"/deals/{deal.pk}").json()
    assert mine["contacts"][0]["mobile"] == "+8613812345678"
    masked = _json(api_client_for(marketer), "get", f"/deals/{deal.pk}").json()
    assert masked["contacts"][0]["mobile"] != "+8613812345678"
    assert "5678" in masked["contacts"][0]["mobile"]
    # another team's rep: not found, and absent from lists
    assert _json(api_client_for(other), "get", f"/deals/{deal.pk}").status_code == 404
    assert _json(api_client_for(other), "get", "/deals").json()["count"] == 0
    # the manager sees the team's deal
    assert _json(api_client_for(manager), "get", "/deals").json()["count"] == 1


@pytest.mark.parametrize(("role", "expected"), [
    ("admin", 201), ("sales_manager", 201), ("sales_rep", 201), ("marketer", 403),
    ("service_agent", 403), ("read_only", 403)])
def test_create_deal_permission_matrix(api_client_for, make_user, role, expected):
    user = make_user(role)
    customer = create_customer(owner=user, name="客户甲")
    response = _json(api_client_for(user), "post", "/deals", {
        "customer_id": customer.pk, "title": "项目", "amount": "10",
        "expected_close_date": today().isoformat()})
    assert response.status_code == expected, response.content
    assert Deal.objects.count() == (1 if expected == 201 else 0)
    if expected == 403:
        assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize(("role", "expected"), [
    ("sales_manager", 200), ("sales_rep", 403), ("read_only", 403)])
def test_set_target_permission_matrix(api_client_for, make_user, team, role, expected):
    user = make_user(role, team=team)
    response = _json(api_client_for(user), "put", "/targets", {
        "team_id": team.pk, "period_kind": "month", "year": 2026, "period": 5,
        "amount": "100000"})
    assert response.status_code == expected, response.content
    assert Target.objects.count() == (1 if expected == 200 else 0)


def test_denied_writes_change_nothing(api_client_for, make_user, rep):
    viewer = make_user("read_only")
    deal = make_deal(rep)
    client = api_client_for(viewer)
    assert _json(client, "get", f"/deals/{deal.pk}").status_code == 200  # read_only scope all
    assert _json(client, "post", f"/deals/{deal.pk}/move",
                 {"stage_id": stage("需求确认").pk}).status_code == 403
    assert _json(client, "patch", f"/deals/{deal.pk}", {"amount": "1"}).status_code == 403
    deal.refresh_from_db()
    assert deal.stage.name == "初步接洽" and str(deal.amount) == "10000.00"
    assert not Quote.objects.exists() and not Contract.objects.exists()
    assert not Payment.objects.exists()


def test_bad_input_is_named(api_client_for, rep):
    client = api_client_for(rep)
    response = _json(client, "post", "/deals", {"customer_id": 1, "title": "",
                                                "expected_close_date": "2026-13-01",
                                                "bogus": 1})
    assert response.status_code == 422
    response = _json(client, "get", "/deals?close_month=2026-13")
    assert response.status_code == 422 and "close_month" in response.json()["details"]


def test_card_lists_the_customers_deals(api_client_for, rep):
    customer = create_customer(owner=rep, name="苏州某某精密有限公司", kind="organisation")
    make_deal(rep, customer=customer, title="精密件采购")
    card = _json(api_client_for(rep), "get", f"/customers/{customer.pk}/card").json()
    assert [d["title"] for d in card["deals"]] == ["精密件采购"]


def test_board_pages_its_columns(api_client_for, rep):
    customer = create_customer(owner=rep, name="客户乙")
    for i in range(5):
        make_deal(rep, customer=customer, title=f"项目{i}", amount="100.00",
                  close=today() + dt.timedelta(days=5 - i))
    pipeline_id = Deal.objects.first().pipeline_id
    board = _json(api_client_for(rep), "get", f"/pipelines/{pipeline_id}/board?per_stage=2").json()
    first = board[0]
    assert first["count"] == 5 and first["amount"] == "500.00" and first["weighted"] == "50.00"
    assert [d["title"] for d in first["deals"]] == ["项目4", "项目3"] and first["more"]
    assert all(c["count"] == 0 and not c["deals"] for c in board[1:])
