"""`kehu events dispatch | subscribers | dead | replay ID | prune`: the domain events'
delivery from the command line (docs/events.md)."""

from __future__ import annotations

import json
import sys

from django.core.management.base import BaseCommand

from kehu.core.actor import Actor
from kehu.core.errors import NotFound


class Command(BaseCommand):
    help = ("Domain events: `events dispatch` delivers what is pending now, `events subscribers` "
            "shows each subscriber's backlog, `events dead` lists failed deliveries, `events "
            "replay ID` runs one again, `events prune` deletes delivered events past retention.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        dispatch = sub.add_parser("dispatch", help="deliver every pending event now")
        dispatch.add_argument("--batch", type=int, default=1000,
                              help="events per transaction (1-10000, default 1000)")
        sub.add_parser("subscribers", help="each subscriber's cursor and backlog")
        dead = sub.add_parser("dead", help="list the dead letters")
        dead.add_argument("--subscriber", default="", help="only this subscriber's")
        dead.add_argument("--json", dest="as_json", action="store_true",
                          help="one JSON object per line")
        replay = sub.add_parser("replay", help="run a dead letter's handler again")
        replay.add_argument("delivery_id", type=int, metavar="ID",
                            help="the dead letter's id (from `kehu events dead`)")
        prune = sub.add_parser("prune", help="delete delivered events past retention")
        prune.add_argument("--days", type=int, default=None,
                           help="keep this many days (default KEHU_EVENT_RETENTION_DAYS)")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _dispatch(self, *, batch, **_options):
        from kehu.core.events import dispatch

        if not 1 <= batch <= 10000:
            self.stderr.write("--batch must be between 1 and 10000")
            sys.exit(2)
        count = dispatch(batch=batch)
        self.stdout.write(f"{count} events looked at")

    def _subscribers(self, **_options):
        from kehu.core.selectors import subscriber_lag

        rows = subscriber_lag()
        if not rows:
            self.stdout.write("no subscribers are registered")
        for row in rows:
            self.stdout.write(f"{row.name}  [{', '.join(row.patterns)}]  cursor {row.cursor}  "
                              f"behind {row.behind}  retrying {row.retrying}  held {row.held}  "
                              f"dead {row.dead}")

    def _dead(self, *, subscriber, as_json: bool, **_options):
        from kehu.core.selectors import dead_letters

        for delivery in dead_letters(subscriber=subscriber).iterator(chunk_size=500):
            event = delivery.event
            error = delivery.last_error.strip().splitlines()[-1:] or [""]
            if as_json:
                self.stdout.write(json.dumps({
                    "id": delivery.pk, "subscriber": delivery.subscriber,
                    "event_id": event.pk, "type": event.type, "customer_id": event.customer_id,
                    "object": f"{event.object_type}:{event.object_id}",
                    "attempts": delivery.attempts, "error": error[0],
                    "updated_at": delivery.updated_at.isoformat()}, ensure_ascii=False))
            else:
                self.stdout.write(f"{delivery.pk}  {delivery.subscriber}  event #{event.pk} "
                                  f"{event.type} {event.object_type}:{event.object_id}  "
                                  f"tries {delivery.attempts}  {error[0]}")

    def _replay(self, *, delivery_id, **_options):
        from kehu.core.events import delivery_replay
        from kehu.core.models import EventDelivery

        try:
            delivery = delivery_replay(actor=Actor.system(via="cli"), delivery_id=delivery_id)
        except NotFound:
            self.stderr.write(f"no dead letter #{delivery_id}")
            sys.exit(1)
        if delivery.status == EventDelivery.DONE:
            self.stdout.write(self.style.SUCCESS(f"delivered: {delivery.subscriber} event "
                                                 f"#{delivery.event_id}"))
            return
        self.stderr.write(self.style.ERROR(f"failed again: {delivery.last_error}"))
        sys.exit(1)

    def _prune(self, *, days, **_options):
        from kehu.core.events import events_prune

        if days is not None and not 1 <= days <= 3650:
            self.stderr.write("--days must be between 1 and 3650")
            sys.exit(2)
        self.stdout.write(f"{events_prune(days=days)} events deleted")

