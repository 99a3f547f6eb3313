"""In a real browser: drag a field into another section of the customer form, save, reopen
the form and see the new order; a field rule refuses a save with a message naming the field."""

import pytest
from playwright.sync_api import expect

from kehu.customers.models import Customer, FormLayout
from tests.browser.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def _drag(page, source, target) -> None:
    """SortableJS in fallback mode follows the mouse: press, move in steps, release."""
    box = source.bounding_box()
    goal = target.bounding_box()
    page.mouse.move(box["x"] + 8, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 20, box["y"] + box["height"] / 2 + 5, steps=5)
    page.mouse.move(goal["x"] + goal["width"] / 2, goal["y"] + goal["height"] / 2, steps=20)
    page.mouse.move(goal["x"] + goal["width"] / 2 + 2, goal["y"] + goal["height"] / 2 + 2,
                    steps=5)
    page.mouse.up()


def test_drag_a_field_into_another_section_and_a_rule_refuses_a_save(page, make_user):
    make_user("admin", username="boss", is_superuser=True)
    login(page, "boss", PASSWORD)
    page.goto("/customers/form-designer/")
    page.get_by_test_id("add-section").click()
    sections = page.get_by_test_id("designer-section")
    expect(sections).to_have_count(2)
    sections.nth(1).get_by_test_id("section-title").fill("联系方式")
    mobile = page.get_by_test_id("designer-field-mobile")
    _drag(page, mobile.locator(".drag-handle"), sections.nth(1).locator("[data-fields]"))
    expect(sections.nth(1).get_by_test_id("designer-field-mobile")).to_have_count(1)
    page.get_by_test_id("designer-save").click()
    expect(page.locator(".messages")).to_contain_text("布局已保存", timeout=15_000)
    layout = FormLayout.objects.get(key="default")
    assert layout.sections[1] == {"title": "联系方式",
                                  "fields": [{"field": "mobile", "width": "half"}]}

    # The form now shows the mobile field in the new section, after every other field.
    page.goto("/customers/new/")
    titles = page.get_by_test_id("form-section-title")
    expect(titles.last).to_have_text("联系方式")
    order = page.eval_on_selector_all(
        "form [data-field]", "els => els.map(e => e.dataset.field)")
    assert order[-1] == "mobile" and order.index("name") < order.index("notes")

    # A field rule: organisations must give their industry.
    page.goto("/customers/form-designer/")
    page.get_by_test_id("behaviour-field").select_option("industry")
    page.get_by_test_id("behaviour-effect").select_option("required")
    page.get_by_test_id("test-field-0").select_option("kind")
    page.get_by_test_id("test-op-0").select_option("eq")
    page.get_by_test_id("test-value-0").fill("organisation")
    page.get_by_test_id("behaviour-add").click()
    expect(page.get_by_test_id("behaviour-rule")).to_have_count(1)

    page.goto("/customers/new/?kind=organisation")
    page.fill("input[name=name]", "杭州某某科技有限公司")
    page.locator("form.card button[type=submit]").click()
    expect(page.locator('[data-field="industry"] .errorlist')).to_contain_text("行业")
    assert not Customer.objects.filter(name="杭州某某科技有限公司").exists()
    page.fill("input[name=industry]", "软件")
    page.locator("form.card button[type=submit]").click()
    expect(page.locator("h1")).to_contain_text("杭州某某科技有限公司")
