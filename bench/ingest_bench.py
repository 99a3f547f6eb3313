#!/usr/bin/env python3
"""Segment-compatible batch ingestion benchmark (docs/integration.md, "Event ingestion"; goal
≥ 10,000 events/s to SQLite and ≥ 20,000/s to PostgreSQL on 2 cores).

POSTs 500-event batches to /api/v1/batch in-process (Django's test client: the key check,
JSON parsing, the per-item checks, de-duplication, the domain-event outbox and the writes;
no network): 90% `track`/`page` events of known customers (userId = their app id), 10% of
anonymous visitors, 2% of each batch replaying messageIds already sent, and one identify per
batch that stitches a visitor seen earlier. Exits 0 either way: figures, not a test.

    .venv/bin/python bench/ingest_bench.py                     # 20 batches of 500, SQLite
    .venv/bin/python bench/ingest_bench.py --batches 100
    .venv/bin/python bench/ingest_bench.py --database-url postgres://postgres@127.0.0.1/kehu_b
"""

from __future__ import annotations

import argparse
import json
import random
import time

from _kehu_home import fresh_home, print_machine

GOALS = {"sqlite": 10_000.0, "postgresql": 20_000.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--profile", action="store_true", help="print where the time goes")
    parser.add_argument("--latency", type=int, default=0, metavar="N",
                        help="then, with a real `kehu worker`, N rounds of one 100-event batch "
                             "carrying one rule-triggering event: ingest → rule action p99")
    parser.add_argument("--rate", type=float, default=4.0, help="latency rounds per second")
    args = parser.parse_args()
    home = fresh_home("kehu-ingest-bench-", database_url=args.database_url)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    from kehu.accounts.models import User
    from kehu.accounts.services import apikey_create
    from kehu.core.actor import Actor
    from kehu.customers.services import customer_create, identifier_add
    from kehu.integration.models import IngestMessage, Stitch, VisitorEvent
    from kehu.interactions.models import Event

    settings.KEHU_INGEST_RATE_LIMIT = 10**9
    admin = User.objects.create_superuser("bench", password="x" * 12)
    actor = Actor(user=admin, via="cli")
    for n in range(args.customers):
        customer = customer_create(actor=actor, name=f"客户{n}")
        identifier_add(actor=actor, customer=customer, kind="external", system="app",
                       value=f"user-{n}")
    _key, token = apikey_create(actor=actor, user=admin, scopes=["ingest"])
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="localhost")

    rng = random.Random(7)
    sent_ids: list[str] = []
    seen_anonymous: list[str] = []
    serial = 0

    def batch(number: int) -> list[dict]:
        nonlocal serial
        items = []
        replays = int(args.batch_size * 0.02) if sent_ids else 0
        for _ in range(args.batch_size - replays - 1):
            serial += 1
            item = {"messageId": f"m-{serial}", "timestamp": "2026-01-05T10:00:00Z",
                    "context": {"ip": "10.0.0.1", "library": {"name": "bench"}}}
            if rng.random() < 0.10:
                item["anonymousId"] = f"anon-{rng.randrange(5000)}"
                seen_anonymous.append(item["anonymousId"])
            else:
                item["userId"] = f"user-{rng.randrange(args.customers)}"
            if rng.random() < 0.3:
                item.update(type="page", name="Product", properties={"path": "/p/1"})
            else:
                item.update(type="track", event="Product Viewed",
                            properties={"sku": f"SKU-{rng.randrange(100)}", "price": 99.0})
            items.append(item)
        items += [{"type": "track", "event": "Product Viewed", "messageId": m,
                   "userId": "user-0"} for m in rng.sample(sent_ids, replays)]
        # One visitor seen earlier signs in: its events are stitched to a customer.
        if number:
            items.append({"type": "identify", "messageId": f"id-{number}",
                          "anonymousId": seen_anonymous[number],
                          "userId": f"user-{number % args.customers}"})
        else:
            items.append({"type": "page", "anonymousId": "anon-first", "name": "Home"})
        sent_ids.extend(i["messageId"] for i in items[:50])
        return items

    bodies = [json.dumps({"batch": batch(n)}) for n in range(args.batches)]
    from django.urls import resolve

    resolve("/api/v1/batch")  # the URLconf and the API load before the clock starts
    print_machine(home)

    import cProfile
    import pstats

    profile = cProfile.Profile() if args.profile else None
    if profile:
        profile.enable()
    accepted = duplicates = errors = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for body in bodies:
        response = client.post("/api/v1/batch", data=body, content_type="application/json")
        result = response.json()
        accepted += result["accepted"]
        duplicates += result["duplicates"]
        errors += len(result["errors"])
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    if profile:
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(45)
    total = args.batches * args.batch_size
    rate = total / elapsed if elapsed else 0.0
    vendor = connection.vendor
    goal = GOALS.get(vendor, GOALS["sqlite"])
    print(f"database: {vendor}; {args.batches} batches × {args.batch_size} = {total} items")
    print(f"accepted {accepted} (replays {duplicates}), errors {errors}; stored: "
          f"{Event.objects.count()} customer events, {VisitorEvent.objects.count()} visitor "
          f"events, {IngestMessage.objects.count()} message ids, "
          f"{Stitch.objects.count()} stitches")
    print(f"ingestion: {elapsed:.2f} s, {rate:,.0f} events/s "
          f"(goal ≥ {goal:,.0f}/s: {'met' if rate >= goal else 'NOT met'})")
    # The cores are shared: this process's CPU time is steadier than the clock under load.
    print(f"cpu: {cpu:.2f} s in this process, {total / cpu if cpu else 0.0:,.0f} events per "
          f"CPU-second")
    if args.latency:
        _latency(args, actor, client, rng)


def _latency(args, actor, client, rng: random.Random) -> None:
    """Ingest → rule action: a rule tags a customer on a pricing page view; each round posts a
    100-event batch carrying one such event for a customer not tagged yet, and the delay is
    from the response until the rule's run finished (a real `kehu worker` dispatching)."""
    import os
    import statistics
    import subprocess
    import sys

    from _kehu_home import ROOT

    from kehu.automation.models import RuleRun
    from kehu.automation.services import rule_activate, rule_create
    from kehu.core.models import DomainEvent, EventSubscriberState
    from kehu.customers.models import Identifier

    rule = rule_create(actor=actor, name="看过价格", trigger={
        "kind": "event_ingested", "event_type": "page_view", "property": "url",
        "op": "contains", "value": "/pricing"},
        conditions={"type": "group", "match": "all", "conditions": []},
        actions=[{"kind": "add_tag", "tag": "看过价格"}])
    rule_activate(actor=actor, rule=rule, backfill=False)
    owners = dict(Identifier.objects.filter(kind="external", system="app").values_list(
        "value", "customer_id"))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    worker = subprocess.Popen([sys.executable, "-m", "kehu", "worker"], env=env,  # noqa: S603
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # The worker first works through the throughput part's events (not timed).
        top = DomainEvent.objects.order_by("-id").values_list("id", flat=True).first()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and EventSubscriberState.objects.filter(
                name="automation.rules", cursor__gte=top).count() == 0:
            time.sleep(0.5)
        sent: dict[int, float] = {}
        for round_ in range(min(args.latency, args.customers)):
            user = f"user-{round_}"
            items = [{"type": "track", "event": "Product Viewed", "messageId": f"l-{round_}-{n}",
                      "userId": f"user-{rng.randrange(args.customers)}"} for n in range(99)]
            items.insert(rng.randrange(100), {"type": "page", "name": "Pricing",
                                              "properties": {"url": "https://shop.cn/pricing"},
                                              "messageId": f"l-{round_}", "userId": user})
            client.post("/api/v1/batch", data=json.dumps({"batch": items}),
                        content_type="application/json")
            sent[owners[user]] = time.time()
            time.sleep(1.0 / max(args.rate, 0.1) * rng.uniform(0.5, 1.5))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and RuleRun.objects.filter(
                rule=rule, finished_at__isnull=False).count() < len(sent):
            time.sleep(0.5)
        finished = dict(RuleRun.objects.filter(rule=rule, finished_at__isnull=False)
                        .values_list("customer_id", "finished_at"))
        delays = sorted(finished[pk].timestamp() - at for pk, at in sent.items()
                        if pk in finished)
        if not delays:
            print("ingest → rule latency: no run finished (is the worker running?)")
            return
        p99 = delays[min(len(delays) - 1, int(round(0.99 * (len(delays) - 1))))]
        print(f"ingest → rule latency over {len(delays)}/{len(sent)} batches at "
              f"{args.rate:g}/s: p50 {statistics.median(delays) * 1000:.0f} ms, "
              f"p99 {p99 * 1000:.0f} ms, max {delays[-1] * 1000:.0f} ms "
              f"(goal p99 ≤ 1 s: {'met' if p99 <= 1.0 else 'NOT met'})")
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()


if __name__ == "__main__":
    main()
