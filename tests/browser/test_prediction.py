"""The card's value layer shows P(alive) and CLV in a real browser, and the validation page
draws its holdout charts."""

import pytest
from playwright.sync_api import expect

from kehu.core.actor import Actor
from kehu.prediction.models import CustomerPrediction
from kehu.prediction.services import clv_score
from tests.browser.conftest import login
from tests.factories import PASSWORD
from tests.prediction.conftest import make_book

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scored_book(make_user, settings):
    settings.KEHU_PREDICTION_MIN_REPEAT_CUSTOMERS = 20
    rep = make_user("sales_rep", username="li")
    make_book(customers=120, owners=(rep,), team=rep.team)
    clv_score(actor=Actor.system(via="system"), full=True)
    return rep


def test_card_value_layer_shows_p_alive_and_clv(page, scored_book):
    row = CustomerPrediction.objects.filter(clv_12m__isnull=False).order_by("-clv_12m").first()
    login(page, "li", PASSWORD)
    page.goto(f"/customers/{row.customer_id}/")
    panel = page.get_by_test_id("card-prediction")
    expect(panel).to_be_visible()
    expect(page.get_by_test_id("p-alive")).to_have_text(f"{round(row.p_alive * 100)}%")
    expect(page.get_by_test_id("clv-12m")).to_contain_text(f"{row.clv_12m:,.0f}")
    expect(page.get_by_test_id("prediction-explanation")).to_contain_text(str(row.purchases))
    page.get_by_test_id("prediction-explanation").get_by_role("link").click()
    page.wait_for_url("**/prediction/")
    expect(page.get_by_test_id("tracking-chart")).to_have_attribute("data-ready", "1")
    expect(page.get_by_test_id("bucket-chart").locator("canvas").first).to_be_visible()
    expect(page.get_by_test_id("holdout-correlation")).not_to_be_empty()
