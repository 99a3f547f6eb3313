"""Reads for the bulk paths above customers (imports of customers, orders, interactions and
events): one query per identifier kind for a chunk of rows, scoped by the actor's record
scope; the customers a job touched; the custom fields in force. Apps above use these instead
of querying customers' tables themselves."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from kehu.core.actor import Actor
from kehu.customers.models import Customer, CustomFieldDefinition, Identifier
from kehu.customers.services.identity import PHONE_KINDS

_KINDS = {"mobile": PHONE_KINDS, "email": (Identifier.EMAIL,),
          "id_number": (Identifier.ID_NUMBER,), "wechat": (Identifier.WECHAT,)}


def customer_ids_by_identifiers(*, actor: Actor, wanted: Mapping[str, Iterable[str]],
                                external_system: str) -> dict[tuple[str, str], int]:
    """{(field, stored value): customer id} for the given identifier values ("mobile",
    "email", "id_number" as its blind index, "external_id") that belong to a live customer
    the actor may see; the lowest id when several do."""
    customers = Customer.objects.filter(status=Customer.STATUS_ACTIVE)
    if actor.access is not None:
        customers = actor.access.restrict(customers)
    found: dict[tuple[str, str], int] = {}
    for name, values in wanted.items():
        identifiers = Identifier.objects.filter(is_live=True, value__in=set(values),
                                                customer__in=customers)
        if name in _KINDS:
            identifiers = identifiers.filter(kind__in=_KINDS[name])
        else:
            identifiers = identifiers.filter(kind=Identifier.EXTERNAL, system=external_system)
        for value, customer_id in identifiers.order_by("customer_id").values_list(
                "value", "customer_id"):
            found.setdefault((name, value), customer_id)
    return found


def customer_ids_changed_since(since: datetime, *, limit: int) -> list[int]:
    """Live customers created or changed since `since` (at most `limit`), for checks after
    an import (system use: unscoped)."""
    return list(Customer.objects.filter(status=Customer.STATUS_ACTIVE, updated_at__gte=since)
                .values_list("pk", flat=True)[:limit])


def custom_fields_active() -> list[CustomFieldDefinition]:
    """The custom field definitions in force (read once per import: no query per row)."""
    return list(CustomFieldDefinition.objects.filter(is_active=True))
