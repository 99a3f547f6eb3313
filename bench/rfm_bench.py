#!/usr/bin/env python3
"""RFM scoring benchmark: full and incremental scoring runs over a demo book.

Builds a demo book of N customers (`kehu demo --customers N --events-per-customer 0`: the
demo's own orders, 0-12 per customer by lifecycle stage, and 2-6 interactions each) in a
fresh temporary KEHU_HOME (SQLite) or the empty PostgreSQL database of --database-url,
then, in this process, times:

  (1) the first full run (every value row inserted),
  (2) a second full run (everything re-aggregated and re-ranked, nothing to write),
  (3) an incremental run after 200 new orders for 200 customers.

Goal: a full run over 1,000,000 customers in at most 60 s. Prints figures; exits 0.

    .venv/bin/python bench/rfm_bench.py --customers 20000          # a quick check
    .venv/bin/python bench/rfm_bench.py --customers 1000000
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
    args = parser.parse_args()

    home = args.home or tempfile.mkdtemp(prefix="kehu-rfm-bench-")
    os.environ["KEHU_HOME"] = home
    os.environ["DJANGO_SETTINGS_MODULE"] = "kehu.settings"
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    kehu = str(Path(sys.executable).with_name("kehu"))
    if not args.home:
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


if __name__ == "__main__":
    main()
