#!/usr/bin/env python3
"""Report builder benchmark: orders grouped by month × region, in the caller's scope.

Builds a synthetic book in an EMPTY PostgreSQL database (--database-url): a team of reps
with a manager, N customers spread over seven regions (1,000 made by the ORM, then copied
in SQL) and M orders over two years (INSERT … SELECT generate_series), then times
`reports.query.run_report` for {"subject": "orders", "measure": sum of total_amount,
"group_by": [month, region]} as an administrator (every record) and as the sales manager
(the team's book), each run three times (the best is reported).

Goal (issue 15): ≤ 2 s on PostgreSQL at 5,000,000 orders. Prints figures; exits 0.

    createdb -h 127.0.0.1 -U postgres kehu_report_bench
    .venv/bin/python bench/report_bench.py \\
        --database-url postgres://postgres@127.0.0.1:5432/kehu_report_bench \\
        --customers 1000000 --orders 5000000
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
GOAL_S = 2.0
REGIONS = ["华东", "华南", "华北", "华中", "西南", "西北", "东北"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True,
                        help="an empty PostgreSQL database to build into")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--reuse", action="store_true",
                        help="the database is migrated already (what is built is kept)")
    args = parser.parse_args()

    os.environ["KEHU_HOME"] = tempfile.mkdtemp(prefix="kehu-report-bench-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "kehu.settings"
    os.environ["DATABASE_URL"] = args.database_url
    sys.path.insert(0, str(ROOT / "src"))
    if not args.reuse:
        kehu = str(Path(sys.executable).with_name("kehu"))
        subprocess.run([kehu, "migrate", "-v0"], check=True)  # noqa: S603 - our own command

    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from kehu.reports.query import run_report

    _build(args.customers, args.orders)
    users = get_user_model().objects
    admin = users.get(username="bench-admin")
    manager = users.get(username="bench-manager")
    spec = {"subject": "orders", "measure": {"kind": "sum", "field": "total_amount"},
            "group_by": [{"field": "date", "bucket": "month"}, {"field": "region"}],
            "chart": "stacked_bar"}
    for label, user in (("administrator (all records)", admin),
                        ("sales manager (team scope)", manager)):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            result = run_report(spec, user=user)
            times.append(time.perf_counter() - started)
        best = min(times)
        verdict = "OK" if best <= GOAL_S else "SLOW"
        print(f"{label}: {len(result.rows)} groups, total ¥{result.total:,}, "
              f"best {best:.2f} s of {', '.join(f'{t:.2f}' for t in times)} "
              f"(goal ≤ {GOAL_S:.0f} s) {verdict}")


def _build(customers: int, orders: int) -> None:
    import random

    from django.db import connection

    from kehu.accounts.models import Role, Team, User
    from kehu.customers.models import Customer

    started = time.perf_counter()
    if User.objects.filter(username="bench-admin").exists():
        _orders(orders)
        return
    team = Team.objects.create(name="基准团队")
    User.objects.create_superuser("bench-admin", "admin@example.com", "pw-Kehu-2026!")
    User.objects.create_user("bench-manager", "m@example.com", "pw-Kehu-2026!",
                             role=Role.objects.get(code="sales_manager"), team=team)
    reps = [User.objects.create_user(f"bench-rep{i}", f"r{i}@example.com", "pw-Kehu-2026!",
                                     role=Role.objects.get(code="sales_rep"),
                                     team=team if i < 10 else None) for i in range(40)]
    rng = random.Random(7)
    template = [Customer(kind="person", name=f"客户{i}", region=rng.choice(REGIONS),
                        owner=rng.choice(reps), lifecycle_stage="customer")
                for i in range(1000)]
    for customer in template:
        customer.team_id = customer.owner.team_id
    Customer.objects.bulk_create(template, batch_size=1000)
    table = Customer._meta.db_table
    columns = [f.column for f in Customer._meta.concrete_fields if f.column != "id"]
    copies = max(0, customers // 1000 - 1)
    select = ", ".join(f"c.{column}" for column in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - our names
                       f"SELECT {select} FROM {table} c CROSS JOIN generate_series(1, %s) g",
                       [copies])
    _orders(orders)
    print(f"built {Customer.objects.count():,} customers and {orders:,} orders in "
          f"{time.perf_counter() - started:.0f} s")


def _orders(orders: int) -> None:
    from django.db import connection

    from kehu.customers.models import Customer
    from kehu.transactions.models import Order

    if Order.objects.exists():
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id), max(id) FROM {Customer._meta.db_table}")  # noqa: S608
        low, high = cursor.fetchone()
        cursor.execute(
            "INSERT INTO transactions_order (customer_id, number, status, ordered_at, "
            "total_amount, payment_method, sales_channel, notes, created_at) "
            "SELECT %s + (g::bigint * 7919) %% %s, 'B' || g, 'paid', "
            "now() - (g %% 730) * interval '1 day' - (g %% 24) * interval '1 hour', "
            "(g %% 1000) + 0.5, '', 'online', '', now() FROM generate_series(1, %s) g",
            [low, high - low + 1, orders])
        cursor.execute("ANALYZE")


if __name__ == "__main__":
    main()
