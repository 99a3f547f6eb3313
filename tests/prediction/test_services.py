"""Scoring the book: rows stored from the company's own purchases, validation stored, too
little data said instead of scoring, events, refit vs reuse, `kehu score clv`."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.core.models import DomainEvent, Job
from kehu.prediction.models import CustomerPrediction, ModelFit
from kehu.prediction.services import clv_score, load_purchases
from kehu.transactions.models import Order
from tests.factories import CustomerFactory
from tests.prediction.conftest import make_book

SYSTEM = Actor.system(via="system")


@pytest.mark.django_db
def test_scoring_stores_a_row_per_buyer(book):
    fit = clv_score(actor=SYSTEM, full=True)
    assert fit.status == ModelFit.FITTED, fit.message
    buyers = set(Order.objects.filter(status__in=Order.PURCHASE_STATUSES)
                 .values_list("customer_id", flat=True))
    rows = {r.customer_id: r for r in CustomerPrediction.objects.all()}
    assert set(rows) == buyers
    assert fit.scored == len(buyers) and fit.customers == len(buyers)
    assert set(fit.params) == {"r", "alpha", "a", "b"}
    assert fit.log_likelihood < 0
    assert {"p", "q", "v"} <= set(fit.gamma_gamma)
    for row in rows.values():
        assert 0 <= row.p_alive <= 1
        assert row.expected_purchases_90d >= 0
        assert row.fit_id == fit.pk
        assert row.clv_12m is not None and row.clv_12m >= 0
        assert row.purchases >= 1 and row.last_purchase_on >= row.first_purchase_on
    # The validation fit held out the last weeks and compared.
    v = fit.validation
    assert v["holdout_weeks"] > 0 and -1 <= v["correlation"] <= 1
    assert v["actual_total"] >= 0 and v["buckets"]
    assert len(v["tracking"]["dates"]) == len(v["tracking"]["expected"]) == len(
        v["tracking"]["actual"])
    assert fit.holdout_correlation == v["correlation"]
    job = Job.objects.get(pk=fit.job_id)
    assert job.status == Job.DONE and job.result["scored"] == fit.scored


@pytest.mark.django_db
def test_purchases_follow_the_shared_definition(low_thresholds):
    buyer = CustomerFactory()
    gone = CustomerFactory(status="deleted")
    now = timezone.now()
    for n, (who, status) in enumerate([(buyer, "completed"), (buyer, "paid"),
                                       (buyer, "cancelled"), (buyer, "refunded"),
                                       (buyer, "pending"), (gone, "completed")]):
        Order.objects.create(customer=who, number=f"D{n}", status=status,
                             ordered_at=now - timedelta(days=n + 1),
                             total_amount=Decimal("10"))
    ids, days, amounts = load_purchases(until=timezone.localdate(now))
    assert sorted(ids.tolist()) == [buyer.pk, buyer.pk]
    local = [(timezone.localdate(now - timedelta(days=d)) - timezone.localdate(now)).days
             for d in (1, 2)]
    today = (timezone.localdate(now) - __import__("datetime").date(1970, 1, 1)).days
    assert sorted((days - today).tolist()) == sorted(local)


@pytest.mark.django_db
def test_too_little_data_says_so_instead_of_scoring(db, rep, team):
    make_book(customers=15, owners=(rep,), team=team)
    fit = clv_score(actor=SYSTEM, full=True)
    assert fit.status == ModelFit.INSUFFICIENT
    assert "more than once" in fit.message and "100" in fit.message
    assert not CustomerPrediction.objects.exists()
    event = DomainEvent.objects.filter(type="prediction.scored").get()
    assert event.changes["status"] == {"before": None, "after": "insufficient"}


@pytest.mark.django_db
def test_too_short_history_says_so(rep, team, low_thresholds):
    make_book(customers=150, owners=(rep,), team=team, days=60)
    fit = clv_score(actor=SYSTEM, full=True)
    assert fit.status == ModelFit.INSUFFICIENT
    assert "days" in fit.message


@pytest.mark.django_db
def test_rescoring_reuses_a_recent_fit_and_emits_band_changes(book):
    first = clv_score(actor=SYSTEM, full=True)
    assert first.refitted and first.changed == first.scored
    assert not DomainEvent.objects.filter(type="prediction.changed").exists()  # first scores
    # A week of silence later the same parameters give lower P(alive) to active buyers.
    later = timezone.now() + timedelta(days=3)
    again = clv_score(actor=SYSTEM, now=later)
    assert not again.refitted and again.params == first.params
    assert again.changed > 0
    moved = DomainEvent.objects.filter(type="prediction.changed")
    for event in moved:
        row = CustomerPrediction.objects.get(customer_id=event.customer_id)
        assert event.changes["p_alive"]["after"] == pytest.approx(row.p_alive)
        assert event.changes["band"]["before"] != event.changes["band"]["after"]
    assert DomainEvent.objects.filter(type="prediction.scored").count() == 2


@pytest.mark.django_db
def test_deleted_customers_lose_their_row_on_the_next_run(book):
    clv_score(actor=SYSTEM, full=True)
    gone = book[0]
    assert CustomerPrediction.objects.filter(customer=gone).exists()
    type(gone).objects.filter(pk=gone.pk).update(status="deleted")
    clv_score(actor=SYSTEM, full=True)
    assert not CustomerPrediction.objects.filter(customer=gone).exists()


@pytest.mark.django_db
def test_pareto_scoring(book):
    fit = clv_score(actor=SYSTEM, full=True, model="pareto")
    assert fit.status == ModelFit.FITTED
    assert set(fit.params) == {"r", "alpha", "s", "beta"}
    assert CustomerPrediction.objects.filter(fit=fit).count() == fit.scored


@pytest.mark.django_db
def test_score_clv_command(book):
    out = StringIO()
    call_command("score", "clv", "--full", "--json", stdout=out)
    data = json.loads(out.getvalue().strip().splitlines()[-1])
    assert data["status"] == "fitted" and data["scored"] == CustomerPrediction.objects.count()
    human = StringIO()
    call_command("score", "clv", stdout=human)
    assert "recent fit reused" in human.getvalue()


@pytest.mark.django_db
def test_score_clv_command_too_little_data(db):
    out = StringIO()
    call_command("score", "clv", stdout=out)
    assert "No purchases yet" in out.getvalue()


@pytest.mark.django_db
def test_scoring_needs_the_configure_permission(book, rep):
    from kehu.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        clv_score(actor=Actor(user=rep), full=True)
    assert not ModelFit.objects.exists()
