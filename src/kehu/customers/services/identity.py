"""Normalising identity input and keeping identifiers unique and denormalised columns right.

Shared by customer create/update and the identifier/address services, so a phone
typed into the form, sent to the API or imported ends up exactly the same way.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.crypto import blind_index, encrypt
from kehu.core.errors import ValidationFailed
from kehu.core.masking import mask_id_number
from kehu.core.normalize import (
    NormalizationError,
    normalize_email,
    normalize_id_number,
    normalize_phone,
    parse_address,
    region_for_province,
)
from kehu.customers.models import Address, Customer, Identifier
from kehu.customers.services._common import may_see

ID_NUMBER_INDEX_KIND = "id_number"
PHONE_KINDS = (Identifier.MOBILE, Identifier.LANDLINE)
# Which role field setting guards each kind of identifier.
SENSITIVE_FIELD_OF_KIND = {
    Identifier.MOBILE: "customer.mobile", Identifier.LANDLINE: "customer.mobile",
    Identifier.EMAIL: "customer.email", Identifier.WECHAT: "customer.wechat",
    Identifier.ID_NUMBER: "customer.id_number",
}


def id_number_index(value: str) -> str:
    return blind_index(ID_NUMBER_INDEX_KIND, value)


def normalize_identifier(kind: str, value: str, *, system: str = "") -> dict[str, Any]:
    """{kind, value, last4} as stored; raises NormalizationError. "phone" picks mobile/landline."""
    raw = (value or "").strip()
    if kind in ("phone", Identifier.MOBILE, Identifier.LANDLINE):
        phone = normalize_phone(raw)
        return {"kind": phone.kind, "value": phone.e164, "last4": phone.last4}
    if kind == Identifier.EMAIL:
        return {"kind": kind, "value": normalize_email(raw), "last4": ""}
    if kind == Identifier.WECHAT:
        if not raw or len(raw) > 64 or any(c.isspace() for c in raw):
            raise NormalizationError(_("Enter a WeChat ID without spaces."), code="wechat")
        return {"kind": kind, "value": raw, "last4": ""}
    if kind == Identifier.ID_NUMBER:
        return {"kind": kind, "value": id_number_index(normalize_id_number(raw).value),
                "last4": ""}
    if kind == Identifier.EXTERNAL:
        if not raw or not system.strip():
            raise NormalizationError(_("An external id needs a value and its source system."),
                                     code="external")
        return {"kind": kind, "value": raw[:254], "last4": ""}
    raise NormalizationError(_("Unknown identifier kind."), code="kind")


def check_unique(actor: Actor, *, kind: str, value: str, system: str = "",
                 customer_id: int | None, field: str) -> None:
    """A value belongs to one live customer; name the other one if the actor may see it."""
    other = (Identifier.objects.filter(kind=kind, system=system, value=value, is_live=True)
             .exclude(customer_id=customer_id).select_related("customer").first())
    if other is None:
        return
    raise ValidationFailed(details={field: [duplicate_message(actor, other.customer)]},
                           code="duplicate")


def duplicate_message(actor: Actor, other: Customer) -> str:
    if may_see(actor, other):
        return _("Already recorded for customer %(name)s (#%(id)s).") % {
            "name": other.name, "id": other.pk}
    return _("Already recorded for another customer.")


def save_identifier(actor: Actor, identifier: Identifier, *, field: str) -> Identifier:
    """Insert, turning a lost race on the unique constraint into the same field error."""
    check_unique(actor, kind=identifier.kind, value=identifier.value, system=identifier.system,
                 customer_id=identifier.customer_id, field=field)
    try:
        with transaction.atomic():
            identifier.save()
    except IntegrityError:
        raise ValidationFailed(details={field: [_("Already recorded for another customer.")]},
                               code="duplicate") from None
    return identifier


def refresh_primary_columns(customer: Customer) -> list[str]:
    """Copy the primary phone and email onto the customer row; returns changed columns."""
    live = list(customer.identifiers.filter(
        is_live=True, kind__in=(*PHONE_KINDS, Identifier.EMAIL)).order_by("-is_primary", "id"))
    mobile = next((i.value for i in live if i.kind == Identifier.MOBILE), "") or next(
        (i.value for i in live if i.kind == Identifier.LANDLINE), "")
    email = next((i.value for i in live if i.kind == Identifier.EMAIL), "")
    changed = []
    if customer.primary_mobile != mobile:
        customer.primary_mobile = mobile
        changed.append("primary_mobile")
    if customer.primary_email != email:
        customer.primary_email = email
        changed.append("primary_email")
    return changed


def refresh_address_columns(customer: Customer) -> list[str]:
    """Copy province/city/region of the primary address onto the customer row."""
    primary = customer.addresses.order_by("-is_primary", "id").first()
    values = {"province": primary.province if primary else "",
              "city": primary.city if primary else "",
              "region": primary.region if primary else ""}
    changed = [f for f, v in values.items() if getattr(customer, f) != v]
    for field in changed:
        setattr(customer, field, values[field])
    return changed


def address_parts(*, raw: str = "", province: str = "", city: str = "", district: str = "",
                  detail: str = "") -> dict[str, str]:
    """Explicit parts win; a raw address fills what was not given. An explicit province or
    city is written the standard way (广东 -> 广东省, 深圳 -> 深圳市), and a city names its
    province when none is given (the import's 省份 / 城市 columns, the API's parts)."""
    parsed = parse_address(raw) if raw else None
    province, city = province.strip(), city.strip()
    if province or city:
        hint = parse_address(f"{province}{city}")
        province = (hint.province or province) if province else (
            (parsed.province if parsed else "") or (hint.province if city else ""))
        city = (hint.city or city) if city else ""
    else:
        province = parsed.province if parsed else ""
    parts = {
        "province": province,
        "city": city or (parsed.city if parsed else ""),
        "district": district.strip() or (parsed.district if parsed else ""),
        "detail": detail.strip() or (parsed.detail if parsed else ""),
        "raw": raw.strip()[:300],
    }
    parts["region"] = region_for_province(province) if province else ""
    return parts


def make_address(customer: Customer, *, label: str = "home", postal_code: str = "",
                 is_primary: bool = True, **parts: str) -> Address:
    return Address(customer=customer, label=label, postal_code=postal_code.strip(),
                   is_primary=is_primary, **parts)


def id_number_columns(clear: str) -> dict[str, str]:
    """The three stored forms of an ID number: ciphertext, blind index, masked."""
    if not clear:
        return {"id_number_encrypted": "", "id_number_index": "", "id_number_masked": ""}
    return {"id_number_encrypted": encrypt(clear), "id_number_index": id_number_index(clear),
            "id_number_masked": mask_id_number(clear)}
