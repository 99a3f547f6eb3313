"""Phone width (390 x 844): the menu folds behind one button and its items never break one
character per line; no main page is wider than the screen (tables scroll inside themselves);
the home page is the role's start page, with readable labels and dates that keep their year."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kehu.core.actor import Actor
from kehu.customers import services as customers
from kehu.interactions.models import FollowUpTask
from tests.browser.conftest import login
from tests.factories import PASSWORD, TeamFactory

pytestmark = pytest.mark.django_db(transaction=True)

MAIN_PAGES = ["/", "/customers/", "/interactions/follow-ups/", "/transactions/orders/",
              "/transactions/tickets/", "/segments/", "/value/rfm/", "/quality/", "/audit/",
              "/admin/roles/", "/admin/users/"]


@pytest.fixture
def book(make_user):
    team = TeamFactory(name="华东销售组")
    admin = make_user("admin", username="boss", display_name="王总", team=team)
    act = Actor(user=admin)
    zhang = customers.customer_create(actor=act, name="张伟", mobile="13812345678",
                                      email="zhang.wei@example.com", owner=admin)
    customers.customer_update(actor=act, customer=zhang, expected_version=None,
                              changes={"lifecycle_stage": "prospect"})
    last_year = timezone.localdate().replace(month=11, day=3) - dt.timedelta(days=365)
    FollowUpTask.objects.create(customer=zhang, assignee=admin, title="回访打印机报价",
                                due_date=last_year)
    return admin, zhang, last_year


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _wrapped_nav_items(page) -> list[str]:
    """Nav items taller than two lines of their own text: broken one character per line."""
    return page.evaluate("""() => [...document.querySelectorAll(
        '.mainnav > a, .mainnav summary, .topbar-right summary, .brand')]
        .filter(el => el.offsetParent !== null)
        .filter(el => el.getBoundingClientRect().height
                      > 2 * parseFloat(getComputedStyle(el).fontSize) * 1.6)
        .map(el => el.textContent.trim())""")


def test_menu_folds_and_no_main_page_overflows_at_phone_width(phone, book):
    login(phone, "boss", PASSWORD)
    for path in MAIN_PAGES:
        phone.goto(path)
        assert phone.locator("main").count() == 1, path
        assert _overflow(phone) <= 0, f"{path} is wider than the screen"
        assert _wrapped_nav_items(phone) == [], path
    # The menu is folded behind one button; opened, every item sits on one line.
    nav = phone.locator("#mainnav")
    expect(nav).to_be_hidden()
    phone.get_by_test_id("nav-toggle").click()
    expect(nav).to_be_visible()
    links = nav.locator(":scope > a")
    assert links.count() >= 5
    for i in range(links.count()):
        box = links.nth(i).bounding_box()
        assert box["width"] > box["height"], links.nth(i).text_content()
    assert _wrapped_nav_items(phone) == []
    assert _overflow(phone) <= 0
    nav.get_by_role("link", name="客户", exact=True).click()
    expect(phone).to_have_url(f"{phone.url.split('/customers')[0]}/customers/")


def test_home_is_the_role_start_page_at_phone_width(phone, book):
    admin, zhang, last_year = book
    login(phone, "boss", PASSWORD)
    phone.goto("/")
    figures = phone.get_by_test_id("home-figures")
    expect(figures.get_by_test_id("figure-overdue")).to_contain_text("1")
    expect(figures.get_by_test_id("figure-my_customers")).to_contain_text("1")
    follow_ups = phone.get_by_test_id("my-follow-ups")
    # A date of another year keeps its year.
    expect(follow_ups).to_contain_text(last_year.isoformat())
    expect(follow_ups).to_contain_text("回访打印机报价")
    recent = phone.get_by_test_id("recent-customers")
    expect(recent).to_contain_text("张伟")
    expect(recent).to_contain_text("意向")  # the stage's label, not "prospect"
    expect(phone.get_by_test_id("who-am-i")).to_contain_text("全部记录")
    text = phone.locator("main").inner_text()
    for raw in ("prospect", "lifecycle_stage", "customer.update", " all"):
        assert raw not in text
    assert _overflow(phone) <= 0
    phone.get_by_test_id("quick-links").get_by_role("link", name="新建客户").click()
    expect(phone.locator("form")).not_to_have_count(0)
