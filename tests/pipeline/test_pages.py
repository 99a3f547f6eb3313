"""The pipeline's pages: board with totals, moves by the board's JSON post, deal, quote
(print and PDF), contract, receivables and forecast pages, the card's deals; permissions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from kehu.core.actor import Actor
from kehu.pipeline import services
from kehu.pipeline.models import Contract, Deal, Instalment, Payment, Quote
from tests.factories import ProductFactory, create_customer
from tests.pipeline.helpers import accepted_quote, make_deal, signed_contract, stage, today

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(make_user):
    return make_user("sales_rep")


@pytest.fixture
def web(client, rep):
    client.force_login(rep)
    return client


def test_board_shows_columns_with_count_and_amount(web, rep):
    make_deal(rep, amount="1000.00", title="甲")
    make_deal(rep, amount="2500.50", title="乙")
    response = web.get(reverse("pipeline:board"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "初步接洽" in html and "¥3,500.50" in html and "甲" in html
    assert "kehu/vendor/Sortable-1.15.7.min.js" in html


def test_board_drop_moves_and_answers_new_totals(web, rep):
    deal = make_deal(rep, amount="1000.00")
    url = reverse("pipeline:deal_move", args=[deal.pk])
    response = web.post(url, {"stage": stage("需求确认").pk},
                        HTTP_ACCEPT="application/json")
    data = response.json()
    assert response.status_code == 200 and data["ok"]
    assert data["columns"][str(stage("需求确认").pk)]["count"] == 1
    assert data["columns"][str(stage("初步接洽").pk)]["count"] == 0
    assert "¥1,000.00" in data["columns"][str(stage("需求确认").pk)]["header"]
    # lost without a reason: refused, JSON error, nothing changed
    response = web.post(url, {"stage": stage("输单").pk}, HTTP_ACCEPT="application/json")
    assert response.status_code == 422 and response.json()["code"] == "validation_error"
    assert Deal.objects.get(pk=deal.pk).stage.name == "需求确认"


def test_read_only_cannot_move(client, make_user, rep):
    viewer = make_user("read_only")
    deal = make_deal(rep)
    client.force_login(viewer)
    assert client.get(reverse("pipeline:board")).status_code == 200
    response = client.post(reverse("pipeline:deal_move", args=[deal.pk]),
                           {"stage": stage("需求确认").pk}, HTTP_ACCEPT="application/json")
    assert response.status_code == 403
    assert Deal.objects.get(pk=deal.pk).stage.name == "初步接洽"


def test_other_reps_deal_is_404(client, make_user, rep):
    other = make_user("sales_rep")
    deal = make_deal(other)
    client.force_login(rep)
    assert client.get(reverse("pipeline:deal", args=[deal.pk])).status_code == 404
    assert client.post(reverse("pipeline:deal_move", args=[deal.pk]),
                       {"stage": stage("需求确认").pk}).status_code == 404


def test_deal_form_create_and_page(web, rep):
    customer = create_customer(owner=rep, name="上海某某科技有限公司", kind="organisation")
    product = ProductFactory(unit_price="44000.00")
    response = web.post(reverse("pipeline:deal_create") + f"?customer={customer.pk}", {
        "customer": customer.pk, "title": "CRM 项目", "amount": "",
        "expected_close_date": (today() + dt.timedelta(days=10)).isoformat(),
        "contacts-TOTAL_FORMS": "1", "contacts-INITIAL_FORMS": "0",
        "contacts-0-person": customer.pk, "contacts-0-decision_role": "decision_maker",
        "lines-TOTAL_FORMS": "2", "lines-INITIAL_FORMS": "0",
        "lines-0-product": product.pk, "lines-0-quantity": "2", "lines-1-product": ""})
    deal = Deal.objects.get(title="CRM 项目")
    assert response.status_code == 302 and deal.amount == Decimal("88000.00")
    assert [c.decision_role for c in deal.contacts.all()] == ["decision_maker"]
    assert deal.lines.get().quantity == Decimal("2.00")
    assert web.get(reverse("pipeline:deal_edit", args=[deal.pk])).status_code == 200
    page = web.get(reverse("pipeline:deal", args=[deal.pk])).content.decode()
    assert "CRM 项目" in page and "初步接洽" in page
    card = web.get(reverse("cards:card", args=[customer.pk])).content.decode()
    assert "CRM 项目" in card and 'data-testid="deals-tab"' in card
    lists = web.get(reverse("pipeline:deals") + "?q=CRM").content.decode()
    assert "CRM 项目" in lists


def test_quote_pages_print_and_pdf(web, rep):
    deal = make_deal(rep)
    product = ProductFactory(unit_price="100.00", name="喷墨打印机")
    response = web.post(reverse("pipeline:quote_create") + f"?deal={deal.pk}", {
        "deal": deal.pk, "valid_until": (today() + dt.timedelta(days=5)).isoformat(),
        "notes": "", "lines-TOTAL_FORMS": "2", "lines-INITIAL_FORMS": "0",
        "lines-0-product": product.pk, "lines-0-quantity": "3", "lines-0-unit_price": "33.33",
        "lines-0-discount": "10", "lines-0-tax_rate": "13%",
        "lines-1-product": "", "lines-1-tax_rate": "13%"})
    quote = Quote.objects.get()
    assert response.status_code == 302 and quote.total == Decimal("101.69")
    web.post(reverse("pipeline:quote_action", args=[quote.pk, "accept"]))
    assert Quote.objects.get().status == "draft"  # a draft cannot be accepted
    web.post(reverse("pipeline:quote_action", args=[quote.pk, "send"]))
    web.post(reverse("pipeline:quote_action", args=[quote.pk, "accept"]))
    assert Quote.objects.get().status == "accepted"
    printed = web.get(reverse("pipeline:quote_print", args=[quote.pk])).content.decode()
    assert "喷墨打印机" in printed and "¥101.69" in printed and "¥11.70" in printed
    pdf = web.get(reverse("pipeline:quote_pdf", args=[quote.pk]))
    assert pdf.status_code in (200, 302)
    if pdf.status_code == 200:
        assert pdf.content.startswith(b"%PDF")


def test_pdf_without_pango_explains(web, rep, monkeypatch):
    import builtins

    quote = accepted_quote(rep, make_deal(rep))
    real_import = builtins.__import__

    def no_weasyprint(name, *args, **kwargs):
        if name == "weasyprint":
            raise OSError("cannot load library 'libpango-1.0-0'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_weasyprint)
    response = web.get(reverse("pipeline:quote_pdf", args=[quote.pk]), follow=True)
    assert response.status_code == 200
    assert "Pango" in response.content.decode()


def test_contract_pages_plan_and_payment(web, rep):
    quote = accepted_quote(rep, make_deal(rep))
    response = web.post(reverse("pipeline:contract_create") + f"?quote={quote.pk}", {
        "quote": quote.pk, "title": "采购合同", "amount": "2260.00",
        "start_date": today().isoformat(),
        "end_date": (today() + dt.timedelta(days=365)).isoformat(),
        "renewal_reminder_days": "30"})
    contract = Contract.objects.get()
    assert response.status_code == 302
    post = lambda action, data: web.post(  # noqa: E731
        reverse("pipeline:contract_post", args=[contract.pk, action]), data)
    post("plan", {"plan-TOTAL_FORMS": "2", "plan-INITIAL_FORMS": "0",
                  "plan-0-due_date": today().isoformat(), "plan-0-amount": "1000",
                  "plan-1-due_date": (today() + dt.timedelta(days=30)).isoformat(),
                  "plan-1-amount": "1260"})
    assert Instalment.objects.filter(contract=contract).count() == 2
    post("status", {"status": "signed"})  # draft -> signed refused
    assert Contract.objects.get().status == "draft"
    post("status", {"status": "approving"})
    post("status", {"status": "signed"})
    post("payment", {"received_on": today().isoformat(), "amount": "1500",
                     "method": "bank_transfer", "reference": "招行 0001"})
    assert Payment.objects.get().amount == Decimal("1500.00")
    page = web.get(reverse("pipeline:contract", args=[contract.pk])).content.decode()
    assert "¥1,500.00" in page and "招行 0001" in page
    assert web.get(reverse("pipeline:receivables")).status_code == 200


def test_forecast_page_and_targets(client, make_user):
    manager = make_user("sales_manager")
    make_deal(manager, amount="5000.00", close=today())
    client.force_login(manager)
    response = client.post(reverse("pipeline:forecast"), {
        "who": f"user:{manager.pk}", "period_kind": "month", "year": today().year,
        "period": today().month, "amount": "20000"})
    assert response.status_code == 302
    page = client.get(reverse("pipeline:forecast")).content.decode()
    assert "¥20,000.00" in page and "¥500.00" in page


def test_signed_contract_helper(rep):
    contract = signed_contract(rep, amount="10.00")
    assert contract.status == "signed"
    services.contract_set_status(actor=Actor(user=rep), contract=contract, status="executing")


def test_pipeline_configuration_page(client, make_user, rep):
    from kehu.pipeline.models import Pipeline

    client.force_login(rep)
    assert client.get(reverse("pipeline:pipelines")).status_code == 403
    assert "/pipeline/pipelines/" not in client.get(reverse("pipeline:board")).content.decode()
    manager = make_user("sales_manager")
    client.force_login(manager)
    rows = [("报备", 20, "open", "pipeline"), ("签约", 100, "won", "commit"),
            ("丢单", 0, "lost", "pipeline")]
    data = {"name": "渠道销售", "is_active": "on", "stages-TOTAL_FORMS": "4",
            "stages-INITIAL_FORMS": "0"}
    for i, (name, probability, kind, category) in enumerate(rows):
        data.update({f"stages-{i}-name": name, f"stages-{i}-probability": probability,
                     f"stages-{i}-kind": kind, f"stages-{i}-forecast_category": category,
                     f"stages-{i}-stalled_days": 14})
    data.update({"stages-3-name": "", "stages-3-kind": "open",
                 "stages-3-forecast_category": "pipeline"})
    response = client.post(reverse("pipeline:pipeline_create"), data)
    assert response.status_code == 302
    pipeline = Pipeline.objects.get(name="渠道销售")
    assert [s.name for s in pipeline.stages.all()] == ["报备", "签约", "丢单"]
    page = client.get(reverse("pipeline:pipeline_edit", args=[pipeline.pk]))
    assert page.status_code == 200 and "报备" in page.content.decode()
