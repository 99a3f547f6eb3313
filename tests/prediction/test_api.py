"""API: fits (list, start one as a job), a customer's prediction; permissions, record scope,
and the card carrying the prediction."""

from __future__ import annotations

import pytest

from kehu.core.actor import Actor
from kehu.prediction.models import CustomerPrediction, ModelFit
from kehu.prediction.services import clv_score
from tests.unchanged import db_snapshot

SYSTEM = Actor.system(via="system")


@pytest.mark.django_db
def test_customer_prediction_respects_record_scope(book, rep, colleague, api_client_for):
    clv_score(actor=SYSTEM, full=True)
    mine = next(c for c in book if c.owner_id == rep.pk
                and CustomerPrediction.objects.filter(customer=c).exists())
    theirs = next(c for c in book if c.owner_id == colleague.pk)
    client = api_client_for(rep, scopes=("read",))
    response = client.get(f"/api/v1/customers/{mine.pk}/prediction",
                          HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.json()
    row = CustomerPrediction.objects.get(customer=mine)
    assert body["p_alive"] == pytest.approx(row.p_alive)
    assert body["expected_purchases_90d"] == pytest.approx(row.expected_purchases_90d)
    assert body["clv_12m"] == str(row.clv_12m)
    assert body["band"] in ("high", "medium", "low")
    assert body["model"] == "bgnbd" and body["fit_id"] == row.fit_id
    assert f"{row.purchases} purchases" in body["explanation"]
    hidden = client.get(f"/api/v1/customers/{theirs.pk}/prediction")
    assert (hidden.status_code, hidden.json()["code"]) == (404, "not_found")
    card = client.get(f"/api/v1/customers/{mine.pk}/card").json()
    assert card["prediction"]["p_alive"] == pytest.approx(row.p_alive)


@pytest.mark.django_db
def test_prediction_is_404_before_scoring(book, rep, api_client_for):
    mine = next(c for c in book if c.owner_id == rep.pk)
    response = api_client_for(rep, scopes=("read",)).get(f"/api/v1/customers/{mine.pk}/prediction")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


@pytest.mark.django_db
def test_prediction_needs_scoring_view(book, make_user, api_client_for):
    clv_score(actor=SYSTEM, full=True)
    agent = make_user("service_agent")
    customer = book[0]
    response = api_client_for(agent, scopes=("read",)).get(
        f"/api/v1/customers/{customer.pk}/prediction")
    assert response.status_code in (403, 404)
    assert api_client_for(agent, scopes=("read",)).get(
        "/api/v1/prediction/fits").status_code == 403


@pytest.mark.django_db
def test_start_a_fit_as_a_job_and_list_it(book, make_user, api_client_for):
    marketer = make_user("marketer")
    response = api_client_for(marketer).post("/api/v1/prediction/fits", {"model": "bgnbd"},
                                             content_type="application/json")
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "done"  # Huey runs immediately in tests
    fit = ModelFit.objects.get()
    assert fit.job_id == body["job_id"]
    listed = api_client_for(marketer, scopes=("read",)).get("/api/v1/prediction/fits").json()
    item = listed["items"][0]
    assert item["id"] == fit.pk and item["status"] == "fitted"
    assert set(item["params"]) == {"r", "alpha", "a", "b"}
    assert set(item["gamma_gamma"]) == {"p", "q", "v"}
    assert item["holdout"]["correlation"] == pytest.approx(fit.holdout_correlation)
    assert item["scored"] == CustomerPrediction.objects.count()


@pytest.mark.django_db
def test_starting_a_fit_is_denied_without_permission_or_write_scope(book, rep, make_user,
                                                                    api_client_for):
    marketer = make_user("marketer")
    reader, writer = api_client_for(marketer, scopes=("read",)), api_client_for(marketer)
    rep_client = api_client_for(rep)
    before = db_snapshot()
    read_only = reader.post("/api/v1/prediction/fits", {}, content_type="application/json")
    assert read_only.status_code == 403
    denied = rep_client.post("/api/v1/prediction/fits", {}, content_type="application/json")
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    bad = writer.post("/api/v1/prediction/fits", {"model": "x"},
                      content_type="application/json")
    assert bad.status_code == 422
    assert db_snapshot() == before


@pytest.mark.django_db
def test_insufficient_fit_is_listed_with_its_message(db, make_user, api_client_for):
    clv_score(actor=SYSTEM, full=True)
    item = api_client_for(make_user("marketer"), scopes=("read",)).get(
        "/api/v1/prediction/fits", HTTP_ACCEPT_LANGUAGE="en").json()["items"][0]
    assert item["status"] == "insufficient" and "No purchases" in item["message"]
    assert item["holdout"] is None
