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


if __name__ == "__main__":
    main()
