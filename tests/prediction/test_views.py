"""Pages: the validation page (parameters, holdout figures, data sufficiency, refit as a
job) and the card's value layer."""

from __future__ import annotations

import json
import re

import pytest

from kehu.core.actor import Actor
from kehu.prediction.models import CustomerPrediction, ModelFit
from kehu.prediction.services import clv_score

SYSTEM = Actor.system(via="system")


@pytest.mark.django_db
def test_validation_page_shows_the_fit_and_its_holdout(book, make_user, client):
    fit = clv_score(actor=SYSTEM, full=True)
    client.force_login(make_user("marketer"))
    response = client.get("/prediction/", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="fit-params"' in html
    assert f"{fit.params['alpha']:.4f}" in html
    assert f"{fit.validation['correlation']:.3f}" in html
    data = json.loads(re.search(r'<script id="prediction-chart-data" type="application/json">'
                                r"(.*?)</script>", html, re.S).group(1))
    assert data["tracking"]["dates"] and data["buckets"]
    assert data["tracking"]["calibration_end_label"] in data["tracking"]["dates"]
    assert 'data-testid="refit"' in html  # marketers may refit


@pytest.mark.django_db
def test_validation_page_says_when_data_is_too_little(db, make_user, client):
    clv_score(actor=SYSTEM, full=True)
    client.force_login(make_user("sales_rep"))
    html = client.get("/prediction/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'data-testid="sufficiency"' in html and "No purchases yet" in html
    assert 'data-testid="refit"' not in html  # reps may not refit


@pytest.mark.django_db
def test_refit_button_runs_a_job(book, make_user, client):
    client.force_login(make_user("marketer"))
    response = client.post("/prediction/refit/", {"model": "pareto"})
    assert response.status_code == 302
    fit = ModelFit.objects.get()
    assert fit.model == "pareto" and fit.status == "fitted" and fit.job_id


@pytest.mark.django_db
def test_refit_denied_changes_nothing(book, rep, client):
    client.force_login(rep)
    assert client.post("/prediction/refit/").status_code == 403
    assert not ModelFit.objects.exists()


@pytest.mark.django_db
def test_card_shows_the_value_layer(book, rep, client):
    clv_score(actor=SYSTEM, full=True)
    row = (CustomerPrediction.objects.filter(customer__owner=rep)
           .select_related("customer").first())
    client.force_login(rep)
    html = client.get(f"/customers/{row.customer_id}/", HTTP_ACCEPT_LANGUAGE="en"
                      ).content.decode()
    assert 'data-testid="card-prediction"' in html
    assert f"{round(row.p_alive * 100)}%" in html
    assert f"{row.purchases} purchases, the last on" in html
    panel = client.get(f"/prediction/customers/{row.customer_id}/").content.decode()
    assert f"{round(row.p_alive * 100)}%" in panel
    other = CustomerPrediction.objects.exclude(customer__owner=rep).first()
    assert client.get(f"/prediction/customers/{other.customer_id}/").status_code == 404
