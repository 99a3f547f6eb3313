"""Importing orders in a real browser: a workbook whose orders are on its second sheet (picked
on the page, re-read over htmx), a corrected mapping saved as a template, and the template
applied to next month's file whose columns moved."""

from decimal import Decimal

import pytest
from openpyxl import Workbook
from playwright.sync_api import expect

from kehu.transactions.models import Order
from tests.browser.conftest import login
from tests.factories import PASSWORD, ProductFactory, create_customer

pytestmark = pytest.mark.django_db(transaction=True)

HEADER = ["单据", "客户手机", "商品编码", "数量", "下单时间"]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def two_sheets(path):
    book = Workbook()
    book.active.title = "说明"
    book.active.append(["本表由商城后台导出"])
    orders = book.create_sheet("订单")
    orders.append(HEADER)
    orders.append(["SO-1", "13812345678", "CUP-1", "2", "2024-03-05 14:30"])
    orders.append(["SO-1", "13812345678", "TEA-2", "1", "2024-03-05 14:30"])
    orders.append(["SO-2", "13812345678", "CUP-1", "1", "2024-03-06 09:00"])
    book.save(path)
    return path


def next_month(path):
    book = Workbook()
    book.active.title = "订单"
    book.active.append(["下单时间", "商品编码", "单据", "客户手机", "数量"])
    book.active.append(["2024-04-01 10:00", "TEA-2", "SO-3", "13812345678", "3"])
    book.save(path)
    return path


def upload_orders(page, path):
    page.goto("/interchange/imports/")
    page.select_option("select[name=kind]", "orders")
    page.set_input_files("input[name=file]", str(path))
    page.get_by_test_id("import-upload-submit").click()
    expect(page.get_by_test_id("import-mapping")).to_be_visible()


def test_orders_from_the_second_sheet_with_a_saved_template(page, make_user, tmp_path):
    make_user("admin", username="boss")
    create_customer(name="王芳", mobile="13812345678")
    ProductFactory(sku="CUP-1", name="保温杯", unit_price=Decimal("99.00"))
    ProductFactory(sku="TEA-2", name="龙井茶", unit_price=Decimal("268.00"))
    login(page, "boss", PASSWORD)

    upload_orders(page, two_sheets(tmp_path / "商城订单.xlsx"))
    area = page.get_by_test_id("mapping-area")
    expect(area).to_have_attribute("data-sheet", "说明")
    page.get_by_test_id("import-sheet-select").select_option("订单")
    expect(area).to_have_attribute("data-sheet", "订单")
    expect(page.get_by_test_id("import-preview")).to_contain_text("SO-2")
    expect(page.locator("select[name=col_0]")).to_have_value("")  # "单据" is not recognised
    expect(page.locator("select[name=col_1]")).to_have_value("mobile")
    expect(page.locator("select[name=col_2]")).to_have_value("sku")
    page.select_option("select[name=col_0]", "order_no")
    page.fill("input[name=template_name]", "商城订单")
    page.get_by_test_id("import-template-save").click()
    expect(page.locator("select[name=col_0]")).to_have_value("order_no")
    expect(page.get_by_test_id("import-template-select")).to_contain_text("商城订单")
    page.get_by_test_id("import-run").click()
    expect(page.get_by_test_id("import-job")).to_have_attribute("data-status", "done")
    expect(page.get_by_test_id("count-created")).to_have_text("3")
    expect(page.get_by_test_id("count-rejected")).to_have_text("0")
    assert sorted(Order.objects.values_list("number", flat=True)) == ["SO-1", "SO-2"]

    upload_orders(page, next_month(tmp_path / "四月订单.xlsx"))
    expect(page.locator("select[name=col_2]")).to_have_value("")
    saved = page.locator("#import-template-select option", has_text="商城订单")
    page.get_by_test_id("import-template-select").select_option(saved.get_attribute("value"))
    page.get_by_test_id("import-template-apply").click()
    expect(page.locator("select[name=col_0]")).to_have_value("ordered_at")
    expect(page.locator("select[name=col_1]")).to_have_value("sku")
    expect(page.locator("select[name=col_2]")).to_have_value("order_no")
    expect(page.locator("select[name=col_3]")).to_have_value("mobile")
    expect(page.locator("select[name=col_4]")).to_have_value("quantity")
    page.get_by_test_id("import-run").click()
    expect(page.get_by_test_id("import-job")).to_have_attribute("data-status", "done")
    expect(page.get_by_test_id("count-created")).to_have_text("1")
    assert Order.objects.get(number="SO-3").lines.get().quantity == Decimal("3.00")
