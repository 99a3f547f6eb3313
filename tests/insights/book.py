"""Generated books for the insights tests: a churn signal planted among random RFM figures,
and a co-purchase pattern planted among random purchases."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from kehu.customers.models import Customer
from kehu.interactions.models import Event
from kehu.transactions.models import Order, OrderLine, Product, Ticket

_numbers = itertools.count(1)


def order(customer_id: int, at: datetime, amount: str | Decimal = "100.00",
          status: str = "completed", products=()) -> Order:
    row = Order.objects.create(customer_id=customer_id, number=f"IN{next(_numbers):09d}",
                               status=status, ordered_at=at, total_amount=Decimal(amount))
    if products:
        OrderLine.objects.bulk_create([OrderLine(order=row, product=p, quantity=1,
                                                 unit_price=p.unit_price, amount=p.unit_price)
                                       for p in products])
    return row


def planted_churn_book(*, n: int = 260, seed: int = 7, now: datetime | None = None,
                       owner=None, team=None, window_days: int = 180) -> dict[str, list[int]]:
    """n customers with random purchase histories before the cut-off (now − window). A
    planted half-signal: customers with complaints in the 30 days before the cut-off and
    falling visits churn 90% of the time, the others 15% — independently of their RFM
    figures, so the RFM baseline ranks them no better than chance. Returns the ids by group."""
    rng = random.Random(seed)
    now = now or timezone.now()
    cutoff = now - timedelta(days=window_days)
    customers = Customer.objects.bulk_create([
        Customer(kind="person", name=f"流失测试{i}", lifecycle_stage="customer", owner=owner,
                 team=team) for i in range(n)])
    Customer.objects.filter(pk__in=[c.pk for c in customers]).update(
        created_at=cutoff - timedelta(days=500))
    orders, tickets, events = [], [], []
    groups: dict[str, list[int]] = {"signal": [], "plain": [], "churned": []}
    for c in customers:
        signal = rng.random() < 0.35
        groups["signal" if signal else "plain"].append(c.pk)
        for _k in range(rng.randint(1, 6)):
            at = cutoff - timedelta(days=rng.uniform(1, 360))
            orders.append(Order(customer_id=c.pk, number=f"IN{next(_numbers):09d}",
                                status="completed", ordered_at=at,
                                total_amount=Decimal(rng.randint(50, 5000))))
        if signal:
            for _k in range(rng.randint(1, 3)):
                tickets.append(Ticket(customer_id=c.pk, number=f"TK{next(_numbers):09d}",
                                      kind="complaint", subject="投诉", status="closed",
                                      opened_at=cutoff - timedelta(days=rng.uniform(1, 28))))
            earlier, recent = rng.randint(6, 10), rng.randint(0, 2)
        else:
            earlier = rng.randint(2, 8)
            recent = max(0, earlier + rng.randint(-2, 2))
        for _k in range(earlier):
            events.append(Event(customer_id=c.pk, event_type="page_view",
                                 occurred_at=cutoff - timedelta(days=rng.uniform(31, 59)),
                                 properties={"url": "/products"}))
        for _k in range(recent):
            events.append(Event(customer_id=c.pk, event_type="page_view",
                                occurred_at=cutoff - timedelta(days=rng.uniform(1, 29)),
                                properties={"url": "/products"}))
        churns = rng.random() < (0.9 if signal else 0.15)
        if churns:
            groups["churned"].append(c.pk)
        else:
            orders.append(Order(customer_id=c.pk, number=f"IN{next(_numbers):09d}",
                                status="completed",
                                ordered_at=cutoff + timedelta(days=rng.uniform(2, window_days - 2)),
                                total_amount=Decimal(rng.randint(50, 5000))))
    Order.objects.bulk_create(orders, batch_size=500)
    Ticket.objects.bulk_create(tickets, batch_size=500)
    Event.objects.bulk_create(events, batch_size=500)
    return groups


def planted_co_purchase(*, seed: int = 3, customers: int = 120, now: datetime | None = None):
    """A catalogue where buyers of the printer buy its toner (and of the laptop its bag)
    later, among random other purchases. Returns (products by name, customer ids)."""
    rng = random.Random(seed)
    now = now or timezone.now()
    names = ["printer", "toner", "laptop", "bag", *[f"misc{i}" for i in range(10)]]
    products = {name: Product.objects.create(sku=f"P-{name}", name=name, unit_price="100.00")
                for name in names}
    made = Customer.objects.bulk_create([Customer(kind="person", name=f"推荐测试{i}")
                                         for i in range(customers)])
    for c in made:
        start = now - timedelta(days=rng.uniform(200, 400))
        if rng.random() < 0.5:
            order(c.pk, start, products=[products["printer"]])
            if rng.random() < 0.8:
                order(c.pk, start + timedelta(days=rng.uniform(20, 150)),
                      products=[products["toner"]])
        else:
            order(c.pk, start, products=[products["laptop"]])
            if rng.random() < 0.8:
                order(c.pk, start + timedelta(days=rng.uniform(20, 150)),
                      products=[products["bag"]])
        for _k in range(rng.randint(0, 2)):
            order(c.pk, start + timedelta(days=rng.uniform(0, 190)),
                  products=[products[f"misc{rng.randint(0, 9)}"]])
    return products, [c.pk for c in made]
