"""A small book: a team with a manager and two reps, customers in two regions, orders over
three months, tickets and deals; every expected figure is computed independently in Python."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import CustomerFactory, TeamFactory

MONTHS = [dt.date(2025, 1, 10), dt.date(2025, 2, 14), dt.date(2025, 3, 20)]


@pytest.fixture
def book(make_user):
    from kehu.transactions.models import Order, Ticket

    team = TeamFactory()
    manager = make_user("sales_manager", team=team)
    rep_a = make_user("sales_rep", team=team)
    rep_b = make_user("sales_rep", team=team)
    outsider = make_user("sales_rep")
    places = [("华东", "上海市", "上海市"), ("华东", "江苏省", "南京市"), ("华南", "广东省", "广州市")]
    customers, orders = [], []
    n = 0
    for owner in (rep_a, rep_b, outsider):
        for index, (region, province, city) in enumerate(places):
            customer = CustomerFactory(owner=owner, team=owner.team, region=region,
                                       province=province, city=city,
                                       birthday=dt.date(1990, index + 1, 5),
                                       lifecycle_stage="customer" if index else "lead")
            customers.append(customer)
            for month_index, day in enumerate(MONTHS):
                if (index + month_index) % 3 == 2:
                    continue
                n += 1
                amount = Decimal(100 * (index + 1) + 10 * month_index + n)
                at = timezone.make_aware(dt.datetime.combine(day, dt.time(10, 0)))
                orders.append(Order.objects.create(
                    customer=customer, number=f"SO-{n:04d}", ordered_at=at,
                    total_amount=amount, status="paid" if n % 4 else "cancelled",
                    sales_channel="online" if n % 2 else "store"))
            Ticket.objects.create(customer=customer, number=f"TK-{customer.pk}",
                                  kind="complaint" if index == 0 else "service_request",
                                  subject="问题", opened_at=timezone.make_aware(
                                      dt.datetime(2025, 2, 1, 9)))
    return {"team": team, "manager": manager, "rep_a": rep_a, "rep_b": rep_b,
            "outsider": outsider, "customers": customers, "orders": orders}
