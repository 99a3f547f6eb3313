"""In a real browser: build the seeds' "high-value customer not followed up for 30 days"
rule in the editor with pickers only, dry-run it, activate it with backfill, and see the
tasks on the owner's and the manager's follow-up pages and the notification in their bell."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kehu.automation.models import Rule
from kehu.customers.models import Customer
from kehu.interactions.models import Interaction
from kehu.scoring.models import CustomerValue
from tests.browser.conftest import login
from tests.factories import PASSWORD, TeamFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _customer(name, owner, tier, *, last_contact_days):
    now = timezone.now()
    customer = Customer.objects.create(name=name, owner=owner, team=owner.team)
    Customer.objects.filter(pk=customer.pk).update(created_at=now - timedelta(days=200))
    CustomerValue.objects.create(customer=customer, value_tier=tier, scored_at=now)
    Interaction.objects.create(customer=customer, kind="call", summary="电话",
                               occurred_at=now - timedelta(days=last_contact_days))
    return customer


def test_build_dry_run_and_enable_the_30_day_high_value_rule(page, make_user):
    team = TeamFactory(name="华东组")
    make_user("admin", username="root", is_superuser=True)
    boss = make_user("sales_manager", username="boss", team=team)
    rep = make_user("sales_rep", username="rep", team=team)
    team.managers.add(boss)
    _customer("王总", rep, "high_value", last_contact_days=45)
    _customer("李总", rep, "high_value", last_contact_days=3)
    _customer("张先生", rep, "general", last_contact_days=60)
    login(page, "root", PASSWORD)
    page.goto("/automation/rules/new/")
    page.get_by_test_id("rule-name").fill("高价值客户30天未跟进")
    page.get_by_test_id("trigger-kind").select_option("no_interaction")
    page.get_by_test_id("trigger.days").fill("30")
    page.get_by_test_id("add-field-r").click()
    page.get_by_test_id("field-r.c0").select_option("value_tier")
    expect(page.get_by_test_id("value-r.c0")).to_be_visible()
    page.get_by_test_id("value-r.c0").select_option("high_value")
    # The matching count follows every change of the conditions, a value picked too.
    expect(page.get_by_test_id("segment-count")).to_have_text("2")
    page.get_by_test_id("value-r.c0").select_option("general")
    expect(page.get_by_test_id("segment-count")).to_have_text("1")
    page.get_by_test_id("value-r.c0").select_option("high_value")
    expect(page.get_by_test_id("segment-count")).to_have_text("2")
    page.get_by_test_id("new-action-kind").select_option("follow_up")
    page.get_by_test_id("add-action").click()
    page.get_by_test_id("a0.to").select_option("owner_and_manager")
    page.get_by_test_id("a0.title").fill("{{ customer.name }}已30天未跟进")
    page.get_by_test_id("new-action-kind").select_option("notify")
    page.get_by_test_id("add-action").click()
    page.get_by_test_id("a1.to").select_option("owner_and_manager")
    page.get_by_test_id("a1.title").fill("请跟进{{ customer.name }}")
    page.get_by_test_id("rule-dry-run").click()
    expect(page.get_by_test_id("would-fire")).to_have_text("1")
    expect(page.get_by_test_id("dry-run-sample")).to_contain_text("王总")
    page.get_by_test_id("rule-save").click()
    expect(page.get_by_test_id("rule-status")).to_be_visible()
    rule = Rule.objects.get()
    assert rule.trigger == {"kind": "no_interaction", "days": 30}
    assert rule.conditions["conditions"][0]["field"] == "value_tier"
    page.get_by_test_id("backfill-yes").check()
    page.get_by_test_id("rule-activate").click()
    expect(page.get_by_test_id("rule-status")).to_have_attribute("data-status", "active")
    page.get_by_test_id("run-log").click()
    expect(page.get_by_test_id("run-table")).to_contain_text("王总")
    for username in ("rep", "boss"):
        page.context.clear_cookies()
        login(page, username, PASSWORD)
        page.goto("/interactions/follow-ups/")
        expect(page.locator("body")).to_contain_text("王总已30天未跟进")
        expect(page.locator("body")).not_to_contain_text("李总已30天未跟进")
        expect(page.get_by_test_id("bell-count")).to_have_attribute("data-count", "1")
        page.get_by_test_id("bell").locator("summary").click()
        expect(page.get_by_test_id("bell-menu")).to_contain_text("请跟进王总")


def test_rule_pages_fit_a_phone(chromium_browser, live_server, make_user):
    from kehu.automation import services
    from kehu.core.actor import Actor

    admin = make_user("admin", username="root", is_superuser=True)
    rule = services.rule_from_template(actor=Actor(user=admin), key="high_value_30d")
    context = chromium_browser.new_context(base_url=live_server.url, locale="zh-CN",
                                           viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        login(page, "root", PASSWORD)
        for url in ("/automation/rules/", f"/automation/rules/{rule.pk}/",
                    f"/automation/rules/{rule.pk}/runs/", "/automation/rules/new/"):
            page.goto(url)
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (url, overflow)
    finally:
        context.close()
