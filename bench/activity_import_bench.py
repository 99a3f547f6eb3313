#!/usr/bin/env python3
"""Activity import benchmark: orders, interactions and events through the real import path.

1. Into a fresh KEHU_HOME (SQLite) or the EMPTY PostgreSQL database of --database-url,
   imports --customers generated customers with the real customers import and adds
   --products products to the catalogue (`product_create`).
2. Generates, as UTF-8 CSV files the way shops export them: --lines order lines (1 to 5
   lines an order, ~3 on average; Chinese statuses, payments and channels, ~2% returns,
   ~1% invalid rows), --interactions interactions and --events events (two property
   columns); orders and interactions name their customer by mobile, events by email.
3. Imports each file through `import_job_create` + `import_job_run` (the path of
   `kehu import FILE --kind …`: chunked jobs, set-based writes, audit chain), timed end to
   end, then imports the orders file again (every row unchanged, nothing written).
4. For comparison, times the per-row services the import called before it was set-based
   (`order_create` per order, `interaction_log` per interaction) on --sample records of the
   same shape: the old path's writes without its cleaning, so a ceiling of its rate.

Prints records/s per kind and `kehu audit verify`'s verdict. Exits 0 either way: figures,
not a test.

    .venv/bin/python bench/activity_import_bench.py                 # 100,000 order lines
    .venv/bin/python bench/activity_import_bench.py --lines 20000 --events 20000
    .venv/bin/python bench/activity_import_bench.py --database-url postgres://postgres@127.0.0.1/EMPTY
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
import time
from pathlib import Path

from _kehu_home import fresh_home, print_machine

STATUSES = ("已完成", "已完成", "已完成", "交易成功", "已付款", "已发货", "待付款", "已取消")
PAYMENTS = ("微信支付", "支付宝", "银行卡", "现金", "")
CHANNELS = ("天猫", "京东", "门店", "官网", "微信小店", "")
KINDS = ("电话", "拜访", "微信", "邮件", "备注", "咨询")
OUTCOMES = ("已解答", "有意向", "需回访", "", "")
EVENTS = ("浏览商品", "page_view", "app_login", "加入购物车", "搜索", "coupon_used")
PAGES = ("/", "/p/1", "/p/2", "/cart", "/search", "/me")
# Local (Asia/Shanghai) wall-clock times, written to the files without a zone as shops do.
START = dt.datetime(2024, 1, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _mobile(i: int) -> str:
    return f"139{(i * 7919 + 11) % 100_000_000:08d}"


def _moment(rng: random.Random, start: dt.datetime) -> dt.datetime:
    return start + dt.timedelta(minutes=rng.randrange(0, 700 * 24 * 60))


def _write(path: Path, header: list[str], rows) -> int:
    count = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow(row)
            count += 1
    return count


def customer_rows(count: int):
    for i in range(count):
        yield [f"客户{i}", _mobile(i), f"c{i}@example.com"]


def order_rows(rng: random.Random, lines: int, customers: int, products: int):
    """Order lines, whole orders only, until `lines` rows are written."""
    start = START
    written, number = 0, 0
    while written < lines:
        number += 1
        who = rng.randrange(customers)
        key = _mobile(who)
        at = _moment(rng, start).strftime(rng.choice(("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M:%S")))
        returned = rng.random() < 0.02
        status = "" if returned else rng.choice(STATUSES)
        payment, channel = rng.choice(PAYMENTS), rng.choice(CHANNELS)
        count = min(rng.choice((1, 2, 3, 3, 4, 5)), lines - written)
        for line in range(count):
            quantity = rng.randint(1, 4)
            row = [f"SO{number:08d}", key,
                   f"SKU-{rng.randrange(products):04d}", str(-quantity if returned else quantity),
                   f"{rng.randint(5, 900)}.{rng.choice(('00', '50', '90'))}", at,
                   status if line == 0 else "", payment if line == 0 else "",
                   channel if line == 0 else ""]
            if rng.random() < 0.01:
                row[3] = "abc"  # invalid: the whole order is rejected
            yield row
        written += count


def interaction_rows(rng: random.Random, count: int, customers: int):
    start = START
    for i in range(count):
        who = rng.randrange(customers)
        yield [_mobile(who), rng.choice(KINDS), rng.choice(("呼入", "呼出", "")),
               _moment(rng, start).strftime("%Y-%m-%d %H:%M"), f"第{i}次沟通：询问产品与价格",
               rng.choice(OUTCOMES)]


def event_rows(rng: random.Random, count: int, customers: int):
    start = START
    for _i in range(count):
        who = rng.randrange(customers)
        yield [f"c{who}@example.com", rng.choice(EVENTS),
               _moment(rng, start).strftime("%Y-%m-%d %H:%M:%S"), rng.choice(("web", "app", "")),
               rng.choice(PAGES), rng.choice(("", "", "保温杯", "龙井茶"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000, help="order lines")
    parser.add_argument("--interactions", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--sample", type=int, default=300,
                        help="records written through the old per-row services")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--chunk", type=int, default=None, help="KEHU_IMPORT_CHUNK_ROWS")
    parser.add_argument("--database-url", default="",
                        help="an EMPTY PostgreSQL database to import into (default: SQLite)")
    args = parser.parse_args()

    home = fresh_home("kehu-activity-bench-", database_url=args.database_url, chunk=args.chunk)

    rng = random.Random(args.seed)
    files = {
        "customers": (["客户名称", "手机", "邮箱"], customer_rows(args.customers)),
        "orders": (["订单号", "客户手机", "商品编码", "数量", "单价", "下单时间", "订单状态",
                    "支付方式", "销售渠道"],
                   order_rows(rng, args.lines, args.customers, args.products)),
        "interactions": (["客户手机", "互动类型", "方向", "时间", "内容", "结果"],
                         interaction_rows(rng, args.interactions, args.customers)),
        "events": (["客户邮箱", "事件名称", "发生时间", "来源", "页面", "商品"],
                   event_rows(rng, args.events, args.customers)),
    }
    paths, sizes = {}, {}
    for kind, (header, rows) in files.items():
        paths[kind] = home / f"{kind}.csv"
        sizes[kind] = _write(paths[kind], header, rows)
    print("generated " + ", ".join(f"{sizes[k]:,} {k}" for k in files) + " rows")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from kehu.accounts.models import User
    from kehu.core.actor import Actor
    from kehu.core.audit import audit_verify
    from kehu.customers.models import Customer
    from kehu.interactions.services import interaction_log
    from kehu.interchange.services import import_job_create, import_job_run
    from kehu.transactions.models import Order, Product
    from kehu.transactions.services import order_create, product_create

    if User.objects.exists() or Customer.objects.exists():
        sys.exit("the database is not empty: give an empty one")
    admin = User.objects.create_superuser("bench", "bench@example.com", "bench-pass-1")
    actor = Actor(user=admin, via="cli")

    def run(kind: str) -> tuple[object, float]:
        started = time.perf_counter()
        job = import_job_create(actor=actor, file=paths[kind], filename=paths[kind].name,
                                kind=kind)
        job = import_job_run(job_id=job.pk, actor=actor)
        return job, time.perf_counter() - started

    results = []
    job, seconds = run("customers")
    print(f"customers import: {job.rows_done:,} rows in {seconds:.1f} s ({job.status})")
    for i in range(args.products):
        product_create(actor=actor, sku=f"SKU-{i:04d}", name=f"商品{i}",
                       unit_price=f"{10 + i % 500}.00")

    for kind in ("orders", "interactions", "events"):
        job, seconds = run(kind)
        results.append((f"{kind} import", job, seconds))
        if job.status != "done":
            print(f"{kind}: {job.status} {job.error_message}")
    orders, seconds = run("orders")
    results.append(("orders re-import (unchanged)", orders, seconds))

    # The old path's per-row writes, on a sample of the same shape (rolled back).
    customers = list(Customer.objects.order_by("id")[:max(1, args.sample)])
    products = list(Product.objects.order_by("id")[:5])
    at = timezone.now() - dt.timedelta(days=30)
    old = []
    with transaction.atomic():
        started = time.perf_counter()
        lines = 0
        for i, customer in enumerate(customers):
            count = 1 + i % 5
            order_create(actor=actor, customer=customer, number=f"OLD{i:06d}", ordered_at=at,
                         status="completed", salesperson=None,
                         lines=[{"product": products[n % 5], "quantity": 1 + n,
                                 "unit_price": None} for n in range(count)])
            lines += count
        old.append(("orders: order_create per order", lines, time.perf_counter() - started))
        started = time.perf_counter()
        for i, customer in enumerate(customers):
            interaction_log(actor=actor, customer=customer, kind="call",
                            summary=f"旧路径 {i}", occurred_at=at)
        old.append(("interactions: interaction_log per row", len(customers),
                    time.perf_counter() - started))
        transaction.set_rollback(True)

    check = audit_verify()
    print()
    print(f"{'path (' + connection.vendor + ')':40}{'rows':>10}{'seconds':>9}{'rows/s':>9}"
          f"   created / updated / unchanged / rejected")
    for label, job, seconds in results:
        print(f"{label:40}{job.rows_done:>10,}{seconds:>9.1f}{job.rows_done / seconds:>9,.0f}"
              f"   {job.created:,} / {job.updated:,} / {job.unchanged:,} / {job.rejected:,}"
              f"{'' if job.status == 'done' else '  ' + job.status}")
    for label, rows, seconds in old:
        print(f"{'before: ' + label:40}{rows:>10,}{seconds:>9.1f}{rows / seconds:>9,.0f}"
              f"   (services only, sample; rolled back)")
    print(f"orders: {Order.objects.count():,} recorded; audit chain: "
          f"{'ok' if check.ok else 'BROKEN'}, {check.checked:,} entries")
    print_machine(home)


if __name__ == "__main__":
    main()
