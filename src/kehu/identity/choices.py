"""Which fields a merge chooses between, and how to read each one's value.

Which value survives is decided per field by `kehu.identity.survivorship`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _

from kehu.customers.fields import ORGANISATION_ONLY, PERSON_ONLY, SIMPLE_FIELDS
from kehu.customers.models import Address, Customer, Identifier

# Column groups that move together when a field's value is taken from another record.
COLUMN_GROUPS: dict[str, tuple[str, ...]] = {
    "name": ("name", "name_pinyin", "name_initials"),
    **{name: (name,) for name in SIMPLE_FIELDS if name != "name"},
    "owner": ("owner_id",),
    "team": ("team_id",),
    "id_number": ("id_number_encrypted", "id_number_index", "id_number_masked"),
}
# Fields backed by the primary row of a relation rather than a column.
ROW_FIELDS = {"mobile": Identifier.MOBILE, "email": Identifier.EMAIL, "address": "address"}

LABELS = {
    "name": _("name"), "gender": _("gender"), "birthday": _("birthday"), "title": _("title"),
    "uscc": _("unified social credit code"), "industry": _("industry"),
    "company_size": _("company size"), "revenue_band": _("revenue band"),
    "website": _("website"), "source": _("source channel"),
    "lifecycle_stage": _("lifecycle stage"), "preferred_channel": _("preferred channel"),
    "product_interests": _("product interests"), "notes": _("notes"), "owner": _("owner"),
    "team": _("team"), "id_number": _("ID number"), "mobile": _("mobile"),
    "email": _("email"), "address": _("address"),
}


def choosable_fields(kind: str, customers: Sequence[Customer]) -> list[str]:
    """The fields a reviewer picks a value for, for customers of this kind."""
    skip = ORGANISATION_ONLY if kind == Customer.KIND_PERSON else PERSON_ONLY + ("id_number",)
    fields = [f for f in ("name", *[n for n in SIMPLE_FIELDS if n != "name"], "owner", "team",
                          "id_number", "mobile", "email", "address") if f not in skip]
    keys = sorted({key for c in customers for key in (c.custom or {})})
    return fields + [f"custom.{key}" for key in keys]


def primary_row(customer: Customer, field: str):
    """The identifier or address that backs a row field (mobile, email, address), or None."""
    if field == "address":
        return Address.objects.filter(customer=customer).order_by("-is_primary", "id").first()
    if field == "mobile":
        value = customer.primary_mobile
        kinds = (Identifier.MOBILE, Identifier.LANDLINE)
    else:
        value = customer.primary_email
        kinds = (Identifier.EMAIL,)
    if not value:
        return None
    return (Identifier.objects.filter(customer=customer, kind__in=kinds, value=value,
                                      is_live=True).order_by("-is_primary", "id").first())


def field_value(customer: Customer, field: str) -> Any:
    """The raw value of a choosable field (never the clear ID number: its masked form)."""
    if field.startswith("custom."):
        return (customer.custom or {}).get(field[7:])
    if field == "owner":
        return customer.owner_id
    if field == "team":
        return customer.team_id
    if field == "id_number":
        return customer.id_number_masked
    if field == "mobile":
        return customer.primary_mobile
    if field == "email":
        return customer.primary_email
    if field == "address":
        row = primary_row(customer, "address")
        return str(row) if row is not None else ""
    return getattr(customer, field)


def _filled(value: Any) -> bool:
    return value not in (None, "", [], {})


def default_survivor(customers: Sequence[Customer]) -> Customer:
    """The most complete record (filled fields), the oldest on a tie."""
    def completeness(customer):
        filled = sum(1 for f in choosable_fields(customer.kind, [customer])
                     if f not in ("address",) and _filled(field_value(customer, f)))
        return (filled, -customer.created_at.timestamp(), -customer.pk)

    return max(customers, key=completeness)
