#!/usr/bin/env python3
"""Outbound webhook delivery benchmark (docs/integration.md; goal ≥ 500 deliveries/s to a
local receiver on 2 cores).

Creates N customers (one `customer.created` event each) with one webhook endpoint
subscribed to `customer.*` that points at a local HTTP receiver, dispatches the events (one
delivery row each) and times `webhooks_send_due` sending them all — signing, the SSRF check,
the pinned HTTP call and the delivery log included. Baseline in the same process: the same
number of bare HTTP POSTs to the receiver with `http.client` (no signing, no database), so the
ratio shows what kehu adds per call. Exits 0 either way: figures, not a test.

    .venv/bin/python bench/webhook_bench.py                 # 2,000 deliveries, SQLite
    .venv/bin/python bench/webhook_bench.py --deliveries 500
    .venv/bin/python bench/webhook_bench.py --database-url postgres://postgres@127.0.0.1/kehu_b
"""

from __future__ import annotations

import argparse
import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from _kehu_home import fresh_home, print_machine

GOAL_RATE = 500.0


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--profile", action="store_true", help="print where the time goes")
    args = parser.parse_args()
    count = max(10, min(args.deliveries, 100_000))
    home = fresh_home("kehu-webhook-bench-", database_url=args.database_url)

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from kehu.accounts.models import User
    from kehu.core.actor import Actor
    from kehu.core.events import dispatch
    from kehu.customers.services import customer_create
    from kehu.integration.models import WebhookDelivery
    from kehu.integration.services import webhook_create, webhooks_send_due

    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_port
    print_machine(home)

    admin = User.objects.create_superuser("bench", password="x" * 12)
    actor = Actor(user=admin, via="cli")
    webhook_create(actor=actor, url=f"http://127.0.0.1:{port}/hook", event_types=["customer.*"],
                   allow_private_network=True)
    for n in range(count):
        customer_create(actor=Actor.system(via="system"), name=f"客户{n}")
    dispatch()
    queued = WebhookDelivery.objects.filter(status=WebhookDelivery.PENDING).count()

    body = b'{"type":"customer.created","data":{}}' * 8
    started = time.perf_counter()
    for _ in range(queued):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/hook", body=body,
                           headers={"content-type": "application/json"})
        connection.getresponse().read()
        connection.close()
    bare = time.perf_counter() - started

    import cProfile
    import pstats

    profile = cProfile.Profile() if args.profile else None
    if profile:
        profile.enable()
    started = time.perf_counter()
    sent = 0
    while True:
        batch = webhooks_send_due(limit=500)
        if not batch:
            break
        sent += batch
    elapsed = time.perf_counter() - started
    if profile:
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    delivered = WebhookDelivery.objects.filter(status=WebhookDelivery.SUCCEEDED).count()
    rate = sent / elapsed if elapsed else 0.0
    print(f"deliveries queued: {queued}, sent: {sent}, delivered: {delivered}")
    print(f"kehu webhooks: {elapsed:.2f} s, {rate:,.0f} deliveries/s "
          f"(goal ≥ {GOAL_RATE:,.0f}/s: {'met' if rate >= GOAL_RATE else 'NOT met'})")
    print(f"bare http.client POSTs: {bare:.2f} s, {queued / bare:,.0f}/s; "
          f"ratio kehu/bare = {elapsed / bare:.2f}")
    server.shutdown()


if __name__ == "__main__":
    main()
