#!/usr/bin/env python3
"""Domain events benchmark (docs/events.md, "Speed"): what events cost a bulk import, and how
fast the dispatcher hands them to a subscriber.

1. Generates N customer rows (import_bench's generator: realistic Chinese data, ~1% invalid,
   ~2% in-file repeats) and imports them in a fresh KEHU_HOME (SQLite) or the EMPTY
   PostgreSQL database of --database-url, through `import_job_create` + `import_job_run`
   (the code path of `kehu import FILE`), alternately WITHOUT events (the bulk writer's
   `record_changes_many` replaced by the plain `audit_record_many` it wraps) and WITH them,
   --rounds times each (with-without, then without-with, so drift cancels), emptying the
   tables between runs. Prints each run, each round's ratio and the overall ratio (total
   time with / total without). Goal: ≤ 1.10.
2. Registers a no-op subscriber and times `dispatch()` over the events the last import wrote
   (one delivery record each, cursor and all). Goal: ≥ 5,000 events/s on SQLite.

Exits 0 either way: these are figures, not a test.

    .venv/bin/python bench/events_bench.py                  # 100,000 rows, SQLite
    .venv/bin/python bench/events_bench.py --rows 20000 --rounds 1
    .venv/bin/python bench/events_bench.py --database-url postgres://postgres@127.0.0.1/kehu_b
"""

from __future__ import annotations

import argparse
import time

from _kehu_home import fresh_home, print_machine

GOAL_RATIO = 1.10
GOAL_RATE = 5000.0
TABLES = ("core_eventdelivery", "core_domainevent", "identity_candidatemember",
          "identity_duplicatecandidate", "customers_identifier", "customers_address",
          "customers_customertag", "customers_customer", "interchange_importrowerror",
          "interchange_importjob", "core_job", "core_auditentry")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2, help="imports with and without each")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    rows = max(100, min(args.rows, 5_000_000))
    rounds = max(1, min(args.rounds, 5))
    home = fresh_home("kehu-events-bench-", database_url=args.database_url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    from import_bench import generate

    from kehu.accounts.models import User
    from kehu.core import events
    from kehu.core.actor import Actor
    from kehu.core.audit import audit_record_many
    from kehu.core.models import DomainEvent
    from kehu.customers.services import bulk  # the customers bulk writer
    from kehu.interchange.services import import_job_create, import_job_run

    source = home / "customers.csv"
    generate(source, rows, args.seed)
    admin = User.objects.create_superuser("bench", "bench@example.com", "bench-pass-1")
    actor = Actor(user=admin, via="cli")
    with_events = bulk.record_changes_many

    def without_events(*, actor, entries):
        return audit_record_many(actor=actor, entries=entries)

    def empty() -> None:
        with connection.cursor() as cursor:
            for table in TABLES:
                cursor.execute(f"DELETE FROM {connection.ops.quote_name(table)}")  # noqa: S608
            cursor.execute("UPDATE core_auditchainhead SET last_seq = 0, last_hash = %s",
                           ["0" * 64])
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM")

    def one(emit: bool, path=source) -> tuple[float, int]:
        empty()
        bulk.record_changes_many = with_events if emit else without_events
        started = time.perf_counter()
        job = import_job_create(actor=actor, file=path, filename=path.name)
        job = import_job_run(job_id=job.pk, actor=actor)
        elapsed = time.perf_counter() - started
        assert job.status == "done", job.error_message
        return elapsed, DomainEvent.objects.count()

    warm = home / "warm-up.csv"  # the first import pays for imports and caches: not timed
    generate(warm, 500, args.seed + 1)
    one(False, warm)
    one(True, warm)
    times: dict[bool, list[float]] = {False: [], True: []}
    print(f"{rows:,} rows, {connection.vendor}")
    for round_ in range(rounds):
        # with-without, then without-with (drift cancels; the last run has events to dispatch)
        for emit in ((True, False) if round_ % 2 == 0 else (False, True)):
            elapsed, count = one(emit)
            times[emit].append(elapsed)
            print(f"  import {'with' if emit else 'without'} events: {elapsed:7.2f} s "
                  f"({rows / elapsed:,.0f} rows/s, {count:,} events)")
    bulk.record_changes_many = with_events
    # Each round's pair ran back to back (the load of a shared machine moves between rounds).
    pairs = [w / wo for w, wo in zip(times[True], times[False], strict=True)]
    ratio = sum(times[True]) / sum(times[False])
    print(f"(1) import with events / without: {ratio:.3f} overall, per round "
          f"{', '.join(f'{p:.3f}' for p in pairs)} (goal <= {GOAL_RATIO:.2f}: "
          f"{'met' if ratio <= GOAL_RATIO else 'MISSED'})")

    if not emit:  # the last run had no events: one more import writes them (not timed)
        one(True)
    count = DomainEvent.objects.count()
    events.subscribe("*", lambda event: None, name="bench.noop")
    started = time.perf_counter()
    looked = events.dispatch()
    elapsed = time.perf_counter() - started
    rate = looked / elapsed
    print(f"(2) dispatch to a no-op subscriber: {looked:,} of {count:,} events in "
          f"{elapsed:.2f} s = {rate:,.0f} events/s (goal >= {GOAL_RATE:,.0f}: "
          f"{'met' if rate >= GOAL_RATE else 'MISSED'})")
    print_machine(home)


if __name__ == "__main__":
    main()
