#!/usr/bin/env python3
"""RFM scoring benchmark: full and incremental scoring runs over a demo book.

Builds a demo book of N customers (`kehu demo --customers N --events-per-customer 0`: the
demo's own orders, 0-12 per customer by lifecycle stage, and 2-6 interactions each) in a
fresh temporary KEHU_HOME (SQLite) or the empty PostgreSQL database of --database-url,
then, in this process, times:

  (1) the first full run (every value row inserted),
  (2) a second full run (everything re-aggregated and re-ranked, nothing to write),
  (3) an incremental run after 200 new orders for 200 customers.

With --synthetic the book is built here instead, much faster than the demo loader: bare
customers (bulk_create), 0-4 orders each over two years (10% returned or refunded, 5%
cancelled) and 0-2 interactions each, from a seeded random generator: the way to reach
1,000,000 customers on a small machine.

Goal: a full run over 1,000,000 customers in at most 60 s. Prints figures; exits 0.

    .venv/bin/python bench/rfm_bench.py --customers 20000          # a quick check
    .venv/bin/python bench/rfm_bench.py --customers 1000000 --synthetic
    .venv/bin/python bench/rfm_bench.py --database-url postgres://postgres@127.0.0.1:5432/kehu_rfm
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_FULL_1M_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--home", help="reuse a book built earlier in this KEHU_HOME")
    parser.add_argument("--database-url", help="an empty PostgreSQL database to build into")
    parser.add_argument("--synthetic", action="store_true",
                        help="build bare customers, orders and interactions here (fast)")
    args = parser.parse_args()

    home = args.home or tempfile.mkdtemp(prefix="kehu-rfm-bench-")
    os.environ["KEHU_HOME"] = home
    os.environ["DJANGO_SETTINGS_MODULE"] = "kehu.settings"
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    kehu = str(Path(sys.executable).with_name("kehu"))
    if args.synthetic and not args.home:
        subprocess.run([kehu, "migrate", "-v0"], check=True)  # noqa: S603 - our own kehu command
    elif not args.home:
        started = time.perf_counter()
        subprocess.run([kehu, "demo", "--customers", str(args.customers),  # noqa: S603 - our own kehu command
                        "--events-per-customer", "0", "--seed", str(args.seed)],
                       check=True, stdout=subprocess.DEVNULL)
        print(f"built {args.customers:,} customers in {time.perf_counter() - started:.1f} s "
              f"({home})")

    import django

    django.setup()
    from datetime import timedelta
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from kehu.core.actor import Actor
    from kehu.customers.models import Customer
    from kehu.scoring.services import rfm_score
    from kehu.transactions.models import Order

    actor = Actor.system(via="cli")
    if args.synthetic and not args.home:
        started = time.perf_counter()
        build_synthetic(args.customers, args.seed)
        print(f"built {args.customers:,} synthetic customers in "
              f"{time.perf_counter() - started:.1f} s ({home})")
    customers = Customer.objects.filter(status="active").count()
    orders = Order.objects.count()
    print(f"database: {connection.vendor}; {customers:,} active customers, {orders:,} orders")

    def timed(label: str, **kwargs):
        started = time.perf_counter()
        run = rfm_score(actor=actor, **kwargs)
        seconds = time.perf_counter() - started
        print(f"{label:<34} {seconds:8.2f} s   mode={run.mode} scored={run.scored:,} "
              f"recomputed={run.recomputed:,} changed={run.changed:,} "
              f"lifecycle={run.lifecycle_changes:,}")
        return seconds

    first = timed("(1) first full run", full=True)
    second = timed("(2) second full run", full=True)
    now = timezone.now()
    ids = list(Customer.objects.filter(status="active").order_by("?")
               .values_list("pk", flat=True)[:200])
    Order.objects.bulk_create([
        Order(customer_id=pk, number=f"BENCH-{now:%H%M%S}-{pk}", status="paid",
              ordered_at=now - timedelta(hours=1), total_amount=Decimal("888.00"))
        for pk in ids])
    incremental = timed("(3) incremental, 200 new orders")
    per_million = second * 1_000_000 / max(customers, 1)
    print()
    print(f"full run per 1M customers (linear from run 2): {per_million:.1f} s "
          f"(goal <= {GOAL_FULL_1M_S:.0f} s: {'met' if per_million <= GOAL_FULL_1M_S else 'missed'})")
    print(f"first run {first:.2f} s, incremental {incremental:.2f} s "
          f"({incremental / second:.2f} x a full run)")


def build_synthetic(n: int, seed: int) -> None:
    """Bare customers with orders and interactions, in chunks of 20,000 customers."""
    import random
    from datetime import timedelta
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from kehu.customers.models import Customer
    from kehu.interactions.models import Interaction
    from kehu.transactions.models import Order

    rng = random.Random(seed)
    now = timezone.now()
    statuses = ["completed"] * 70 + ["paid"] * 10 + ["shipped"] * 5 + ["returned"] * 6 + [
        "refunded"] * 4 + ["cancelled"] * 5
    number = 0
    for start in range(0, n, 20_000):
        size = min(20_000, n - start)
        with transaction.atomic():
            made = Customer.objects.bulk_create(
                [Customer(name=f"客户{start + i}", lifecycle_stage="lead") for i in range(size)],
                batch_size=2000)
            orders, interactions = [], []
            for customer in made:
                for _ in range(rng.choice((0, 0, 1, 1, 1, 2, 2, 3, 4))):
                    number += 1
                    orders.append(Order(
                        customer_id=customer.pk, number=f"S{number:09d}",
                        status=rng.choice(statuses),
                        ordered_at=now - timedelta(minutes=rng.randint(60, 730 * 1440)),
                        total_amount=Decimal(rng.randint(1000, 2_000_000)) / 100))
                for _ in range(rng.choice((0, 1, 2))):
                    interactions.append(Interaction(
                        customer_id=customer.pk, kind="call", summary="电话",
                        occurred_at=now - timedelta(minutes=rng.randint(60, 730 * 1440))))
            Order.objects.bulk_create(orders, batch_size=2000)
            Interaction.objects.bulk_create(interactions, batch_size=2000)


if __name__ == "__main__":
    main()
