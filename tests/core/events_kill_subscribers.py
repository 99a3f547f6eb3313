"""Subscribers for the killed-worker test, loaded into real `kehu events dispatch` processes
through KEHU_EVENT_SUBSCRIBERS. Each handler's side effect is a row in `kill_effects`, written
in the delivery's transaction: counting the rows counts the effects.

`seed(N)` creates the table and N events.
"""

from __future__ import annotations

import random
import time

from django.db import connection

from kehu.core import events

TYPES = ("customer.field_changed", "order.created", "customer.created", "ticket.opened")


def _effect(name: str):
    def handler(event: events.Event) -> None:
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO kill_effects (subscriber, event_id) VALUES (%s, %s)",
                           [name, event.id])
        time.sleep(0.0005)  # long enough for kills to land inside batches

    return handler


events.subscribe("*", _effect("kill.all"), name="kill.all")
events.subscribe("customer.*", _effect("kill.customers"), name="kill.customers")


def seed(count: int) -> None:
    from django.db import transaction

    from kehu.core.actor import Actor

    rng = random.Random(7)
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS kill_effects (subscriber VARCHAR(40), "
                       "event_id BIGINT)")
    with transaction.atomic():
        events.emit_many(actor=Actor.system(via="system"), events=[
            events.Related(type=TYPES[i % len(TYPES)], object_type="customer",
                           object_id=rng.randint(1, 50), changes={"n": i})
            for i in range(count)])

