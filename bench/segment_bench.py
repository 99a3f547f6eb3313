#!/usr/bin/env python3
"""Segment benchmark: time to count the seeds' example segment ("East China customers who
bought product A in the last 30 days and viewed product B's accessory page").

Builds N customers with E events and O orders each (on average) in a fresh temporary
KEHU_HOME (SQLite) or in the PostgreSQL database given by --database-url (its tables are
emptied first), then times `segment_queryset(...).count()` as a full-scope admin: the best
and median of --repeat runs, after one warm-up. Several --customers values give a scale
curve. Figures, not a test: exits 0 whatever the result.

    .venv/bin/python bench/segment_bench.py                          # 20k,50k customers
    .venv/bin/python bench/segment_bench.py --customers 1000000 --events 20 --orders 5
    .venv/bin/python bench/segment_bench.py --database-url postgres://postgres@127.0.0.1/kehu_bench
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_MS = {"sqlite": 1000.0, "postgresql": 300.0}
EXAMPLE = {"type": "group", "match": "all", "conditions": [
    {"type": "field", "field": "region", "op": "eq", "value": "华东"},
    {"type": "purchase", "product": "A", "within_days": 30},
    {"type": "event", "name": "page_view", "within_days": 30,
     "where": [{"property": "url", "op": "contains", "value": "/products/b/accessories"}]},
]}
REGIONS = ["华东", "华南", "华北", "华中", "西南", "西北", "东北"]
EVENT_TYPES = ["page_view", "page_view", "product_view", "email_open", "app_login", "cart_add"]
URLS = ["/", "/products/a", "/products/b", "/products/b/accessories", "/products/c", "/about",
        "/products/b/accessories/cable", "/cart"]


def setup(database_url: str | None) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    os.environ.setdefault("KEHU_HOME", tempfile.mkdtemp(prefix="kehu-segbench-"))
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


def build(customers: int, events: float, orders: float, seed: int = 7) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from kehu.customers.models import Customer
    from kehu.interactions.models import Event
    from kehu.transactions.models import Order, OrderLine, Product

    rng = random.Random(seed)
    now = timezone.now()
    with transaction.atomic():
        for model in (OrderLine, Order, Event, Customer, Product):
            model.objects.all().delete()
        products = Product.objects.bulk_create(
            [Product(sku=sku, name=f"产品{sku}", category=cat, unit_price="99.00")
             for sku, cat in [("A", "打印机"), ("B", "打印机"), ("B-ACC", "配件"),
                              ("C", "耗材"), ("D", "耗材")]])
        batch = 20000
        made = 0
        while made < customers:
            size = min(batch, customers - made)
            rows = Customer.objects.bulk_create(
                [Customer(name=f"客户{made + i}", region=rng.choice(REGIONS))
                 for i in range(size)], batch_size=5000)
            event_rows, order_rows = [], []
            for customer in rows:
                for _ in range(rng.randint(0, int(events * 2))):
                    event_rows.append(Event(
                        customer_id=customer.pk, event_type=rng.choice(EVENT_TYPES),
                        occurred_at=now - timedelta(days=rng.random() * 365),
                        properties={"url": rng.choice(URLS)}))
                for _ in range(rng.randint(0, int(orders * 2))):
                    order_rows.append(Order(
                        customer_id=customer.pk, number=f"B{customer.pk}-{len(order_rows)}",
                        status=rng.choice(["paid", "completed", "shipped", "refunded"]),
                        ordered_at=now - timedelta(days=rng.random() * 365),
                        total_amount="99.00"))
            Event.objects.bulk_create(event_rows, batch_size=5000)
            Order.objects.bulk_create(order_rows, batch_size=5000)
            OrderLine.objects.bulk_create(
                [OrderLine(order_id=o.pk, product=rng.choice(products), quantity=1,
                           unit_price="99.00", amount="99.00") for o in order_rows],
                batch_size=5000)
            made += size
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def measure(repeat: int, semi_join: str) -> tuple[int, float, float]:
    from kehu.accounts.models import User
    from kehu.segments import compiler
    from kehu.segments.selectors import segment_queryset

    compiler.SEMI_JOIN = semi_join

    admin = User.objects.filter(is_superuser=True).first() or User.objects.create_superuser(
        "bench-admin", password="x-Bench-2026!")
    segment_queryset(user=admin, definition=EXAMPLE).count()  # warm-up
    times, count = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        count = segment_queryset(user=admin, definition=EXAMPLE).count()
        times.append((time.perf_counter() - started) * 1000)
    return count, min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[20000, 50000])
    parser.add_argument("--events", type=float, default=20, help="events per customer (mean)")
    parser.add_argument("--orders", type=float, default=5, help="orders per customer (mean)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    setup(args.database_url)
    from django.db import connection

    vendor = connection.vendor
    print(f"segment count, seeds' example, {vendor}; goal ≤ {GOAL_MS[vendor]:.0f} ms")
    print(f"{'customers':>10} {'events':>10} {'orders':>9} {'build s':>8} {'semi-join':>9} "
          f"{'members':>8} {'best ms':>8} {'median ms':>9}  goal")
    for n in args.customers:
        started = time.perf_counter()
        build(n, args.events, args.orders)
        built = time.perf_counter() - started
        from kehu.interactions.models import Event
        from kehu.transactions.models import Order

        events, orders = Event.objects.count(), Order.objects.count()
        for semi_join in ("in", "exists"):
            count, best, median = measure(args.repeat, semi_join)
            print(f"{n:>10} {events:>10} {orders:>9} {built:>8.1f} {semi_join:>9} "
                  f"{count:>8} {best:>8.1f} {median:>9.1f}  "
                  f"{'met' if median <= GOAL_MS[vendor] else 'missed'}", flush=True)


if __name__ == "__main__":
    main()
