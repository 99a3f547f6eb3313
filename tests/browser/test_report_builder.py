"""The report builder in a real browser: build, preview, save onto a dashboard, see the chart
drawn, drill into a cell, export XLSX and PNG."""

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.factories import PASSWORD, CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)

CANVAS_DRAWN = """(selector) => {
  const canvas = document.querySelector(selector + ' canvas');
  if (!canvas || !canvas.width) return false;
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
  return painted > 500;
}"""


def test_build_save_drill_and_export(page, make_user):
    from openpyxl import load_workbook

    from kehu.transactions.models import Order

    manager = make_user("sales_manager", username="boss")
    stranger = make_user("sales_rep", username="other")
    now = timezone.now()
    n = 0
    for owner, regions in ((manager, ("华东", "华东", "华南")), (stranger, ("华北",))):
        for region in regions:
            customer = CustomerFactory(owner=owner, region=region)
            for months_ago in (0, 1):
                n += 1
                Order.objects.create(customer=customer, number=f"SO-{n}", status="paid",
                                     ordered_at=now - dt.timedelta(days=31 * months_ago),
                                     total_amount=Decimal("100.00") * n)
    login(page, "boss", PASSWORD)
    page.goto("/reports/")
    page.get_by_test_id("dashboard-name").fill("团队看板")
    page.get_by_test_id("dashboard-create").click()
    expect(page.locator("h1")).to_have_text("团队看板")

    page.goto("/reports/new/?subject=orders")
    page.get_by_test_id("report-group1").select_option("date")
    page.locator("select[name=bucket1]").select_option("month")
    page.get_by_test_id("report-group2").select_option("region")
    page.get_by_test_id("report-chart-type").select_option("stacked_bar")
    page.locator("select[name=period]").select_option("")
    page.get_by_test_id("report-preview-button").click()
    expect(page.get_by_test_id("report-chart")).to_be_visible()
    page.wait_for_function(CANVAS_DRAWN, arg="#report-preview [data-testid=report-chart]")
    expect(page.get_by_test_id("report-total")).to_have_attribute("data-value", "6")
    page.get_by_test_id("report-name").fill("按月按区域订单")
    page.get_by_test_id("report-dashboard").select_option(label="团队看板")
    page.get_by_test_id("report-save").click()

    expect(page.locator("h1")).to_have_text("团队看板")
    panel = page.get_by_test_id("dashboard-panel").first
    expect(panel).to_contain_text("按月按区域订单")
    expect(panel).to_contain_text("华东")
    expect(panel).not_to_contain_text("华北")  # another rep's book
    page.wait_for_function(CANVAS_DRAWN, arg="[data-testid=dashboard-panel] [data-testid=report-chart]")

    with page.expect_download() as png:
        panel.get_by_test_id("chart-png").click()
    assert png.value.suggested_filename.endswith(".png")

    with page.expect_download() as xlsx:
        panel.get_by_test_id("panel-xlsx").click()
    sheet = load_workbook(io.BytesIO(open(xlsx.value.path(), "rb").read())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[-1][-1] == 6 and {r[1] for r in rows[1:-1]} == {"华东", "华南"}

    cell = panel.get_by_test_id("report-cell").first
    expected = cell.get_attribute("data-value")
    cell.click()
    expect(page.get_by_test_id("drill-count")).to_have_text(expected)
    expect(page.get_by_test_id("drill-row")).to_have_count(int(expected))


def test_filter_built_in_the_condition_builder_round_trips(page, make_user):
    from kehu.transactions.models import Order

    manager = make_user("sales_manager", username="boss")
    now = timezone.now()
    n = 0
    for region in ("华东", "华东", "华南"):
        customer = CustomerFactory(owner=manager, region=region)
        for days_ago in (1, 40):
            n += 1
            Order.objects.create(customer=customer, number=f"SO-{n}", status="paid",
                                 ordered_at=now - dt.timedelta(days=days_ago),
                                 total_amount=Decimal("10.00"))
    east_orders = Order.objects.filter(customer__region="华东").count()
    login(page, "boss", PASSWORD)
    page.goto("/reports/new/?subject=orders")
    page.get_by_test_id("report-group1").select_option("region")
    page.locator("select[name=bucket1]").select_option("")
    page.get_by_test_id("report-chart-type").select_option("table")
    page.locator("select[name=period]").select_option("")
    # Pick the condition in the embedded segment builder: 大区 = 华东.
    page.get_by_test_id("add-field-r").click()
    expect(page.get_by_test_id("field-r.c0")).to_have_value("region")
    page.get_by_test_id("value-r.c0").select_option("华东")
    expect(page.get_by_test_id("segment-count")).to_have_text("2")
    page.get_by_test_id("report-preview-button").click()
    expect(page.get_by_test_id("report-total")).to_have_attribute("data-value",
                                                                  str(east_orders))
    expect(page.locator("#report-preview")).not_to_contain_text("华南")
    page.get_by_test_id("report-name").fill("华东订单")
    page.get_by_test_id("report-save").click()

    expect(page.locator("h1")).to_have_text("华东订单")
    expect(page.get_by_test_id("report-filters-described")).to_contain_text("华东")
    expect(page.get_by_test_id("report-total")).to_have_attribute("data-value",
                                                                  str(east_orders))
    report_id = page.url.rstrip("/").split("/")[-1]
    page.goto(f"/reports/{report_id}/edit/")
    expect(page.get_by_test_id("field-r.c0")).to_have_value("region")
    expect(page.get_by_test_id("value-r.c0")).to_have_value("华东")
    page.get_by_test_id("report-preview-button").click()
    expect(page.get_by_test_id("report-total")).to_have_attribute("data-value",
                                                                  str(east_orders))
