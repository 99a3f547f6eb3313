"""The service desk in a real browser: caller lookup → one-click ticket → resolve → the
customer answers the survey on the public page (phone width) → the rating shows on the card."""

from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from kehu.core.actor import Actor
from kehu.customers import services as customers
from kehu.transactions.models import Ticket
from tests.browser.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_caller_lookup_ticket_survey_and_rating_on_the_card(page, chromium_browser,
                                                            live_server, make_user):
    agent = make_user("service_agent", username="xiaomei", display_name="小梅")
    customer = customers.customer_create(actor=Actor(user=make_user("admin")), name="张伟",
                                         mobile="13812345678")
    login(page, "xiaomei", PASSWORD)
    page.goto("/customers/")
    page.get_by_test_id("lookup-phone").fill("138 1234 5678")
    page.get_by_test_id("lookup-phone").press("Enter")
    expect(page.get_by_test_id("card-header")).to_contain_text("张伟")

    page.get_by_test_id("quick-ticket").click()                     # one click
    expect(page.get_by_test_id("sla")).to_be_visible()
    ticket = Ticket.objects.get(customer_id=customer.pk)
    assert ticket.assignee_id == agent.pk

    work = page.locator("form:has(input[name=action][value=work])")
    work.locator("input[name=subject]").fill("打印机卡纸")
    work.locator("select[name=status]").select_option("resolved")
    work.locator("textarea[name=resolution]").fill("远程指导清理搓纸轮")
    work.get_by_test_id("save-ticket").click()
    expect(page.get_by_test_id("status")).to_contain_text("已解决")
    link = page.get_by_test_id("survey-link").input_value()
    path = urlparse(link).path
    assert path.startswith("/service/survey/")

    phone = chromium_browser.new_context(base_url=live_server.url, locale="zh-CN",
                                         viewport={"width": 375, "height": 740},
                                         is_mobile=True, has_touch=True)
    survey = phone.new_page()
    survey.goto(path)
    survey.get_by_test_id("star-4").click()
    survey.locator("label:has(input[name=nps][value='9'])").click()
    survey.locator("textarea[name=comment]").fill("处理很快")
    width = survey.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the survey page scrolls sideways at phone width ({width}px)"
    survey.get_by_test_id("survey-submit").click()
    expect(survey.get_by_test_id("survey-thanks")).to_be_visible()
    survey.goto(path)                                               # single use
    expect(survey.get_by_test_id("survey-unavailable")).to_be_visible()
    phone.close()

    page.goto(f"/customers/{customer.pk}/")
    page.get_by_role("tab", name="工单").click()
    expect(page.get_by_test_id("ticket-satisfaction").first).to_have_text("4/5")
    expect(page.get_by_test_id("card-header")).to_contain_text("4.0")
    ticket.refresh_from_db()
    assert (ticket.satisfaction, ticket.satisfaction_source) == (4, "survey")
