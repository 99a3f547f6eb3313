"""Export from the list in a real browser: the file holds what the filtered list shows."""

import csv
import io

import pytest
from playwright.sync_api import expect

from kehu.core.actor import Actor
from kehu.customers import services as customers
from tests.browser.conftest import login
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_export_csv_follows_the_live_search(page, make_user):
    manager = make_user("sales_manager", username="boss")
    act = Actor(user=manager)
    customers.customer_create(actor=act, name="张伟", mobile="13812345678")
    customers.customer_create(actor=act, name="=HYPERLINK(\"x\")", mobile="13900002222")
    login(page, "boss", PASSWORD)
    page.goto("/customers/")
    page.get_by_test_id("search").fill("zw")
    expect(page.get_by_test_id("customer-table")).not_to_contain_text("HYPERLINK")
    page.wait_for_function("() => window.location.search.includes('q=zw')")
    with page.expect_download() as download_info:
        page.get_by_test_id("export-csv").click()
    download = download_info.value
    text = open(download.path(), encoding="utf-8-sig").read()
    rows = list(csv.reader(io.StringIO(text)))
    names = [row[0] for row in rows[1:]]
    assert names == ["张伟"]
