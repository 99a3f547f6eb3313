"""Scoring tests: a small book of customers and orders whose scores are checked by hand."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.customer_layer_fixtures import (  # noqa: F401
    _english,
    actor_for,
    colleague,
    customer,
    others_customer,
    rep,
    team,
)
from tests.factories import CustomerFactory

_numbers = itertools.count(1)


def add_order(buyer, *, days_ago: float, amount: str, status: str = "completed", now=None):
    from kehu.transactions.models import Order

    now = now or timezone.now()
    return Order.objects.create(customer=buyer, number=f"T{next(_numbers):08d}",
                                status=status, ordered_at=now - timedelta(days=days_ago),
                                total_amount=Decimal(amount))


@pytest.fixture
def book(db, rep, team):  # noqa: F811 - the imported fixtures
    """A..F as in docs/rfm.md's worked example."""
    made = {name: CustomerFactory(name=f"客户{name}", owner=rep, team=team)
            for name in "ABCDEF"}
    add_order(made["A"], days_ago=1, amount="100")
    add_order(made["A"], days_ago=10, amount="200")
    add_order(made["A"], days_ago=20, amount="300")
    add_order(made["B"], days_ago=5, amount="50")
    add_order(made["C"], days_ago=30, amount="1000")
    add_order(made["C"], days_ago=30, amount="1000")
    add_order(made["D"], days_ago=200, amount="10")
    add_order(made["D"], days_ago=2, amount="5000", status="returned")   # netted out
    add_order(made["D"], days_ago=3, amount="700", status="cancelled")   # never counted
    add_order(made["E"], days_ago=400, amount="900")                     # outside the window
    return made
