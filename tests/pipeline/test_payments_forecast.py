"""Payment plans, matching, overdue flags, aging, invoice requests; forecast, attainment and
snapshots against hand-computed figures."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.models import DomainEvent
from kehu.pipeline import selectors, services
from kehu.pipeline.forecast import add_months, month_start
from kehu.pipeline.models import Deal, ForecastSnapshot, Instalment, InvoiceRequest, Payment
from kehu.pipeline.services.payments import INVOICE_TRANSITIONS
from tests.factories import TeamFactory
from tests.pipeline.helpers import make_deal, signed_contract, stage, today

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def rep(make_user):
    return make_user("sales_rep")


def _plan(*parts):
    return [{"due_date": today() + dt.timedelta(days=offset), "amount": amount}
            for offset, amount in parts]


def test_plan_must_add_up_and_nothing_is_kept_otherwise(rep):
    contract = signed_contract(rep, amount="30000.00")
    with pytest.raises(ValidationFailed) as exc:
        services.payment_plan_set(actor=Actor(user=rep), contract=contract,
                                  instalments=_plan((0, "10000"), (30, "10000")))
    assert "20000.00" in exc.value.details["instalments"][0]
    assert not Instalment.objects.exists()
    plan = services.payment_plan_set(actor=Actor(user=rep), contract=contract,
                                     instalments=_plan((30, "20000"), (0, "10000.00")))
    assert [(i.sequence, i.amount) for i in plan] == [(1, D("10000.00")), (2, D("20000.00"))]


def test_payments_match_oldest_first_and_refuse_overpayment(rep):
    contract = signed_contract(rep, amount="30000.00",
                               plan=_plan((-10, "10000"), (20, "20000")))
    actor = Actor(user=rep)
    payment = services.payment_record(actor=actor, contract=contract, received_on=today(),
                                      amount="12000", method="bank_transfer", reference="TX1")
    first, second = Instalment.objects.filter(contract=contract).order_by("sequence")
    assert (first.paid_amount, second.paid_amount) == (D("10000.00"), D("2000.00"))
    assert [(a.instalment_id, a.amount) for a in payment.allocations.all()] == [
        (first.pk, D("10000.00")), (second.pk, D("2000.00"))]
    with pytest.raises(ValidationFailed) as exc:
        services.payment_record(actor=actor, contract=contract, received_on=today(),
                                amount="18000.01", method="bank_transfer")
    assert "18000.00" in exc.value.details["amount"][0]
    assert Payment.objects.count() == 1
    event = DomainEvent.objects.get(type="payment.received")
    assert event.changes["amount"]["after"] == "12000.00"


def test_payment_needs_a_contract_in_force(rep):
    contract = services.contract_create(actor=Actor(user=rep), deal=make_deal(rep), title="合同",
                                        amount="100", start_date=today(), end_date=today())
    services.payment_plan_set(actor=Actor(user=rep), contract=contract,
                              instalments=_plan((0, "100")))
    with pytest.raises(ValidationFailed) as exc:
        services.payment_record(actor=Actor(user=rep), contract=contract, received_on=today(),
                                amount="10", method="cash")
    assert "contract" in exc.value.details and not Payment.objects.exists()


def test_overdue_flagged_once_and_aging_buckets(rep):
    system = Actor.system(via="system")
    contract = signed_contract(rep, amount="1000.00", plan=_plan(
        (-95, "100"), (-61, "200"), (-45, "300"), (-1, "150"), (0, "50"), (10, "200")))
    services.payment_record(actor=Actor(user=rep), contract=contract, received_on=today(),
                            amount="50", method="alipay")  # part of the oldest
    assert services.instalments_flag_overdue(actor=system) == 4
    assert services.instalments_flag_overdue(actor=system) == 0
    assert DomainEvent.objects.filter(type="payment.overdue").count() == 4
    report = selectors.aging_report(rep)
    assert report["totals"] == {"current": D("250.00"), "d1_30": D("150.00"),
                                "d31_60": D("300.00"), "d61_90": D("200.00"),
                                "d91_plus": D("50.00"), "total": D("950.00")}
    assert report["customers"][0]["customer_id"] == contract.customer_id
    assert [i.sequence for i in selectors.instalment_list(rep, overdue=True)] == [1, 2, 3, 4]


def test_invoice_requests(rep):
    contract = signed_contract(rep, amount="1000.00")
    actor = Actor(user=rep)
    with pytest.raises(ValidationFailed) as exc:
        services.invoice_request_create(actor=actor, contract=contract, amount="100")
    assert "buyer_tax_number" in exc.value.details
    request = services.invoice_request_create(actor=actor, contract=contract, amount="600",
                                              buyer_tax_number="91310000MA1K12345X")
    with pytest.raises(ValidationFailed):
        services.invoice_request_create(actor=actor, contract=contract, amount="400.01",
                                        kind="normal")
    with pytest.raises(ValidationFailed) as exc:
        services.invoice_request_set_status(actor=actor, request=request, status="issued",
                                            invoice_number="123")
    assert exc.value.code == "invalid_transition"
    services.invoice_request_set_status(actor=actor, request=request, status="approved")
    with pytest.raises(ValidationFailed):
        services.invoice_request_set_status(actor=actor, request=request, status="issued")
    services.invoice_request_set_status(actor=actor, request=request, status="issued",
                                        invoice_number="04400123")
    row = InvoiceRequest.objects.get(pk=request.pk)
    assert (row.status, row.invoice_number) == ("issued", "04400123")
    assert INVOICE_TRANSITIONS["issued"] == frozenset()


def test_forecast_against_hand_computed_figures(make_user):
    team = TeamFactory()
    rep, other = make_user("sales_rep", team=team), make_user("sales_rep", team=team)
    manager = make_user("sales_manager", team=team)
    this = month_start(today())
    nxt = add_months(this, 1)
    actor = Actor(user=rep)
    a = make_deal(rep, amount="10000.00", close=this)             # 初步接洽 10 % pipeline
    b = make_deal(rep, amount="20000.00", close=this)
    services.deal_move(actor=actor, deal=b, stage=stage("方案报价"))  # 50 % best case
    c = make_deal(rep, amount="33333.33", close=this)
    services.deal_move(actor=actor, deal=c, stage=stage("谈判审批"))  # 70 % commit
    d = make_deal(other, amount="5000.00", close=nxt)
    services.deal_move(actor=Actor(user=other), deal=d, stage=stage("需求确认"))  # 30 %
    e = make_deal(rep, amount="8000.00", close=this)
    services.deal_move(actor=actor, deal=e, stage=stage("赢单"))
    lost = make_deal(rep, amount="99999.00", close=this)
    services.deal_move(actor=actor, deal=lost, stage=stage("输单"), lost_reason="预算取消")
    rows = selectors.forecast(manager, first=this, months=2)
    # commit: 33333.33 × 70 % = 23333.331 -> 23333.33
    # best case: + 20000 × 50 % = 33333.33; pipeline: + 10000 × 10 % = 34333.33
    assert (rows[0].commit, rows[0].best_case, rows[0].pipeline, rows[0].won) == (
        D("23333.33"), D("33333.33"), D("34333.33"), D("8000.00"))
    assert (rows[0].open_count, rows[0].open_amount) == (3, D("63333.33"))
    assert (rows[1].commit, rows[1].best_case, rows[1].pipeline) == (
        D("0.00"), D("0.00"), D("1500.00"))
    # a rep sees only their own deals
    mine = selectors.forecast(other, first=this, months=2)
    assert mine[0].pipeline == D("0.00") and mine[1].pipeline == D("1500.00")
    assert selectors.forecast(manager, first=this, owner_id=other.pk)[0].pipeline == D("0.00")
    assert a.pk  # used


def test_attainment_and_targets(make_user):
    team = TeamFactory()
    rep = make_user("sales_rep", team=team)
    manager = make_user("sales_manager", team=team)
    now = timezone.localdate()
    services.target_set(actor=Actor(user=manager), user=rep, period_kind="month",
                        year=now.year, period=now.month, amount="50000")
    services.target_set(actor=Actor(user=manager), user=rep, period_kind="month",
                        year=now.year, period=now.month, amount="40000")  # replaces
    quarter = (now.month - 1) // 3 + 1
    services.target_set(actor=Actor(user=manager), team=team, period_kind="quarter",
                        year=now.year, period=quarter, amount="200000")
    with pytest.raises(Exception):  # noqa: B017 - a rep has no target.manage
        services.target_set(actor=Actor(user=rep), user=rep, period_kind="month",
                            year=now.year, period=now.month, amount="1")
    outsider = make_user("sales_manager", team=TeamFactory())
    with pytest.raises(NotFound):
        services.target_set(actor=Actor(user=outsider), user=rep, period_kind="month",
                            year=now.year, period=now.month, amount="1")
    won = make_deal(rep, amount="10000.00")
    services.deal_move(actor=Actor(user=rep), deal=won, stage=stage("赢单"))
    contract = signed_contract(rep, amount="6000.00", deal=won,
                               plan=[{"due_date": now, "amount": "6000.00"}])
    services.payment_record(actor=Actor(user=rep), contract=contract, received_on=now,
                            amount="1500", method="bank_transfer")
    result = selectors.attainment(manager, period_kind="month", year=now.year,
                                  period=now.month, owner_id=rep.pk)
    assert (result.target, result.won, result.signed, result.collected) == (
        D("40000.00"), D("10000.00"), D("6000.00"), D("1500.00"))
    assert result.rate == 0.25 and result.collected_rate == 0.0375
    team_result = selectors.attainment(manager, period_kind="quarter", year=now.year,
                                       period=quarter, team_id=team.pk)
    assert team_result.target == D("200000.00") and team_result.won == D("10000.00")
    assert DomainEvent.objects.filter(type="target.set").count() == 3


def test_weekly_snapshot_and_accuracy(make_user):
    rep = make_user("sales_rep")
    this = month_start(today())
    make_deal(rep, amount="1000.00", close=this)
    deal = make_deal(rep, amount="3000.00", close=this)
    services.deal_move(actor=Actor(user=rep), deal=deal, stage=stage("谈判审批"))
    system = Actor.system(via="system")
    assert services.forecast_snapshot_take(actor=system) == 6
    assert services.forecast_snapshot_take(actor=system) == 6  # same day: replaced
    assert ForecastSnapshot.objects.count() == 6
    snap = ForecastSnapshot.objects.get(close_month=this)
    assert (snap.commit, snap.best_case, snap.pipeline) == (D("2100.00"), D("2100.00"),
                                                            D("2200.00"))
    services.deal_move(actor=Actor(user=rep), deal=deal, stage=stage("赢单"))
    rows = selectors.forecast_accuracy(rep, close_month=this)
    assert rows == [{"taken_on": today(), "commit": D("2100.00"), "best_case": D("2100.00"),
                     "pipeline": D("2200.00"), "actual": D("3000.00"),
                     "error": D("-900.00")}]
    assert Deal.objects.count() == 2
