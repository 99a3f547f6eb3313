"""The data-quality page in a real browser: figures, the trend chart, a drill-down link."""

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kehu.core.actor import Actor
from kehu.customers.models import Customer
from kehu.quality import services
from kehu.quality.models import QualitySnapshot
from tests.browser.conftest import login
from tests.factories import PASSWORD, create_customer

pytestmark = pytest.mark.django_db(transaction=True)


def test_quality_page_figures_chart_and_drill_down(page, make_user):
    make_user("data_steward", username="steward")
    system = Actor.system(via="system")
    create_customer(name="好客户", mobile="13812345678", source="展会")
    bad = create_customer(name="坏客户", source="地推")
    services.field_rule_create(actor=system, field="source", rule="allowed",
                               allowed_values=["展会"])
    then = timezone.now() - dt.timedelta(days=200)
    Customer.objects.filter(pk=bad.pk).update(created_at=then, updated_at=then)
    services.quality_recompute(actor=system)
    snapshot = services.quality_snapshot_take(actor=system)
    QualitySnapshot.objects.create(
        day=snapshot.day - dt.timedelta(days=1), customers=2, average_score=40.0,
        completeness=30.0, validity=50.0, freshness=70.0, invalid_customers=1,
        stale_customers=1, pending_duplicates=0, taken_at=then)

    login(page, "steward", PASSWORD)
    page.goto("/quality/")
    expect(page.get_by_test_id("figure-stale")).to_contain_text("1")
    expect(page.get_by_test_id("invalid-source")).to_have_text("1")
    chart = page.get_by_test_id("trend-chart")
    expect(chart).to_have_attribute("data-ready", "1")
    expect(chart.locator("canvas").first).to_be_visible()
    page.get_by_test_id("invalid-source").click()
    page.wait_for_url("**/customers/?quality_invalid=source")
    expect(page.get_by_test_id("customer-table")).to_contain_text("坏客户")
    expect(page.get_by_test_id("customer-table")).not_to_contain_text("好客户")
