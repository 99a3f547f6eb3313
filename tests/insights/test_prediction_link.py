"""With kehu.prediction's CustomerPrediction (read by lookup): churn risk is 1 − P(alive)
where there is no supervised fit, the card shows P(alive) and the churn list's value at stake
is the 12-month CLV. Runs where the prediction app stores its predictions."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.insights import selectors, services
from kehu.insights.models import CustomerChurn
from tests.factories import CustomerFactory
from tests.insights.book import order


def _prediction_model():
    try:
        model = apps.get_model("prediction", "CustomerPrediction")
    except LookupError:
        pytest.skip("the prediction app stores no predictions in this build")
    return model


def test_p_alive_and_clv_from_the_prediction_app(db, make_user):
    prediction = _prediction_model()
    admin = make_user("admin")
    now = timezone.now()
    customer = CustomerFactory(owner=admin)
    order(customer.pk, now - timedelta(days=30))
    prediction.objects.create(customer=customer, p_alive=0.25, expected_purchases_90d=0.4,
                              clv_12m=Decimal("1234.50"), scored_at=now)
    services.churn_score(actor=Actor.system(via="system"), now=now)
    row = CustomerChurn.objects.get()
    assert (row.model, row.churn_risk, row.level) == ("p_alive", 0.75, "high")
    assert row.factors[0] == {"code": "p_alive", "value": 0.25, "weight": 0.75}
    assert selectors.customer_insights(user=admin, customer=customer)["prediction"][
        "p_alive"] == 0.25
    item = selectors.churn_list(user=admin)["items"][0]
    assert (item["value_at_stake"], item["value_source"]) == (Decimal("1234.50"), "clv_12m")
