"""Churn risk: the supervised model on a generated book with a planted churn signal beats
the RFM baseline in its backtest; too little data says so and falls back; levels that move
emit churn.risk_changed once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.core.models import DomainEvent
from kehu.insights import services
from kehu.insights.factors import factor_text
from kehu.insights.models import ChurnModelFit, CustomerChurn
from tests.factories import CustomerFactory
from tests.insights.book import order, planted_churn_book

SYSTEM = Actor.system(via="system")


@pytest.mark.parametrize("kind", ["logistic", "gbm"])
def test_backtest_on_a_planted_signal_beats_the_rfm_baseline(db, kind):
    services.churn_settings_get()
    services.churn_settings_update(actor=SYSTEM, changes={"model_kind": kind})
    groups = planted_churn_book()
    fit = services.churn_fit(actor=SYSTEM)
    fit = ChurnModelFit.objects.get(pk=fit.pk)
    assert fit.enough_data and fit.model_kind == kind
    assert fit.labelled == 260
    assert fit.churned == len(groups["churned"])
    metrics = fit.metrics
    assert metrics["auc"] > 0.7
    assert metrics["auc"] > metrics["baseline_auc"] + 0.1
    assert metrics["precision_top_decile"] >= metrics["baseline_precision_top_decile"]
    # Every purchaser scored with the fitted model; risks in 0..1 and levels by threshold.
    rows = {r.customer_id: r for r in CustomerChurn.objects.all()}
    assert len(rows) == 260
    assert {r.model for r in rows.values()} == {kind}
    settings = services.churn_settings_get()
    assert all(0 <= r.churn_risk <= 1 and r.level == settings.level_of(r.churn_risk)
               for r in rows.values())


def test_factors_name_the_planted_complaints(db):
    now = timezone.now()
    planted_churn_book(now=now)
    services.churn_fit(actor=SYSTEM, now=now)
    fit = ChurnModelFit.objects.get()
    coefficients = dict(zip(fit.params["features"], fit.params["coef"], strict=True))
    assert coefficients["complaints_30"] > 0  # more complaints, more risk
    # A retained customer who now complains twice and visits less: complaints among the top
    # three factors, rendered with the count.
    buyer = CustomerFactory(name="投诉客户")
    order(buyer.pk, now - timedelta(days=40))
    from kehu.transactions.models import Ticket

    for i in range(2):
        Ticket.objects.create(customer=buyer, number=f"C-{i}", kind="complaint",
                              subject="投诉", opened_at=now - timedelta(days=3 + i))
    services.churn_score(actor=SYSTEM, now=now)
    row = CustomerChurn.objects.get(customer=buyer)
    codes = [f["code"] for f in row.factors]
    assert "complaints" in codes
    complaint = next(f for f in row.factors if f["code"] == "complaints")
    assert factor_text(complaint) == "2 complaints in 30 days"
    assert len(row.factors) <= 3


def test_level_changes_emit_events_once(db):
    now = timezone.now()
    planted_churn_book(n=80, now=now)
    services.churn_score(actor=SYSTEM, now=now)  # no fit yet: recency fallback
    first = DomainEvent.objects.filter(type="churn.risk_changed").count()
    assert first == CustomerChurn.objects.count() == 80
    event = DomainEvent.objects.filter(type="churn.risk_changed").first()
    assert event.changes["level"]["before"] is None
    assert event.changes["level"]["after"] in ("low", "medium", "high")
    services.churn_score(actor=SYSTEM, now=now)
    assert DomainEvent.objects.filter(type="churn.risk_changed").count() == first
    # A later run where one customer's level moves emits exactly one more event.
    row = CustomerChurn.objects.order_by("churn_risk").first()
    order(row.customer_id, now - timedelta(days=1))
    CustomerChurn.objects.filter(pk=row.pk).update(level="high")
    services.churn_score(actor=SYSTEM, now=now)
    moved = DomainEvent.objects.filter(type="churn.risk_changed").order_by("-id").first()
    assert DomainEvent.objects.filter(type="churn.risk_changed").count() == first + 1
    assert moved.customer_id == row.customer_id
    assert moved.changes["level"] == {"before": "high", "after": "low"}


def test_too_little_data_says_so_and_falls_back_to_recency(db):
    now = timezone.now()
    buyer = CustomerFactory()
    order(buyer.pk, now - timedelta(days=170))
    CustomerFactory()  # never bought: not scored
    fit = services.churn_fit(actor=SYSTEM, now=now)
    assert not fit.enough_data
    assert "Too little history" in fit.explanation() and fit.metrics == {}
    row = CustomerChurn.objects.get()
    assert row.customer_id == buyer.pk and row.model == "recency"
    assert row.churn_risk == pytest.approx(1 - 0.5 ** (170 / 90), abs=1e-3)
    assert row.level == "high"
    assert [f["code"] for f in row.factors][:1] == ["recency"]


def test_p_alive_is_used_when_the_prediction_app_scored(db, monkeypatch):
    now = timezone.now()
    buyer = CustomerFactory()
    order(buyer.pk, now - timedelta(days=20))
    monkeypatch.setattr(services, "p_alive_of", lambda ids: {buyer.pk: 0.2})
    services.churn_score(actor=SYSTEM, now=now)
    row = CustomerChurn.objects.get()
    assert (row.model, row.churn_risk, row.level) == ("p_alive", 0.8, "high")
    assert row.factors[0]["code"] == "p_alive"


def test_settings_are_validated_and_need_configure(db, make_user):
    from kehu.core.errors import PermissionDenied, ValidationFailed

    with pytest.raises(ValidationFailed):
        services.churn_settings_update(actor=SYSTEM, changes={"medium_threshold": 0.8})
    with pytest.raises(ValidationFailed):
        services.churn_settings_update(actor=SYSTEM, changes={"window_days": 3})
    assert services.churn_settings_get().window_days == 180
    rep = make_user("sales_rep")
    with pytest.raises(PermissionDenied):
        services.churn_fit(actor=Actor(user=rep))
    assert not ChurnModelFit.objects.exists()


def test_cli(db):
    import json
    from io import StringIO

    from django.core.management import call_command

    planted_churn_book(n=60)
    out = StringIO()
    call_command("insights", "fit", "--json", stdout=out)
    body = json.loads(out.getvalue().strip().splitlines()[-1])
    assert body["enough_data"] is False and body["labelled"] == 60
    out = StringIO()
    call_command("insights", "score", "--json", stdout=out)
    assert json.loads(out.getvalue())["scored"] == 60


def test_nightly_task_runs_every_job(db):
    from kehu.core.models import Job
    from kehu.insights.tasks import insights_nightly

    planted_churn_book(n=30)
    insights_nightly.call_local()
    kinds = set(Job.objects.filter(status=Job.DONE).values_list("kind", flat=True))
    assert kinds == {"recommendations_build", "signals_detect", "churn_fit"}
    assert CustomerChurn.objects.count() == 30
    assert ChurnModelFit.objects.count() == 1
