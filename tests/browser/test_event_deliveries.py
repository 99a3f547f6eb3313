"""The events page in a real browser: an administrator finds a failed delivery in the admin
menu, sees its error and replays it once the cause is fixed."""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from kehu.core import events
from kehu.core.actor import Actor
from kehu.core.models import EventDelivery
from tests.browser.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def flaky():
    state = {"broken": True, "handled": []}

    def handler(event):
        if state["broken"]:
            raise ConnectionError("crm-sync unreachable")
        state["handled"].append(event.id)

    events.subscribe("order.*", handler, name="browser.flaky", max_attempts=1)
    yield state
    events.unsubscribe("browser.flaky")


def test_admin_replays_a_dead_letter_from_the_events_page(page, make_user, flaky):
    assert reverse("core:events") == "/audit/events/"  # loads the URLconf before the server
    make_user("admin", username="boss")
    login(page, "boss", PASSWORD)
    events.emit_many(actor=Actor.system(via="system"), events=[events.Related(
        type="order.created", object_type="order", object_id=77, customer_id=5,
        changes={"number": {"before": None, "after": "SO-77"}})])
    events.dispatch(only=["browser.flaky"])
    dead = EventDelivery.objects.get(subscriber="browser.flaky")
    assert dead.status == EventDelivery.DEAD

    page.reload()
    page.get_by_text("系统管理").click()  # the Administration menu
    page.get_by_role("link", name="事件投递", exact=True).click()
    expect(page.locator("h1")).to_have_text("事件投递")
    row = page.get_by_test_id(f"dead-letter-{dead.pk}")
    expect(row).to_contain_text("browser.flaky")
    expect(row).to_contain_text("order.created")
    expect(row).to_contain_text("ConnectionError: crm-sync unreachable")
    expect(page.get_by_test_id("subscribers")).to_contain_text("browser.flaky")

    row.get_by_role("button", name="重放").click()  # still broken: stays, says so
    expect(page.locator(".messages")).to_contain_text(f"事件 #{dead.event_id} 在 browser.flaky "
                                                      "中再次失败")
    expect(page.get_by_test_id(f"dead-letter-{dead.pk}")).to_contain_text("2")

    flaky["broken"] = False
    page.get_by_test_id(f"dead-letter-{dead.pk}").get_by_role("button", name="重放").click()
    expect(page.locator(".messages")).to_contain_text(
        f"已投递给 browser.flaky：事件 #{dead.event_id}。")
    expect(page.get_by_test_id("dead-letters")).to_contain_text("没有投递失败的事件。")
    assert flaky["handled"] == [dead.event_id]
    assert EventDelivery.objects.get(pk=dead.pk).status == EventDelivery.DONE


def test_the_events_page_is_not_in_a_sales_reps_menu(page, make_user):
    make_user("sales_rep", username="rep")
    login(page, "rep", PASSWORD)
    expect(page.get_by_role("link", name="事件投递", exact=True)).to_have_count(0)
    response = page.goto("/audit/events/")
    assert response.status == 403
