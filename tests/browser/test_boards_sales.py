"""The three sales boards in a real browser, as a sales manager: charts draw (canvas with
non-white pixels), labels are Chinese, a funnel step opens its list, a churn row's button
creates a task."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.dashboards.sales_book import build_book
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def manager():
    book = build_book()
    UserFactory(role_code="sales_manager", team=book.rep_a.team, username="mgr")
    return book


def _drawn(page, key: str) -> None:
    chart = page.locator(f"[data-testid=chart-{key}]")
    expect(chart.locator("canvas").first).to_be_visible()
    expect(chart).to_have_attribute("data-drawn", "1")
    page.wait_for_timeout(600)  # ECharts' entry animation
    shot = Image.open(io.BytesIO(chart.screenshot())).convert("RGB")
    coloured = sum(1 for r, g, b in shot.get_flattened_data() if min(r, g, b) < 200)
    assert coloured > 200, f"chart {key} looks empty"


def test_funnel_board_draws_and_a_step_opens_its_list(page, manager):
    login(page, "mgr", PASSWORD)
    page.goto("/dashboard/funnel/?period=last_30")
    expect(page.locator("h1")).to_contain_text("销售漏斗")
    expect(page.get_by_test_id("table-lifecycle")).to_contain_text("转化率")
    expect(page.get_by_test_id("table-lifecycle")).to_contain_text("潜在")
    _drawn(page, "lifecycle")
    _drawn(page, "deals")
    added = int(page.get_by_test_id("figure-new_customers").get_attribute("data-value"))
    # Click the funnel's first step (its polygon's centre, from ECharts' own layout).
    x, y = page.evaluate("""() => {
        const box = document.querySelector('[data-testid=chart-lifecycle]');
        const chart = echarts.getInstanceByDom(box);
        const points = chart.getModel().getSeriesByIndex(0).getData().getItemLayout(0).points;
        const rect = box.getBoundingClientRect();
        const cx = points.reduce((s, p) => s + p[0], 0) / points.length;
        const cy = points.reduce((s, p) => s + p[1], 0) / points.length;
        return [rect.left + cx, rect.top + cy];
    }""")
    page.mouse.click(x, y)
    page.wait_for_url("**/customers/?lifecycle_reached=lead*")
    expect(page.get_by_test_id("customer-table").locator("tbody tr")).to_have_count(added)


def test_portrait_board_draws_in_chinese(page, manager):
    login(page, "mgr", PASSWORD)
    page.goto("/dashboard/portrait/")
    expect(page.locator("h1")).to_contain_text("高价值客户画像")
    expect(page.get_by_test_id("table-over")).to_contain_text("提升度")
    expect(page.locator("body")).to_contain_text("行业")
    _drawn(page, "feature-industry")


def test_churn_board_draws_and_creates_a_task(page, manager):
    from kehu.interactions.models import FollowUpTask

    login(page, "mgr", PASSWORD)
    page.goto("/dashboard/churn/")
    expect(page.locator("h1")).to_contain_text("流失预警")
    expect(page.get_by_test_id("figure-at_risk")).to_contain_text("风险客户")
    _drawn(page, "segments")
    table = page.get_by_test_id("table-at_risk")
    expect(table).to_contain_text("风险价值")
    table.get_by_test_id("action-task").first.click()
    expect(table.get_by_test_id("task-created")).to_be_visible()
    assert FollowUpTask.objects.count() == 1
