"""The pipeline in a real browser: drag a deal across the board and see both columns'
amounts change; quote → accept → contract → payment plan → record a payment."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kehu.core.actor import Actor
from kehu.customers import services as customers
from kehu.pipeline import services
from kehu.pipeline.models import Contract, Deal, Payment, Quote
from tests.browser.conftest import login
from tests.factories import PASSWORD, ProductFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rep(make_user):
    return make_user("sales_rep", username="wanglei", display_name="王磊")


def _deal(rep, title, amount):
    customer = customers.customer_create(actor=Actor(user=rep), name=f"{title}公司",
                                         kind="organisation")
    return services.deal_create(actor=Actor(user=rep), customer=customer, title=title,
                                amount=amount,
                                expected_close_date=timezone.localdate() + dt.timedelta(days=9))


def _drag(page, source, target):
    box, goal = source.bounding_box(), target.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 10)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + (goal["x"] + goal["width"] / 2 - box["x"]) * step / 10,
                        box["y"] + 10 + (goal["y"] + 30 - box["y"] - 10) * step / 10)
    page.mouse.up()


def test_drag_a_deal_across_stages_updates_the_amounts(page, rep):
    moving = _deal(rep, "集采项目", "1000.00")
    _deal(rep, "维保项目", "2500.00")
    login(page, "wanglei", PASSWORD)
    page.goto("/pipeline/")
    first = page.get_by_test_id("column-初步接洽")
    second = page.get_by_test_id("column-需求确认")
    expect(first.get_by_test_id("column-amount")).to_have_text("¥3,500.00")
    expect(second.get_by_test_id("column-count")).to_have_text("0")
    card = first.locator(f'[data-deal="{moving.pk}"]')
    _drag(page, card, second.locator("[data-cards]"))
    expect(second.get_by_test_id("column-amount")).to_have_text("¥1,000.00")
    expect(second.get_by_test_id("column-count")).to_have_text("1")
    expect(first.get_by_test_id("column-amount")).to_have_text("¥2,500.00")
    expect(second).to_contain_text("集采项目")
    assert Deal.objects.get(pk=moving.pk).stage.name == "需求确认"


def test_quote_accept_contract_plan_and_payment(page, rep):
    deal = _deal(rep, "产线升级", "2000.00")
    ProductFactory(sku="PRN-01", name="工业打印机", unit_price="1000.00")
    login(page, "wanglei", PASSWORD)
    page.goto(f"/pipeline/deals/{deal.pk}/")
    page.get_by_test_id("new-quote").click()
    form = page.get_by_test_id("quote-form")
    line = form.get_by_test_id("quote-line").first
    line.locator("select[name$=product]").select_option(label="PRN-01 工业打印机")
    line.locator("input[name$=quantity]").fill("2")
    line.locator("select[name$=tax_rate]").select_option("13%")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("quote-total")).to_have_text("¥2,260.00")
    page.get_by_test_id("quote-send").click()
    page.get_by_test_id("quote-accept").click()
    expect(page.get_by_test_id("quote-status")).to_have_text("已接受")
    page.get_by_test_id("quote-contract").click()
    page.get_by_test_id("contract-form").locator("button[type=submit]").click()
    expect(page.get_by_test_id("contract-status")).to_have_text("草稿")
    contract = Contract.objects.get()
    assert contract.amount == Quote.objects.get().total
    plan = page.get_by_test_id("plan-form")
    today = timezone.localdate()
    plan.locator("input[name=plan-0-due_date]").fill(today.isoformat())
    plan.locator("input[name=plan-0-amount]").fill("1000")
    plan.locator("input[name=plan-1-due_date]").fill((today + dt.timedelta(days=30)).isoformat())
    plan.locator("input[name=plan-1-amount]").fill("1260")
    plan.locator("button[type=submit]").click()
    expect(page.get_by_test_id("plan")).to_contain_text("¥1,260.00")
    status = page.get_by_test_id("contract-status-form")
    for code, label in (("approving", "审批中"), ("signed", "已签约")):
        status.locator("select[name=status]").select_option(code)
        status.locator("button[type=submit]").click()
        expect(page.get_by_test_id("contract-status")).to_have_text(label)
    pay = page.get_by_test_id("payment-form")
    pay.locator("input[name=amount]").fill("1500")
    pay.locator("input[name=reference]").fill("招行流水 0001")
    pay.locator("button[type=submit]").click()
    expect(page.get_by_test_id("payments")).to_contain_text("招行流水 0001")
    expect(page.get_by_test_id("contract-paid")).to_have_text("¥1,500.00")
    assert Payment.objects.get().amount == 1500


def test_pipeline_pages_fit_a_phone(chromium_browser, live_server, rep):
    deal = _deal(rep, "手机端项目", "3000.00")
    ProductFactory(sku="P-1", name="打印机", unit_price="10.00")
    quote = services.quote_create(actor=Actor(user=rep), deal=deal,
                                  valid_until=timezone.localdate() + dt.timedelta(days=3),
                                  lines=[{"product": ProductFactory().pk, "quantity": 1}])
    context = chromium_browser.new_context(base_url=live_server.url, locale="zh-CN",
                                           viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        login(page, "wanglei", PASSWORD)
        for path in ("/pipeline/", "/pipeline/deals/", f"/pipeline/deals/{deal.pk}/",
                     f"/pipeline/quotes/{quote.pk}/", f"/pipeline/quotes/{quote.pk}/print/",
                     "/pipeline/contracts/", "/pipeline/receivables/", "/pipeline/forecast/"):
            page.goto(path)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{path} is {overflow}px wider than the screen"
        page.goto("/pipeline/")
        expect(page.get_by_test_id("column-初步接洽")).to_contain_text("手机端项目")
        expect(page.get_by_test_id("column-初步接洽")).to_contain_text("本阶段 0 天")
    finally:
        context.close()
