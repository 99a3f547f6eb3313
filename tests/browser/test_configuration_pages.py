"""Configuration pages in a real browser: tag groups and tags, and data-quality field rules
(a rule added on the page is then enforced by the customer services)."""

import pytest
from playwright.sync_api import expect

from kehu.core.actor import Actor
from kehu.core.errors import ValidationFailed
from kehu.customers import services as customers
from kehu.customers.models import Customer, Tag, TagGroup
from tests.browser.conftest import login
from tests.factories import PASSWORD, create_customer

pytestmark = pytest.mark.django_db(transaction=True)


def test_tag_group_created_and_tag_moved_into_it(page, make_user):
    admin = make_user("admin", username="boss")
    customer = create_customer(name="赵敏", owner=admin)
    customers.tag_add(actor=Actor(user=admin), customer=customer, name="白金")
    tag = Tag.objects.get(name="白金")

    login(page, "boss", PASSWORD)
    page.goto("/customers/tags/")
    form = page.get_by_test_id("tag-group-form")
    form.locator("input[name=name]").fill("会员等级")
    form.locator("input[name=color]").fill("#cc0000")
    form.locator("button[type=submit]").click()
    expect(page.get_by_test_id("tag-groups").locator("input[name=name]")).to_have_value("会员等级")
    group = TagGroup.objects.get(name="会员等级")
    assert group.color == "#cc0000"

    page.locator(f"#t-group-{tag.pk}").select_option(str(group.pk))
    page.locator(f"#t-group-{tag.pk}").locator("xpath=ancestor::form").locator(
        "button[type=submit]").click()
    expect(page.locator(f"#t-group-{tag.pk}")).to_have_value(str(group.pk))
    tag.refresh_from_db()
    assert (tag.group_id, tag.color) == (group.pk, "#cc0000")  # a grouped tag wears its group's colour

    page.goto(f"/customers/{customer.pk}/")
    expect(page.get_by_test_id("card-header").locator(".tag", has_text="白金")).to_have_css(
        "color", "rgb(204, 0, 0)")


def test_field_rule_added_on_the_page_is_enforced(page, make_user):
    steward = make_user("data_steward", username="steward")
    customer = create_customer(name="钱多多", source="展会")

    login(page, "steward", PASSWORD)
    page.goto("/quality/rules/")
    form = page.get_by_test_id("rule-form")
    form.locator("#id_field").select_option("source")
    form.locator("#id_rule").select_option("allowed")
    form.locator("#id_allowed_values").fill("展会，官网")
    form.locator("button[type=submit]").click()
    rules = page.get_by_test_id("rules")
    expect(rules).to_contain_text("展会")
    expect(rules).to_contain_text("官网")

    with pytest.raises(ValidationFailed) as refused:
        customers.customer_update(actor=Actor(user=steward), customer=customer,
                                  expected_version=None, changes={"source": "地推"})
    assert list(refused.value.details) == ["source"]
    assert Customer.objects.get(pk=customer.pk).source == "展会"
