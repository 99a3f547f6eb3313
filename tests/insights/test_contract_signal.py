"""合同 30 天内到期: a live contract ending within the window is a signal and makes "renew the
contract" the next best action. Runs where the pipeline app keeps contracts (it is reached by
lookup, so insights works without it)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.insights import services
from kehu.insights.models import CustomerSignals
from kehu.insights.nba import next_actions
from tests.factories import CustomerFactory


def _contract_model():
    try:
        return apps.get_model("pipeline", "Contract")
    except LookupError:
        pytest.skip("the pipeline app keeps no contracts in this build")


def test_contract_ending_soon_is_a_signal_and_a_renewal(db, admin_user):
    contract = _contract_model()
    customer = CustomerFactory()
    today = timezone.localdate()

    def make(number, owner, days, status):
        contract.objects.create(number=number, title="年度框架", customer=owner, party_a="甲",
                                party_b="乙", amount=Decimal("1000"),
                                start_date=today - dt.timedelta(days=300),
                                end_date=today + dt.timedelta(days=days), status=status)
    make("HT-1", customer, 12, "executing")
    make("HT-2", CustomerFactory(), 90, "signed")       # ends too late
    make("HT-3", CustomerFactory(), 5, "terminated")    # not live
    services.signals_detect(actor=Actor.system(via="system"))
    row = CustomerSignals.objects.get()
    assert row.customer_id == customer.pk and row.kinds == ["contract_expiring"]
    assert row.details["contract_expiring"]["days_left"] == 12
    actions = next_actions(user=admin_user, customer=customer)
    assert [a["code"] for a in actions] == ["renew"]
    assert actions[0]["reason"] == "Contract HT-1 ends in 12 days"
