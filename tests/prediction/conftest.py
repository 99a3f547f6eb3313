"""Prediction tests: the CDNOW sample (from ../shared/data, skipped with a reason where
absent) and a small generated book of orders scored through the service."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

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

ROOT = Path(__file__).resolve().parents[2]
CDNOW = next((p for p in (ROOT.parent / "shared" / "data" / "cdnow",
                          Path("/work/shared/data/cdnow")) if p.is_dir()), None)


@pytest.fixture
def cdnow_sample() -> Path:
    if CDNOW is None or not (CDNOW / "CDNOW_sample.txt").exists():
        pytest.skip("the CDNOW sample is not in ../shared/data/cdnow")
    return CDNOW / "CDNOW_sample.txt"


@pytest.fixture
def low_thresholds(settings):
    """A book of a few hundred customers is enough for these tests."""
    settings.KEHU_PREDICTION_MIN_REPEAT_CUSTOMERS = 20
    settings.KEHU_PREDICTION_MIN_HISTORY_DAYS = 120
    return settings


def make_book(*, customers: int, owners=(), team=None, seed: int = 7, days: int = 360):  # noqa: F811
    """Customers with orders drawn from the BG/NBD process over the last `days` days; owners
    are given round-robin. Returns the customers in index order."""
    from kehu.prediction.synthetic import bgnbd_purchases
    from kehu.transactions.models import Order

    ids, day, amount = bgnbd_purchases(customers, days=days, cohort_days=days // 3,
                                       r=0.6, alpha=3.0, seed=seed, max_per_customer=30)
    owners = list(owners) or [None]
    made = [CustomerFactory(name=f"预测{i}", owner=owners[i % len(owners)],
                            team=team) for i in range(customers)]
    now = timezone.now()
    start = now - timedelta(days=days)
    Order.objects.bulk_create([
        Order(customer=made[c], number=f"P{seed}-{n:07d}", status="completed",
              ordered_at=start + timedelta(days=int(d), hours=2),
              total_amount=Decimal(f"{a:.2f}"))
        for n, (c, d, a) in enumerate(zip(ids.tolist(), day.tolist(), amount.tolist(),
                                          strict=True))])
    return made


@pytest.fixture
def book(db, low_thresholds, rep, colleague, team):  # noqa: F811 - imported fixtures
    """200 customers, half the rep's, half the colleague's."""
    return make_book(customers=200, owners=(rep, colleague), team=team)
