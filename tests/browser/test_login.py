import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.factories import PASSWORD, TeamFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_login_switch_language_see_home_and_log_out(page, make_user):
    team = TeamFactory(name="华南销售组")
    make_user("sales_rep", username="lina", display_name="李娜", team=team)
    login(page, "lina", PASSWORD)
    expect(page.get_by_test_id("who-am-i")).to_contain_text("销售代表")
    expect(page.get_by_test_id("my-team")).to_contain_text("李娜")
    expect(page.locator("h1")).to_contain_text("欢迎")
    # Each language is offered in its own name, whatever the page's language.
    expect(page.locator("#language-select option[value=en]")).to_have_text("English")

    page.select_option("#language-select", "en")
    expect(page.locator("h1")).to_contain_text("Welcome")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#language-select option[value=zh-hans]")).to_have_text("简体中文")

    page.get_by_test_id("user-menu").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login/"))
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/"))


def test_wrong_password_shows_a_clear_error(page, make_user):
    make_user("sales_rep", username="wangqiang")
    login(page, "wangqiang", "not-the-password")
    expect(page.get_by_test_id("login-error")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login/"))


def test_repeated_failures_lock_out(page, make_user, settings):
    make_user("sales_rep", username="zhaolei")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        login(page, "zhaolei", "wrong")
    login(page, "zhaolei", PASSWORD)
    expect(page.get_by_test_id("lockout")).to_be_visible()
