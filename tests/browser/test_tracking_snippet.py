"""track.js on a website's page: page views of an anonymous visitor reach kehu, and after the
site identifies the signed-in user they are on that customer's card."""

import time

import pytest
from playwright.sync_api import expect

from kehu.customers.models import Customer
from kehu.integration.models import VisitorEvent
from kehu.interactions.models import Event
from tests.browser.conftest import login
from tests.factories import PASSWORD, ApiKeyFactory

pytestmark = pytest.mark.django_db(transaction=True)

SHOP = """<!doctype html><html><head><title>商城首页</title></head><body>
<h1>Shop</h1>
<script src="/static/kehu/track.js"></script>
<script>kehu.init({writeKey: "%s", host: "", flushAt: 1});</script>
</body></html>"""


def _until(page, check, seconds=15.0):
    # page.wait_for_timeout, not time.sleep: Playwright serves the routed page in this thread.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        page.wait_for_timeout(100)
    return False


def test_page_views_reach_the_card_after_identify(page, make_user, live_server):
    admin = make_user("admin", username="boss")
    _key, token = ApiKeyFactory.issue(user=admin, scopes=("ingest",))
    page.route("**/shop.html*", lambda route: route.fulfill(
        status=200, content_type="text/html", body=SHOP % token))
    page.goto("/shop.html")
    assert _until(page, lambda: VisitorEvent.objects.filter(event_type="page_view").exists())
    page.goto("/shop.html?p=2")
    assert _until(page, lambda: VisitorEvent.objects.filter(event_type="page_view").count() == 2)
    page.evaluate("kehu.identify('app-7', {name: '李娜', email: 'lina@example.com'})")
    assert _until(page, lambda: Event.objects.filter(event_type="page_view").count() == 2)
    customer = Customer.objects.get(name="李娜")
    assert set(Event.objects.values_list("customer_id", flat=True)) == {customer.pk}
    assert not VisitorEvent.objects.exists()

    page.context.clear_cookies()
    login(page, "boss", PASSWORD)
    page.goto(f"/customers/{customer.pk}/")
    expect(page.locator("body")).to_contain_text("李娜")
    expect(page.locator("body")).to_contain_text("浏览页面")
