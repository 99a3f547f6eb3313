#!/usr/bin/env python3
"""SLA recomputation benchmark (docs/service.md, "Speed"): every ticket's clocks rebuilt from
its status history and messages, as after a policy or calendar change.

Builds N tickets in a fresh KEHU_HOME (SQLite) or the EMPTY PostgreSQL database of
--database-url, written set-based from a seeded generator: spread over 2025–2027 (so the
clocks cross weekends, lunch breaks, PRC holidays and 调休 days), each with 1–5 status moves
(a third of them through 待客户回复, which pauses the clocks, some still waiting there; most
resolved or closed) and
0–3 replies or customer messages. Then times `sla_recompute()` over all of them (the job a
policy change queues), a second time (the steady state: every row rewritten), and the single
ticket path a ticket change runs.

Goal: 100,000 tickets recomputed in at most 30 s. Prints figures; exits 0.

    .venv/bin/python bench/sla_bench.py                     # 100,000 tickets, SQLite
    .venv/bin/python bench/sla_bench.py --tickets 10000
    .venv/bin/python bench/sla_bench.py --database-url postgres://postgres@127.0.0.1:5432/kehu_sla
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time

from _kehu_home import fresh_home, print_machine

GOAL_S = 30.0


def build(n: int, seed: int) -> tuple[int, int]:
    from zoneinfo import ZoneInfo

    from django.db import transaction
    from django.utils import timezone

    from kehu.core.bulkdb import allocate_ids, insert_rows
    from kehu.customers.models import Customer
    from kehu.transactions.models import Ticket, TicketMessage, TicketStatusChange

    rng = random.Random(seed)
    tz = ZoneInfo("Asia/Shanghai")
    now = timezone.now()
    customers = max(1, n // 5)
    with transaction.atomic():
        Customer.objects.bulk_create([Customer(kind="person", name=f"客户{i}")
                                      for i in range(customers)], batch_size=2000)
    ids = list(Customer.objects.values_list("pk", flat=True))
    start = dt.datetime(2025, 1, 2, 8, 0, tzinfo=tz)
    span = int((dt.datetime(2027, 6, 30, tzinfo=tz) - start).total_seconds())
    kinds = ["service_request", "complaint", "inquiry"]
    priorities = ["low", "normal", "normal", "high", "urgent"]
    moves = messages = 0
    for offset in range(0, n, 20000):
        size = min(20000, n - offset)
        with transaction.atomic():
            ticket_ids = allocate_ids(Ticket, size)
            tickets, history, thread = [], [], []
            for pk in ticket_ids:
                opened = start + dt.timedelta(seconds=rng.randrange(span))
                at, status = opened, "open"
                history.append([pk, "", "open", opened])
                path = []
                if rng.random() < 0.35:
                    path += ["in_progress", "waiting_customer"]
                    if rng.random() < 0.8:
                        path.append("in_progress")     # the customer answered
                elif rng.random() < 0.7:
                    path.append("in_progress")
                if path[-1:] != ["waiting_customer"] and rng.random() < 0.8:
                    path.append(rng.choice(["resolved", "closed"]))
                for step in path:
                    at += dt.timedelta(minutes=rng.randrange(20, 60 * 30))
                    history.append([pk, status, step, at])
                    status = step
                msg_at = opened
                for _ in range(rng.randrange(4)):
                    msg_at += dt.timedelta(minutes=rng.randrange(10, 60 * 20))
                    thread.append([pk, rng.choice(["reply", "reply", "customer"]), "", "…",
                                   msg_at])
                resolved = at if status in ("resolved", "closed") else None
                tickets.append([pk, rng.choice(ids), f"TKB{pk:08d}", rng.choice(kinds), "工单",
                                "", status, rng.choice(priorities), "", opened, resolved, now])
            insert_rows(Ticket, ["id", "customer_id", "number", "kind", "subject",
                                 "description", "status", "priority", "resolution",
                                 "opened_at", "resolved_at", "created_at"], tickets)
            insert_rows(TicketStatusChange, ["ticket_id", "from_status", "to_status", "at"],
                        history)
            insert_rows(TicketMessage, ["ticket_id", "kind", "channel", "body", "at"], thread)
            moves += len(history)
            messages += len(thread)
    return moves, messages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    n = max(100, min(args.tickets, 2_000_000))
    home = fresh_home("kehu-sla-bench-", database_url=args.database_url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from kehu.service.models import TicketSLA
    from kehu.service.services.sla import sla_recompute
    from kehu.transactions.models import Ticket

    began = time.perf_counter()
    moves, messages = build(n, args.seed)
    print(f"database: {connection.vendor}; built {n:,} tickets, {moves:,} status moves, "
          f"{messages:,} messages in {time.perf_counter() - began:.1f} s")

    began, cpu = time.perf_counter(), time.process_time()
    count = sla_recompute()
    first, first_cpu = time.perf_counter() - began, time.process_time() - cpu
    print(f"first recomputation: {count:,} tickets in {first:.2f} s "
          f"({count / first:,.0f} tickets/s; this process's CPU {first_cpu:.2f} s)")
    began, cpu = time.perf_counter(), time.process_time()
    count = sla_recompute()
    second, second_cpu = time.perf_counter() - began, time.process_time() - cpu
    print(f"second recomputation (every row rewritten): {count:,} tickets in {second:.2f} s "
          f"({count / second:,.0f} tickets/s; this process's CPU {second_cpu:.2f} s)")
    one = Ticket.objects.order_by("?").values_list("pk", flat=True).first()
    began = time.perf_counter()
    for _ in range(20):
        sla_recompute(ticket_ids=[one])
    print(f"one ticket (a ticket change's hook): {(time.perf_counter() - began) / 20 * 1000:.1f} ms")
    breached = TicketSLA.objects.filter(resolution_breached=True).count()
    paused = TicketSLA.objects.filter(paused=True).count()
    print(f"clocks: {breached:,} resolution targets missed, {paused:,} paused")
    scaled = max(first, second) * 100_000 / count
    verdict = "within" if scaled <= GOAL_S else "OVER"
    print(f"goal: 100,000 tickets in ≤ {GOAL_S:.0f} s; measured {scaled:.1f} s per 100,000 "
          f"({verdict} the goal)")
    print_machine(home)


if __name__ == "__main__":
    main()
