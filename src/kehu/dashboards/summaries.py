"""Daily summaries kept current by the domain events, and their full rebuild.

A customer's contribution to the summary tables (dashboards/models.py) is a function of its
current rows: the customer itself (created day, source, owner, team, lifecycle stage, whether
it has bought), its purchase orders and its interactions. Inactive (deleted, merged) customers
contribute nothing. The subscriber `dashboards.summaries` recomputes the contribution of every
customer an event concerns, subtracts what the ledger says it contributed before, adds the new
one and stores it: an incremental update of a few rows per event, never a recomputation of the
tables. Because it compares with the ledger rather than replaying the event's payload, a late
or repeated event cannot count anything twice, and owner reassignment, deletes, merges (the
survivor takes the rows, the merged customers drop out), unmerges and cancelled orders all
come out right.

`summaries_rebuild` recomputes everything from the rows (the CLI `kehu dashboards
rebuild-summaries`, and the tests' reference), in chunks of customers.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from kehu.core.events import Event
from kehu.customers.models import Customer
from kehu.dashboards.models import (
    DailyCustomerSummary,
    DailyInteractionSummary,
    DailyOrderSummary,
    SummaryLedger,
)
from kehu.interactions.models import Interaction
from kehu.transactions.models import Order

SUBSCRIBER = "dashboards.summaries"
# The events after which a customer's contribution may differ.
PATTERNS = ("customer.*", "order.*", "interaction.logged", "lifecycle.changed",
            "assignment.decided")
CHUNK = 2000

# table letter -> (model, key fields, measure fields)
TABLES = {
    "c": (DailyCustomerSummary,
          ("day", "owner_id", "team_id", "source", "lifecycle_stage", "ordered"), ("customers",)),
    "o": (DailyOrderSummary,
          ("day", "owner_id", "team_id", "sales_channel", "source"), ("orders", "amount")),
    "i": (DailyInteractionSummary, ("day", "actor_id", "owner_id", "team_id"), ("interactions",)),
}

Contribution = dict[str, dict[str, list]]  # table letter -> json key -> measures


def local_day(moment: dt.datetime) -> str:
    return timezone.localtime(moment).date().isoformat()


def _key(*values: Any) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def contributions(customer_ids: Iterable[int]) -> dict[int, Contribution]:
    """What each of `customer_ids` contributes now (inactive or missing ones: nothing)."""
    ids = sorted(set(customer_ids))
    customers = {row["id"]: row for row in Customer.objects.filter(
        pk__in=ids, status=Customer.STATUS_ACTIVE).values(
        "id", "created_at", "owner_id", "team_id", "source", "lifecycle_stage")}
    out: dict[int, Contribution] = {pk: {"c": {}, "o": {}, "i": {}} for pk in customers}
    live = sorted(customers)
    ordered: set[int] = set()
    orders = (Order.objects.filter(customer_id__in=live, status__in=Order.PURCHASE_STATUSES)
              .values_list("customer_id", "ordered_at", "sales_channel", "total_amount"))
    for customer_id, ordered_at, channel, amount in orders.iterator():
        customer = customers[customer_id]
        ordered.add(customer_id)
        key = _key(local_day(ordered_at), customer["owner_id"] or 0, customer["team_id"] or 0,
                   channel or "", customer["source"] or "")
        slot = out[customer_id]["o"].setdefault(key, [0, "0"])
        slot[0] += 1
        slot[1] = str(Decimal(slot[1]) + (amount or 0))
    interactions = (Interaction.objects.filter(customer_id__in=live)
                    .values_list("customer_id", "occurred_at", "actor_id"))
    for customer_id, occurred_at, actor_id in interactions.iterator():
        customer = customers[customer_id]
        key = _key(local_day(occurred_at), actor_id or 0, customer["owner_id"] or 0,
                   customer["team_id"] or 0)
        slot = out[customer_id]["i"].setdefault(key, [0])
        slot[0] += 1
    for pk, customer in customers.items():
        key = _key(local_day(customer["created_at"]), customer["owner_id"] or 0,
                   customer["team_id"] or 0, customer["source"] or "",
                   customer["lifecycle_stage"] or "", pk in ordered)
        out[pk]["c"][key] = [1]
    return out


def _add(total: dict[str, dict[str, list]], contribution: Contribution, sign: int) -> None:
    for table, rows in contribution.items():
        into = total.setdefault(table, {})
        for key, measures in rows.items():
            slot = into.setdefault(key, [0] * len(measures))
            for n, value in enumerate(measures):
                if isinstance(value, str):
                    slot[n] = Decimal(slot[n]) + sign * Decimal(value)
                else:
                    slot[n] += sign * value


def _apply(delta: dict[str, dict[str, list]]) -> None:
    """Add `delta` to the summary rows (creating and deleting rows as counts come and go)."""
    for table, rows in delta.items():
        model, key_fields, measure_fields = TABLES[table]
        for key, measures in rows.items():
            if not any(measures):
                continue
            values = json.loads(key)
            values[0] = dt.date.fromisoformat(values[0])
            lookup = dict(zip(key_fields, values, strict=True))
            existing = model.objects.select_for_update().filter(**lookup).first()
            if existing is None:
                model.objects.create(**lookup, **dict(zip(measure_fields, measures, strict=True)))
                continue
            if getattr(existing, measure_fields[0]) + measures[0] == 0:
                existing.delete()
                continue
            model.objects.filter(pk=existing.pk).update(**{
                name: F(name) + value for name, value in zip(measure_fields, measures,
                                                             strict=True)})


def summaries_refresh(customer_ids: Iterable[int]) -> int:
    """Bring the summaries up to date for these customers; returns how many changed."""
    ids = sorted({int(pk) for pk in customer_ids if pk})
    if not ids:
        return 0
    changed = 0
    with transaction.atomic():
        ledgers = {row.customer_id: row for row in
                   SummaryLedger.objects.select_for_update().filter(customer_id__in=ids)}
        now = contributions(ids)
        for pk in ids:
            before = ledgers[pk].contribution if pk in ledgers else {}
            after = now.get(pk, {})
            if before == after:
                continue
            changed += 1
            delta: dict[str, dict[str, list]] = {}
            _add(delta, after, 1)
            _add(delta, before, -1)
            _apply(delta)
            if after:
                SummaryLedger.objects.update_or_create(customer_id=pk,
                                                       defaults={"contribution": after})
            else:
                SummaryLedger.objects.filter(customer_id=pk).delete()
    return changed


def _event_customers(event: Event) -> set[int]:
    ids = {event.customer_id} if event.customer_id else set()
    if event.type in ("customer.merged", "customer.unmerged"):
        for name in ("merged", "restored"):
            change = event.changes.get(name)
            if isinstance(change, dict):
                ids.update(int(item["id"]) for item in change.get("after") or []
                           if isinstance(item, dict) and str(item.get("id", "")).isdigit())
    return ids


def on_event(event: Event) -> None:
    """The subscriber: refresh the contribution of every customer the event concerns."""
    summaries_refresh(_event_customers(event))


def summaries_rebuild() -> dict[str, int]:
    """Recompute every summary and ledger from the rows; returns rows per table. Holds the
    subscriber's cursor lock, so no event is applied halfway through."""
    from kehu.core.models import EventSubscriberState

    totals: dict[str, dict[str, list]] = {"c": {}, "o": {}, "i": {}}
    with transaction.atomic():
        EventSubscriberState.objects.get_or_create(name=SUBSCRIBER)
        EventSubscriberState.objects.select_for_update().get(name=SUBSCRIBER)
        SummaryLedger.objects.all().delete()
        for model, _keys, _measures in TABLES.values():
            model.objects.all().delete()
        ids = Customer.objects.filter(status=Customer.STATUS_ACTIVE).order_by("pk").values_list(
            "pk", flat=True)
        last = 0
        while True:
            chunk = list(ids.filter(pk__gt=last)[:CHUNK])
            if not chunk:
                break
            last = chunk[-1]
            found = contributions(chunk)
            SummaryLedger.objects.bulk_create(
                [SummaryLedger(customer_id=pk, contribution=value) for pk, value in found.items()],
                batch_size=1000)
            for value in found.values():
                _add(totals, value, 1)
        counts = {}
        for table, rows in totals.items():
            model, key_fields, measure_fields = TABLES[table]
            objects = []
            for key, measures in rows.items():
                if not any(measures):
                    continue
                values = json.loads(key)
                values[0] = dt.date.fromisoformat(values[0])
                objects.append(model(**dict(zip(key_fields, values, strict=True)),
                                     **dict(zip(measure_fields, measures, strict=True))))
            model.objects.bulk_create(objects, batch_size=1000)
            counts[model._meta.model_name] = len(objects)
    return counts


def summary_rows(model) -> list[tuple]:
    """Every row of a summary table as comparable tuples (keys and measures), sorted (tests and
    the CLI's check)."""
    _letter, key_fields, measure_fields = next(
        (letter, keys, measures) for letter, (m, keys, measures) in TABLES.items() if m is model)
    return sorted(model.objects.values_list(*key_fields, *measure_fields))


def summaries_check() -> list[str]:
    """The tables whose rows differ from a full recomputation (without changing them)."""
    expected: dict[str, dict[str, list]] = defaultdict(dict)
    ids = Customer.objects.filter(status=Customer.STATUS_ACTIVE).order_by("pk").values_list(
        "pk", flat=True)
    last = 0
    while True:
        chunk = list(ids.filter(pk__gt=last)[:CHUNK])
        if not chunk:
            break
        last = chunk[-1]
        for value in contributions(chunk).values():
            _add(expected, value, 1)
    differing = []
    for table, (model, _keys, _measures) in TABLES.items():
        rows = []
        for key, measures in expected.get(table, {}).items():
            if any(measures):
                values = json.loads(key)
                values[0] = dt.date.fromisoformat(values[0])
                rows.append((*values, *[Decimal(m) if isinstance(m, str) else m
                                        for m in measures]))
        if sorted(rows) != summary_rows(model):
            differing.append(model._meta.model_name)
    return differing
