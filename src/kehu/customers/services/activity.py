"""What other layers need when they write rows that belong to a customer."""

from __future__ import annotations

import datetime as dt

from kehu.core.actor import Actor
from kehu.core.errors import NotFound
from kehu.customers.models import Customer


def customer_lock_for_write(*, actor: Actor, customer: Customer) -> Customer:
    """The live customer row, locked for this transaction, if the actor may see it.

    Otherwise NotFound: a customer outside the actor's scope, merged or deleted looks
    exactly like one that does not exist.
    """
    row = Customer.objects.select_for_update().filter(
        pk=customer.pk, status=Customer.STATUS_ACTIVE).first()
    if row is None:
        raise NotFound()
    access = actor.access
    if access is not None and not access.may_see_record(owner_id=row.owner_id,
                                                        team_id=row.team_id):
        raise NotFound()
    return row


def customer_touch_activity(*, customer: Customer, at: dt.datetime) -> None:
    """Move the customer's last contact forward (never back) to `at`."""
    if customer.last_activity_at is None or customer.last_activity_at < at:
        customer.last_activity_at = at
        customer.save(update_fields=["last_activity_at"])
