"""The notification centre in a real browser: the bell's count, its dropdown, the list, mark
read (one and all), at desktop and phone width; my tasks: snooze and reassign."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kehu.core.actor import Actor
from kehu.interactions.models import FollowUpTask
from kehu.notifications.services import notification_send
from tests.browser.conftest import login
from tests.factories import PASSWORD, CustomerFactory, TeamFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def lina(make_user):
    team = TeamFactory(name="华东销售组")
    lina = make_user("sales_rep", username="lina", display_name="李娜", team=team)
    other = make_user("sales_rep", username="wei", display_name="张伟", team=team)
    system = Actor.system(via="system")
    for title in ("高价值客户30天未跟进：华为", "签约：请通知财务开票"):
        notification_send(actor=system, recipients=[lina], kind="rule", title=title,
                          link="/customers/")
    notification_send(actor=system, recipients=[other], kind="rule", title="别人的通知")
    return lina, other


def test_bell_shows_unread_count_opens_the_list_and_marks_read(page, lina):
    login(page, "lina", PASSWORD)
    count = page.get_by_test_id("bell-count")
    expect(count).to_have_attribute("data-count", "2")
    expect(count).to_be_visible()
    assert count.inner_text().strip().endswith("2")
    page.get_by_test_id("bell").locator("summary").click()
    menu = page.get_by_test_id("bell-menu")
    expect(menu).to_contain_text("高价值客户30天未跟进：华为")
    expect(menu).not_to_contain_text("别人的通知")
    menu.get_by_test_id("bell-all").click()
    expect(page).to_have_url(page.url.split("/notifications")[0] + "/notifications/")
    items = page.locator(".notification.unread")
    expect(items).to_have_count(2)
    items.first.get_by_role("button").click()
    expect(page.locator(".notification.unread")).to_have_count(1)
    # The bell heard about it.
    expect(page.get_by_test_id("bell-count")).to_have_attribute("data-count", "1")
    page.get_by_test_id("mark-all-read").click()
    expect(page.locator(".notification.unread")).to_have_count(0)
    expect(page.get_by_test_id("bell-count")).to_be_hidden()


def test_bell_dropdown_fits_a_phone_and_marks_all_read(chromium_browser, live_server, lina):
    context = chromium_browser.new_context(base_url=live_server.url, locale="zh-CN",
                                           viewport={"width": 390, "height": 844})
    context.set_default_timeout(10_000)
    phone = context.new_page()
    try:
        login(phone, "lina", PASSWORD)
        phone.get_by_test_id("bell").locator("summary").click()
        menu = phone.get_by_test_id("bell-menu")
        expect(menu).to_contain_text("签约：请通知财务开票")
        box = menu.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
        menu.get_by_test_id("bell-mark-all").click()
        expect(phone.get_by_test_id("bell-count")).to_be_hidden()
        expect(menu.locator(".bell-item.unread")).to_have_count(0)
    finally:
        context.close()


def test_my_tasks_snooze_and_reassign(page, lina):
    rep, other = lina
    customer = CustomerFactory(owner=rep, team=rep.team, name="华为")
    task = FollowUpTask.objects.create(customer=customer, assignee=rep, title="回访报价",
                                       due_date=timezone.localdate() - dt.timedelta(days=1))
    login(page, "lina", PASSWORD)
    page.goto("/interactions/follow-ups/?tab=overdue")
    row = page.get_by_test_id(f"task-{task.pk}")
    expect(row).to_contain_text("回访报价")
    row.get_by_test_id(f"snooze-3-{task.pk}").click()
    tomorrow3 = (timezone.localdate() + dt.timedelta(days=3)).isoformat()
    expect(page.get_by_test_id(f"task-{task.pk}")).to_contain_text(tomorrow3)
    row = page.get_by_test_id(f"task-{task.pk}")
    row.get_by_test_id(f"more-{task.pk}").click()
    form = row.get_by_test_id(f"reassign-form-{task.pk}")
    form.locator("select").select_option(str(other.pk))
    form.get_by_test_id(f"reassign-{task.pk}").click()
    expect(page.get_by_test_id(f"handed-to-{task.pk}")).to_contain_text("张伟")
    task.refresh_from_db()
    assert task.assignee_id == other.pk and task.due_date.isoformat() == tomorrow3
    assert other.notifications.filter(kind="followup.assigned").count() == 1
