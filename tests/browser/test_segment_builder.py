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
from kehu.transactions.models import Order, OrderLine, Product
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
