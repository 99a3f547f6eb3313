"""What other layers need when they write rows that belong to a customer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

from kehu.core.actor import Actor
from kehu.core.bulkdb import update_rows
from kehu.core.errors import NotFound
from kehu.customers.models import Customer

# What a bulk writer needs of a locked customer: scope, last activity and its name (str()).
_LOCKED_FIELDS = ("id", "status", "owner_id", "team_id", "last_activity_at", "name")


def _may_write(actor: Actor, row: Customer) -> bool:
    access = actor.access
    return access is None or access.may_see_record(owner_id=row.owner_id, team_id=row.team_id)


def _moves_forward(current: dt.datetime | None, at: dt.datetime) -> bool:
    return current is None or current < at


def customer_lock_for_write(*, actor: Actor, customer: Customer) -> Customer:
    """The live customer row, locked for this transaction, if the actor may see it.

    Otherwise NotFound: a customer outside the actor's scope, merged or deleted looks
    exactly like one that does not exist.
    """
    row = Customer.objects.select_for_update().filter(
        pk=customer.pk, status=Customer.STATUS_ACTIVE).first()
    if row is None or not _may_write(actor, row):
        raise NotFound()
    return row


def customers_lock_for_write(*, actor: Actor, ids: Iterable[int]) -> dict[int, Customer]:
    """`customer_lock_for_write` for many customers in one query (bulk imports): the live
    customers among `ids` that the actor may see, locked for this transaction, by id.

    A customer missing from the result is one `customer_lock_for_write` would refuse with
    NotFound. The rows carry only what writers need: scope, last activity and the name.
    """
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = Customer.objects.select_for_update().filter(
        pk__in=wanted, status=Customer.STATUS_ACTIVE).only(*_LOCKED_FIELDS).order_by("pk")
    return {row.pk: row for row in rows if _may_write(actor, row)}


def customer_touch_activity(*, customer: Customer, at: dt.datetime) -> None:
    """Move the customer's last contact forward (never back) to `at`."""
    if _moves_forward(customer.last_activity_at, at):
        customer.last_activity_at = at
        customer.save(update_fields=["last_activity_at"])


def customers_touch_activity(*, customers: Mapping[int, Customer],
                             moments: Mapping[int, dt.datetime]) -> int:
    """`customer_touch_activity` for many customers in one `executemany` (bulk imports):
    each customer of `moments` (locked, from `customers_lock_for_write`) moves forward, never
    back, to its moment; returns how many moved. Only `last_activity_at` is written, as the
    single service writes it (the version and `updated_at` stay)."""
    moved = []
    for customer_id, at in moments.items():
        customer = customers[customer_id]
        if _moves_forward(customer.last_activity_at, at):
            customer.last_activity_at = at
            moved.append((customer_id, at))
    return update_rows(Customer, ["last_activity_at"], moved)
