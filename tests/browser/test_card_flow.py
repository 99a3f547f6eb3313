"""The card in a real browser: find by pinyin initials, open, log a call, conflicting edit."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kehu.core.actor import Actor
from kehu.customers import services as customers
from kehu.customers.models import Customer
from tests.browser.conftest import login
from tests.factories import PASSWORD, TeamFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rep_with_customers(make_user):
    team = TeamFactory(name="华东销售组")
    rep = make_user("sales_rep", username="lina", display_name="李娜", team=team)
    act = Actor(user=rep)
    zhang = customers.customer_create(actor=act, name="张伟", mobile="13812345678",
                                      address="上海市浦东新区世纪大道100号")
    customers.customer_create(actor=act, name="王芳", mobile="13900002222")
    return rep, zhang


def test_search_by_initials_open_card_and_log_a_call(page, rep_with_customers):
    rep, zhang = rep_with_customers
    login(page, "lina", PASSWORD)
    page.goto("/customers/")
    page.get_by_test_id("search").fill("zw")
    table = page.get_by_test_id("customer-table")
    expect(table).to_contain_text("张伟")
    expect(table).not_to_contain_text("王芳")
    table.get_by_role("link", name="张伟").click()
    expect(page.get_by_test_id("card-header")).to_contain_text("张伟")

    form = page.get_by_test_id("log-interaction")
    form.locator("select[name=kind]").select_option("call")
    form.locator("textarea[name=summary]").fill("询问打印机报价，下周回访")
    form.get_by_test_id("log-submit").click()
    timeline = page.get_by_test_id("timeline-items")
    expect(timeline).to_contain_text("询问打印机报价，下周回访")
    assert zhang.interactions.count() == 1


def test_logging_a_call_with_a_follow_up_refreshes_the_follow_up_tab(page, rep_with_customers):
    rep, zhang = rep_with_customers
    login(page, "lina", PASSWORD)
    page.goto(f"/customers/{zhang.pk}/")
    tab = page.get_by_test_id("follow-ups-tab")
    tab.click()
    panel = page.get_by_test_id("follow-ups")
    expect(panel).to_be_visible()
    expect(tab).to_contain_text("(0)")

    form = page.get_by_test_id("log-interaction")
    form.locator("textarea[name=summary]").fill("询问打印机报价")
    form.locator("input[name=outcome]").fill("有意向")
    due = timezone.localdate() + dt.timedelta(days=2)
    form.locator("input[name=next_follow_up]").fill(due.isoformat())
    form.get_by_test_id("log-submit").click()

    # Without reloading the page, the open tab shows the new task, named by the summary.
    expect(panel).to_contain_text("询问打印机报价")
    expect(panel).to_contain_text(due.isoformat())
    expect(panel).to_be_visible()
    expect(tab).to_contain_text("(1)")
    assert zhang.follow_ups.get().title.endswith("询问打印机报价")


def test_editing_after_someone_else_saved_shows_their_change(page, rep_with_customers,
                                                              make_user):
    rep, zhang = rep_with_customers
    login(page, "lina", PASSWORD)
    page.goto(f"/customers/{zhang.pk}/")
    page.get_by_test_id("edit-identity").click()
    title = page.locator("#identity input[name=title]")
    expect(title).to_be_visible()

    # Another session saves while this form is open.
    admin = make_user("admin")
    customers.customer_update(actor=Actor(user=admin), customer=Customer.objects.get(pk=zhang.pk),
                              expected_version=None, changes={"title": "采购总监"})

    title.fill("采购经理")
    page.get_by_test_id("save-identity").click()
    expect(page.get_by_test_id("conflict")).to_be_visible()
    expect(page.get_by_test_id("conflict-theirs").first).to_contain_text("采购总监")
    assert Customer.objects.get(pk=zhang.pk).title == "采购总监"

    # Saving again, on top of the current version, applies the edit.
    page.get_by_test_id("save-identity").click()
    expect(page.locator("[data-testid=identity] dl.facts")).to_contain_text("采购经理")
    assert Customer.objects.get(pk=zhang.pk).title == "采购经理"


def test_add_and_remove_an_identifier_on_the_card(page, rep_with_customers):
    rep, zhang = rep_with_customers
    login(page, "lina", PASSWORD)
    page.goto(f"/customers/{zhang.pk}/")
    identity = page.get_by_test_id("identity")
    identity.get_by_test_id("add-identifier-toggle").click()
    identity.locator("select[name=kind]").select_option("email")
    identity.locator("input[name=value]").fill("Zhang.Wei@Example.COM")
    identity.get_by_test_id("add-identifier").click()
    expect(page.get_by_test_id("identifiers")).to_contain_text("zhang.wei@example.com")

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("identifiers").locator("li", has_text="zhang.wei@example.com") \
        .get_by_role("button").click()
    expect(page.get_by_test_id("identifiers")).not_to_contain_text("zhang.wei@example.com")
    assert not zhang.identifiers.filter(value="zhang.wei@example.com").exists()
