"""In a real browser: build an assignment rule with the segment builder, save it, dry-run it,
apply it through the API, and read the decision on the customer card."""

import pytest
from playwright.sync_api import expect

from kehu.assignment.models import AssignmentRule
from kehu.assignment.services import assignment_apply
from kehu.core.actor import Actor
from kehu.customers.models import Customer
from tests.browser.conftest import login
from tests.factories import PASSWORD, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_build_dry_run_and_see_the_decision_on_the_card(page, make_user):
    make_user("admin", username="boss", is_superuser=True)
    team = TeamFactory(name="华东销售")
    UserFactory(role_code="sales_rep", team=team, username="zw", display_name="张伟")
    UserFactory(role_code="sales_rep", team=team, username="ln", display_name="李娜")
    east = Customer.objects.create(name="杭州客户", region="华东")
    Customer.objects.create(name="广州客户", region="华南")
    login(page, "boss", PASSWORD)
    page.goto("/assignment/")
    page.get_by_test_id("new-rule").click()
    page.fill("input[name=name]", "华东区")
    page.select_option("select[name=team]", label="华东销售")
    page.get_by_test_id("add-field-r").click()
    page.get_by_test_id("field-r.c0").select_option("region")
    # The builder re-renders the condition for the field chosen (slower on PostgreSQL): wait
    # for the region's own value list before choosing from it.
    expect(page.locator('[data-testid="value-r.c0"] option[value="华东"]')).to_have_count(
        1, timeout=30_000)
    page.get_by_test_id("value-r.c0").select_option("华东")
    page.get_by_test_id("rule-save").click()
    page.wait_for_url("**/assignment/", timeout=20_000)  # a loaded machine saves slowly
    expect(page.get_by_test_id("rule-table")).to_contain_text("华东区")
    rule = AssignmentRule.objects.get()
    assert rule.condition["conditions"][0]["value"] == "华东"

    page.get_by_role("link", name="华东区").click()
    page.get_by_test_id("dry-run-button").click()
    expect(page.get_by_test_id("dry-run")).to_contain_text("按华东区规则轮询分配给 张伟",
                                                         timeout=15_000)
    east.refresh_from_db()
    assert east.owner_id is None  # a dry run changes nothing

    assignment_apply(actor=Actor.system(via="system"), customer_ids=[east.pk])
    page.goto(f"/customers/{east.pk}/")
    expect(page.get_by_test_id("card-assignment")).to_contain_text("按华东区规则轮询分配给 张伟")


def test_assignment_and_designer_pages_fit_a_phone(phone, make_user):
    make_user("admin", username="boss", is_superuser=True)
    team = TeamFactory(name="华东销售")
    UserFactory(role_code="sales_rep", team=team, username="zw", display_name="张伟")
    login(phone, "boss", PASSWORD)
    for path in ("/assignment/", "/assignment/rules/new/", "/assignment/transfer/",
                 "/customers/form-designer/", "/customers/new/"):
        phone.goto(path)
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, (path, overflow)
