"""The RFM page in a real browser: the heat map renders, and a cell opens its customers."""

import re

import pytest
from playwright.sync_api import expect

from kehu.core.actor import Actor
from kehu.scoring import services
from tests.browser.conftest import login
from tests.factories import PASSWORD, CustomerFactory
from tests.scoring.conftest import add_order

pytestmark = pytest.mark.django_db(transaction=True)


def test_heat_map_cell_opens_the_filtered_list(page, make_user):
    make_user("marketer", username="mia")
    made = {name: CustomerFactory(name=f"客户{name}") for name in "ABCD"}
    for days, amount, name in ((1, "100", "A"), (10, "200", "A"), (20, "300", "A"),
                               (5, "50", "B"), (30, "1000", "C"), (30, "1000", "C"),
                               (200, "10", "D")):
        add_order(made[name], days_ago=days, amount=amount)
    services.rfm_score(actor=Actor.system(via="system"), full=True)
    login(page, "mia", PASSWORD)
    page.goto("/value/rfm/")
    heatmap = page.get_by_test_id("rfm-heatmap")
    expect(heatmap).to_have_attribute("data-ready", "1")
    expect(heatmap.locator("canvas").first).to_be_visible()
    expect(page.get_by_test_id("cell-4-4")).to_contain_text("1")
    expect(page.get_by_test_id("tier-summary")).to_contain_text("2")
    # Click the chart itself at cell R4 x F4 (A, loyal).
    x, y = page.evaluate("""() => {
        const box = document.getElementById('rfm-heatmap');
        const [px, py] = echarts.getInstanceByDom(box).convertToPixel({seriesIndex: 0}, [3, 3]);
        const rect = box.getBoundingClientRect();
        return [rect.left + px, rect.top + py];
    }""")
    page.mouse.click(x, y)
    page.wait_for_url("**/customers/?r_score=4&f_score=4")
    table = page.get_by_test_id("customer-table")
    expect(table).to_contain_text("客户A")
    expect(table).not_to_contain_text("客户B")
    expect(page.get_by_test_id("filter-r_score")).to_have_value("4")
    # The table's cell links lead to the same lists.
    page.goto("/value/rfm/")
    page.get_by_test_id("cell-1-1").click()
    page.wait_for_url("**/customers/?r_score=1&f_score=1")
    expect(page.get_by_test_id("customer-table")).to_contain_text("客户D")
    expect(page.get_by_test_id("customer-table")).not_to_contain_text("客户A")


def test_card_chips_and_lifecycle_panel(page, make_user):
    rep = make_user("sales_rep", username="li")
    customer = CustomerFactory(name="客户甲", owner=rep, team=rep.team)
    add_order(customer, days_ago=3, amount="300")
    services.rfm_score(actor=Actor.system(via="system"), full=True)
    login(page, "li", PASSWORD)
    page.goto(f"/customers/{customer.pk}/")
    expect(page.get_by_test_id("value-chips")).to_contain_text("RFM 111")
    page.get_by_test_id("lifecycle-tab").click()
    history = page.get_by_test_id("lifecycle-history")
    # the first-order rule moved 潜在 -> 成交 (label in zh-Hans once the pending strings merge)
    expect(history).to_contain_text(re.compile("规则|Rule"))
    form = page.get_by_test_id("lifecycle-form")
    form.locator("select[name=stage]").select_option("loyal")
    form.locator("input[name=note]").fill("年度大客户")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("lifecycle-history")).to_contain_text("年度大客户")
    customer.refresh_from_db()
    assert customer.lifecycle_stage == "loyal"
