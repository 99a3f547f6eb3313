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

The profile table (ProfileSummary, the portrait board's counts) is a snapshot of today: each
live customer counts once per portrait feature value under its owner, team and value tier
(scoring emits `value.tier_changed` per customer). Its age band depends on the date, so the
daily task `summaries_birthdays_task` refreshes the customers whose birthday is today (29
February birthdays on 1 March in other years, when their band moves): the ledger then matches
a rebuild made today.

`summaries_rebuild` recomputes everything from the rows (the CLI `kehu dashboards
rebuild-summaries`, and the tests' reference), in chunks of customers.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from kehu.core.events import Event
from kehu.customers.models import Customer
from kehu.dashboards.list_filters import AGE_BANDS, years_before
from kehu.dashboards.models import (
    DailyCustomerSummary,
    DailyInteractionSummary,
    DailyOrderSummary,
    ProfileSummary,
    SummaryLedger,
)
from kehu.interactions.models import Interaction
from kehu.transactions.models import Order, OrderLine

SUBSCRIBER = "dashboards.summaries"
# The events after which a customer's contribution may differ.
PATTERNS = ("customer.*", "order.*", "interaction.logged", "lifecycle.changed",
            "assignment.decided", "value.tier_changed")
CHUNK = 2000

# table letter -> (model, key fields, measure fields)
TABLES = {
    "c": (DailyCustomerSummary,
          ("day", "owner_id", "team_id", "source", "lifecycle_stage", "ordered"), ("customers",)),
    "o": (DailyOrderSummary,
          ("day", "owner_id", "team_id", "sales_channel", "source"), ("orders", "amount")),
    "i": (DailyInteractionSummary, ("day", "actor_id", "owner_id", "team_id"), ("interactions",)),
    "p": (ProfileSummary, ("owner_id", "team_id", "value_tier", "feature", "value"),
          ("customers",)),
}
# The portrait's features held as customer columns; "customers" (value "") counts everyone,
# "age_band", "first_channel" and "product" (one per distinct product bought) are derived.
PROFILE_COLUMNS = ("industry", "province", "company_size", "source", "gender")
PROFILE_ALL = "customers"

Contribution = dict[str, dict[str, list]]  # table letter -> json key -> measures


def local_day(moment: dt.datetime) -> str:
    return timezone.localtime(moment).date().isoformat()


def _key(*values: Any) -> str:
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _today() -> dt.date:
    return timezone.localdate()


def age_band_of(birthday: dt.date | None, today: dt.date) -> str:
    """The age band code (list_filters.AGE_BANDS) of a birthday today; "" without one. The
    same rule as list_filters.age_band_condition, in Python."""
    if birthday is None:
        return ""
    for code, _label, youngest, oldest in AGE_BANDS:
        if birthday <= years_before(today, youngest) and (
                oldest is None or birthday > years_before(today, oldest + 1)):
            return code
    return ""


def _values(key_fields: tuple[str, ...], key: str) -> dict[str, Any]:
    values = dict(zip(key_fields, json.loads(key), strict=True))
    if "day" in values:
        values["day"] = dt.date.fromisoformat(values["day"])
    return values


def contributions(customer_ids: Iterable[int]) -> dict[int, Contribution]:
    """What each of `customer_ids` contributes now (inactive or missing ones: nothing)."""
    ids = sorted(set(customer_ids))
    customers = {row["id"]: row for row in Customer.objects.filter(
        pk__in=ids, status=Customer.STATUS_ACTIVE).values(
        "id", "created_at", "owner_id", "team_id", "source", "lifecycle_stage", "industry",
        "province", "company_size", "gender", "birthday", "value__value_tier")}
    out: dict[int, Contribution] = {pk: {"c": {}, "o": {}, "i": {}, "p": {}} for pk in customers}
    live = sorted(customers)
    ordered: set[int] = set()
    orders = (Order.objects.filter(customer_id__in=live, status__in=Order.PURCHASE_STATUSES)
              .values_list("customer_id", "ordered_at", "sales_channel", "total_amount", "pk"))
    first: dict[int, tuple] = {}  # customer -> (ordered_at, id, channel) of the first purchase
    for customer_id, ordered_at, channel, amount, order_id in orders.iterator():
        customer = customers[customer_id]
        ordered.add(customer_id)
        if customer_id not in first or (ordered_at, order_id) < first[customer_id][:2]:
            first[customer_id] = (ordered_at, order_id, channel or "")
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
    products: dict[int, set[int]] = defaultdict(set)
    lines = (OrderLine.objects.filter(order__customer_id__in=live,
                                      order__status__in=Order.PURCHASE_STATUSES)
             .values_list("order__customer_id", "product_id").distinct())
    for customer_id, product_id in lines.iterator():
        products[customer_id].add(product_id)
    today = _today()
    for pk, customer in customers.items():
        key = _key(local_day(customer["created_at"]), customer["owner_id"] or 0,
                   customer["team_id"] or 0, customer["source"] or "",
                   customer["lifecycle_stage"] or "", pk in ordered)
        out[pk]["c"][key] = [1]
        features = [(PROFILE_ALL, "")]
        features += [(name, customer[name] or "") for name in PROFILE_COLUMNS]
        features.append(("age_band", age_band_of(customer["birthday"], today)))
        features.append(("first_channel", first[pk][2] if pk in first else ""))
        features += [("product", str(product_id)) for product_id in sorted(products[pk])]
        head = (customer["owner_id"] or 0, customer["team_id"] or 0,
                customer["value__value_tier"] or "")
        for feature, value in features:
            if feature == PROFILE_ALL or value:  # "not filled in" is not a feature
                out[pk]["p"][_key(*head, feature, value)] = [1]
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
            lookup = _values(key_fields, key)
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


def birthday_customers(today: dt.date) -> list[int]:
    """Live customers whose age band may have moved today: birthday today, and on 1 March of
    a year without 29 February those born on 29 February (list_filters.years_before)."""
    days = [(today.month, today.day)]
    if (today.month, today.day) == (3, 1) and not calendar.isleap(today.year):
        days.append((2, 29))
    condition = Q()
    for month, day in days:
        condition |= Q(birthday__month=month, birthday__day=day)
    return list(Customer.objects.filter(condition, status=Customer.STATUS_ACTIVE)
                .order_by("pk").values_list("pk", flat=True))


def summaries_birthdays(today: dt.date | None = None) -> int:
    """Refresh the profile contributions of today's birthdays (and yesterday's, should the
    worker have missed a day); returns how many changed."""
    today = today or _today()
    ids = birthday_customers(today) + birthday_customers(today - dt.timedelta(days=1))
    changed = 0
    for start in range(0, len(ids), CHUNK):
        changed += summaries_refresh(ids[start:start + CHUNK])
    return changed


def _active_customer_chunks():
    """The ids of the active customers, CHUNK at a time in id order."""
    ids = Customer.objects.filter(status=Customer.STATUS_ACTIVE).order_by("pk").values_list(
        "pk", flat=True)
    last = 0
    while chunk := list(ids.filter(pk__gt=last)[:CHUNK]):
        last = chunk[-1]
        yield chunk


def summaries_rebuild() -> dict[str, int]:
    """Recompute every summary and ledger from the rows; returns rows per table. Holds the
    subscriber's cursor lock, so no event is applied halfway through."""
    from kehu.core.models import EventSubscriberState

    totals: dict[str, dict[str, list]] = {table: {} for table in TABLES}
    with transaction.atomic():
        EventSubscriberState.objects.get_or_create(name=SUBSCRIBER)
        EventSubscriberState.objects.select_for_update().get(name=SUBSCRIBER)
        SummaryLedger.objects.all().delete()
        for model, _keys, _measures in TABLES.values():
            model.objects.all().delete()
        for chunk in _active_customer_chunks():
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
                objects.append(model(**_values(key_fields, key),
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
    for chunk in _active_customer_chunks():
        for value in contributions(chunk).values():
            _add(expected, value, 1)
    differing = []
    for table, (model, key_fields, _measures) in TABLES.items():
        rows = []
        for key, measures in expected.get(table, {}).items():
            if any(measures):
                values = _values(key_fields, key)
                rows.append((*[values[name] for name in key_fields], *[Decimal(m) if isinstance(m, str) else m
                                        for m in measures]))
        if sorted(rows) != summary_rows(model):
            differing.append(model._meta.model_name)
    return differing
