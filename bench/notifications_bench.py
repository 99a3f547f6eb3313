#!/usr/bin/env python3
"""Notifications benchmark (docs/notifications.md): what the bell costs and how fast sends go.

1. Fills U users with N notifications in all (a fifth unread), then times `unread_count`
   (the query every page and every 45 s poll runs) for random users, against a plain
   `SELECT 1` baseline in the same process: the ratio says what the bell adds to a page.
2. Times `notification_send` to R recipients at once (one bulk write: rows, audit entries and
   `notification.sent` events), per recipient, and the same again with the same dedupe key
   (the idempotent no-op path).
3. Times queueing and delivering E emails to the .eml outbox (the offline default).

Exits 0 either way: these are figures, not a test.

    .venv/bin/python bench/notifications_bench.py                       # 200 users, 200,000
    .venv/bin/python bench/notifications_bench.py --users 50 --notifications 20000
    .venv/bin/python bench/notifications_bench.py --database-url postgres://postgres@127.0.0.1/kehu_b
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from _kehu_home import fresh_home, print_machine


def _timed(function, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--notifications", type=int, default=200_000)
    parser.add_argument("--recipients", type=int, default=500)
    parser.add_argument("--emails", type=int, default=200)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    users_n = max(2, min(args.users, 10_000))
    total = max(users_n, min(args.notifications, 5_000_000))
    home = fresh_home("kehu-notifications-bench-", database_url=args.database_url)

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from huey.contrib.djhuey import HUEY

    from kehu.accounts.models import User
    from kehu.core.actor import Actor
    from kehu.notifications.channels import email_send
    from kehu.notifications.models import Notification, OutboundMessage
    from kehu.notifications.selectors import unread_count
    from kehu.notifications.services import notification_send

    HUEY.immediate = True  # deliveries run in this process at commit
    rng = random.Random(7)
    users = User.objects.bulk_create([User(username=f"bench{i}", email=f"bench{i}@example.com")
                                      for i in range(users_n)])
    users = list(User.objects.order_by("pk"))
    now = timezone.now()
    started = time.perf_counter()
    batch = []
    for i in range(total):
        batch.append(Notification(recipient_id=users[i % users_n].pk, kind="bench",
                                  title=f"提醒 {i}", read_at=None if rng.random() < 0.2 else now))
        if len(batch) == 10_000:
            Notification.objects.bulk_create(batch)
            batch = []
    Notification.objects.bulk_create(batch)
    print(f"filled {total:,} notifications for {users_n:,} users in "
          f"{time.perf_counter() - started:.1f} s ({connection.vendor})")

    def baseline():
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    sample = [rng.choice(users) for _ in range(500)]
    it = iter(sample * 2)
    counts = _timed(lambda: unread_count(next(it)), 500)
    base = _timed(baseline, 500)
    print(f"unread_count: median {statistics.median(counts) * 1e3:.3f} ms, p99 "
          f"{sorted(counts)[494] * 1e3:.3f} ms; SELECT 1 median "
          f"{statistics.median(base) * 1e3:.3f} ms; ratio "
          f"{statistics.median(counts) / statistics.median(base):.1f}x "
          f"(~{total // users_n:,} notifications per user)")

    actor = Actor.system(via="system")
    recipients = users[: min(args.recipients, users_n)]
    while len(recipients) < args.recipients:  # more recipients than users: new users
        extra = User.objects.create(username=f"extra{len(recipients)}")
        recipients.append(extra)
    for label, key in (("new", "bench-key"), ("same key again", "bench-key")):
        start = time.perf_counter()
        with transaction.atomic():
            notification_send(actor=actor, recipients=recipients, kind="bench", title="群发提醒",
                              dedupe_key=key)
        elapsed = time.perf_counter() - start
        print(f"notification_send to {len(recipients):,} recipients ({label}): {elapsed:.3f} s, "
              f"{len(recipients) / elapsed:,.0f} recipients/s")

    emails = max(1, min(args.emails, 100_000))
    start = time.perf_counter()
    for i in range(emails):
        with transaction.atomic():
            email_send(to=[f"c{i}@example.com"], subject=f"王芳，您好 {i}", text="您的订单已发货。")
    elapsed = time.perf_counter() - start
    sent = OutboundMessage.objects.filter(status="sent").count()
    print(f"email_send + delivery to the .eml outbox: {emails:,} in {elapsed:.2f} s "
          f"({emails / elapsed:,.0f}/s), {sent:,} sent")
    print_machine(home)


if __name__ == "__main__":
    main()
