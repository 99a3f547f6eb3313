"""In a real browser: build the seeds' example segment from its template, watch the count
change live as a condition is edited, save it, export its members."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kehu.customers.models import Customer
from kehu.interactions.models import Event
from kehu.transactions.models import Order, OrderLine, Product, Ticket
from tests.browser.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def _buyer(name, region, *, viewed: bool, product):
    now = timezone.now()
    customer = Customer.objects.create(name=name, region=region)
    order = Order.objects.create(customer=customer, number=f"N-{name}", status="paid",
                                 ordered_at=now - timedelta(days=3), total_amount="99.00")
    OrderLine.objects.create(order=order, product=product, quantity=1, unit_price="99.00",
                             amount="99.00")
    if viewed:
        Event.objects.create(customer=customer, event_type="page_view",
                             occurred_at=now - timedelta(days=1),
                             properties={"url": "/products/b/accessories/cable"})
    return customer


def test_build_the_seeds_example_live_save_and_export(page, make_user):
    make_user("marketer", username="mkt")
    product = Product.objects.create(sku="A", name="产品A", category="打印机", unit_price="99.00")
    _buyer("王芳", "华东", viewed=True, product=product)
    _buyer("李强", "华东", viewed=False, product=product)
    _buyer("陈静", "华南", viewed=True, product=product)
    login(page, "mkt", PASSWORD)
    page.goto("/segments/")
    page.get_by_test_id("template-east_bought_a_viewed_b").click()
    count = page.get_by_test_id("segment-count")
    expect(count).to_have_text("1")
    expect(page.get_by_test_id("segment-sample")).to_contain_text("王芳")
    # Widen the page-view condition: any URL under /products -> the count follows, live.
    page.get_by_test_id("prop-value-r.c2").fill("/products")
    expect(count).to_have_text("1")
    page.get_by_test_id("value-r.c0").select_option("华南")
    expect(count).to_have_text("1")
    expect(page.get_by_test_id("segment-sample")).to_contain_text("陈静")
    page.get_by_test_id("value-r.c0").select_option("华东")
    expect(count).to_have_text("1")
    page.get_by_test_id("remove-r.c2").click()
    expect(count).to_have_text("2")
    page.get_by_test_id("segment-name").fill("华东买A的客户")
    page.get_by_test_id("segment-save").click()
    expect(page.get_by_test_id("segment-size")).to_have_text("2")
    with page.expect_download() as download_info:
        page.get_by_test_id("segment-export-csv").click()
    text = open(download_info.value.path(), encoding="utf-8-sig").read()
    names = sorted(row[0] for row in list(csv.reader(io.StringIO(text)))[1:])
    assert names == ["李强", "王芳"]


def _complaint(name, days_ago):
    customer = Customer.objects.create(name=name, region="华东")
    Ticket.objects.create(customer=customer, number=f"T-{name}", kind="complaint",
                          subject="投诉", opened_at=timezone.now() - timedelta(days=days_ago))
    return customer


def test_a_saved_time_window_reopens_with_the_same_days_and_count(page, make_user):
    make_user("marketer", username="mkt")
    _complaint("赵敏", 2)
    _complaint("周芷若", 6)
    _complaint("殷离", 20)
    _complaint("小昭", 100)
    login(page, "mkt", PASSWORD)
    page.goto("/segments/builder/")
    page.get_by_test_id("add-ticket-r").click()
    count = page.get_by_test_id("segment-count")
    expect(page.get_by_test_id("days-r.c0")).to_have_value("30")
    page.locator('select[name="r.c0.name"]').select_option("complaint")
    expect(count).to_have_text("3")
    page.get_by_test_id("days-r.c0").fill("10")
    expect(count).to_have_text("2")
    page.get_by_test_id("segment-name").fill("近10天有投诉")
    page.get_by_test_id("segment-save").click()
    expect(page.get_by_test_id("segment-size")).to_have_text("2")
    page.get_by_role("link", name="编辑").click()
    # Reopened: the same days in the box, the same kind, the same count.
    expect(page.get_by_test_id("days-r.c0")).to_have_value("10")
    expect(page.locator('select[name="r.c0.name"]')).to_have_value("complaint")
    expect(count).to_have_text("2")
    # Saved again unchanged, and recomputed: still the same members.
    page.get_by_test_id("segment-save").click()
    expect(page.get_by_test_id("segment-size")).to_have_text("2")
    page.get_by_test_id("segment-refresh").click()
    expect(page.get_by_test_id("segment-size")).to_have_text("2")
    expect(page.locator("table")).to_contain_text("赵敏")
    expect(page.locator("table")).not_to_contain_text("殷离")
