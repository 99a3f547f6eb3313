""""Purchase" means one thing: paid, shipped and completed orders are purchases and spend;
pending, cancelled, returned and refunded ones are not, in segments, RFM scoring and the
card's spend alike."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.scoring.models import CustomerValue
from kehu.scoring.services import rfm_score
from kehu.segments.selectors import segment_queryset
from kehu.transactions.models import Order
from kehu.transactions.selectors import customer_order_summary
from tests.factories import CustomerFactory

PURCHASES = {"paid", "shipped", "completed"}  # as docs/segments.md says; not read from kehu


@pytest.fixture
def book(db, make_user):
    admin = make_user("admin", username="root", is_superuser=True)
    now = timezone.now()
    customers = {}
    for index, (status, _label) in enumerate(Order.STATUSES):
        customer = CustomerFactory(name=f"只有{status}订单")
        Order.objects.create(customer=customer, number=f"P-{index}", status=status,
                             ordered_at=now - timedelta(days=3), total_amount="800.00")
        customers[status] = customer
    return {"admin": admin, "customers": customers}


def _ids(user, condition):
    return set(segment_queryset(user=user, definition={"conditions": [condition]})
               .values_list("pk", flat=True))


def test_the_one_definition_is_paid_shipped_completed():
    assert set(Order.PURCHASE_STATUSES) == PURCHASES


def test_segments_count_purchases_and_spend_only_on_purchases(book):
    admin, customers = book["admin"], book["customers"]
    buyers = {customers[s].pk for s in PURCHASES}
    assert _ids(admin, {"type": "purchase", "within_days": 30}) == buyers
    assert _ids(admin, {"type": "purchase"}) == buyers
    assert _ids(admin, {"type": "spend", "op": "gte", "value": 800}) == buyers
    # a pending order is neither a purchase nor spend
    pending = customers["pending"].pk
    assert pending in _ids(admin, {"type": "purchase", "did": False})
    assert pending in _ids(admin, {"type": "spend", "op": "eq", "value": 0})


def test_rfm_and_the_card_agree_with_segments(book):
    admin, customers = book["admin"], book["customers"]
    rfm_score(actor=Actor(user=admin), full=True)
    scored = {v.customer_id: v for v in CustomerValue.objects.all()}
    segment_buyers = _ids(admin, {"type": "purchase"})
    rfm_buyers = {pk for pk, v in scored.items() if (v.frequency or 0) > 0}
    assert rfm_buyers == segment_buyers
    assert all(scored[pk].monetary == Decimal("800.00") for pk in segment_buyers)
    for status, customer in customers.items():
        summary = customer_order_summary(admin, customer)
        spend = Decimal("800.00") if status in PURCHASES else Decimal("0.00")
        assert summary.total_spend == spend, status
        in_spend_segment = customer.pk in _ids(admin, {"type": "spend", "op": "gt", "value": 0})
        assert in_spend_segment == (status in PURCHASES), status
