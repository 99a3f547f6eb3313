"""The access / portability archive (PIPL Arts. 45, 45(3)): everything kehu holds about one
person, in one zip of JSON (for machines) and XLSX (for people, zh-Hans labels).

Tables are found the way erasure finds them (every foreign key to Customer through `_meta`,
plus the rows that hang off those: an order's lines), so tables added by other apps are in
the archive without changes here. Card fields are in clear (the ID number decrypted: the
archive is for the person themself), and the audit log's record of who revealed or looked
up their sensitive fields is included. Writing one is an audited read.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.db import models, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import audit_record
from kehu.core.crypto import DecryptionError, decrypt
from kehu.core.errors import NotFound
from kehu.core.models import AuditEntry
from kehu.customers.models import Customer
from kehu.privacy.erasure import customer_tables

# Columns that are kehu's machinery, not the person's data.
HIDDEN = {"customers.Customer": {"name_pinyin", "name_initials", "id_number_encrypted",
                                 "id_number_index", "id_number_masked", "version"},
          "customers.Identifier": {"last4"}, "privacy.ConsentLink": {"token_hash"}}
ACCESS_ACTIONS = ("customer.reveal", "customer.lookup", "customer.export_archive")
MAX_ROWS = 100_000


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else \
            value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, models.Model):
        return str(value)
    return value


def _row(obj: models.Model, hidden: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name in hidden:
            continue
        if field.is_relation:
            related = getattr(obj, field.name, None)
            out[field.name] = None if related is None else str(related)
            continue
        value = getattr(obj, field.attname)
        if field.choices:
            value = {"code": value, "label": str(dict(field.flatchoices).get(value, value))}
        out[field.name] = _plain(value)
    return out


def _headers(model: type[models.Model], hidden: set[str]) -> dict[str, str]:
    return {f.name: str(f.verbose_name) for f in model._meta.concrete_fields
            if f.name not in hidden}


def collect(customer: Customer) -> dict[str, Any]:
    """The archive's content as plain JSON values (labels in the active language)."""
    card = _row(customer, HIDDEN["customers.Customer"])
    if customer.id_number_encrypted:
        try:
            card["id_number"] = decrypt(customer.id_number_encrypted)
        except DecryptionError:
            card["id_number"] = customer.id_number_masked
    tables: dict[str, dict[str, Any]] = {}
    for label, model, column in customer_tables():
        rows = list(model._default_manager.filter(**{column: customer.pk})[:MAX_ROWS])
        if not rows:
            continue
        hidden = HIDDEN.get(label, set()) | {column.removesuffix("_id")}
        key = f"{label}.{column.removesuffix('_id')}"
        tables[key] = {"title": str(model._meta.verbose_name_plural),
                       "headers": _headers(model, hidden),
                       "rows": [_row(obj, hidden) for obj in rows]}
        # The rows that belong to these rows (an order's lines, a ticket's messages).
        for rel in model._meta.get_fields():
            if not (rel.auto_created and not rel.concrete) or rel.many_to_many:
                continue
            child = rel.related_model
            if child is Customer or child._meta.auto_created:
                continue
            children = list(child._default_manager.filter(
                **{f"{rel.field.attname}__in": [r.pk for r in rows]})[:MAX_ROWS])
            if children:
                child_hidden = HIDDEN.get(child._meta.label, set())
                tables[f"{child._meta.label}.{rel.field.name}"] = {
                    "title": str(child._meta.verbose_name_plural),
                    "headers": _headers(child, child_hidden),
                    "rows": [_row(obj, child_hidden) for obj in children]}
    accesses = [{"time": _plain(e.at), "who": e.actor_label, "action": e.action,
                 "what": e.changes.get("field", "") if isinstance(e.changes, dict) else ""}
                for e in AuditEntry.objects.filter(object_type="customer",
                                                   object_id=str(customer.pk),
                                                   action__in=ACCESS_ACTIONS).order_by("seq")]
    return {"generated_at": timezone.localtime().isoformat(), "customer_id": customer.pk,
            "card": card, "card_headers": _headers(Customer, HIDDEN["customers.Customer"]),
            "tables": tables, "sensitive_field_access": accesses}


def _xlsx(data: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    def cell(value):
        if isinstance(value, dict) and "label" in value:
            value = value["label"]
        if isinstance(value, dict | list):
            value = json.dumps(value, ensure_ascii=False)
        if isinstance(value, str):
            value = ILLEGAL_CHARACTERS_RE.sub("", value)
            if value[:1] in ("=", "+", "-", "@"):
                value = "'" + value
        return value

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Customer card")[:31])
    headers = data["card_headers"] | {"id_number": _("ID number")}
    for key, value in data["card"].items():
        sheet.append([headers.get(key, key), cell(value)])
    for index, table in enumerate(data["tables"].values(), start=1):
        sheet = book.create_sheet(f"{index} {table['title']}"[:31])
        keys = list(table["headers"])
        sheet.append([table["headers"][k] for k in keys])
        for row in table["rows"]:
            sheet.append([cell(row.get(k)) for k in keys])
    sheet = book.create_sheet(_("Access to sensitive fields")[:31])
    sheet.append([_("Time"), _("Who"), _("Action"), _("Field")])
    for access in data["sensitive_field_access"]:
        sheet.append([access["time"], access["who"], access["action"], access["what"]])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def customer_archive_write(*, actor: Actor, customer_id: int, out: str | Path | IO[bytes],
                           language: str = "zh-hans") -> dict[str, int]:
    """Write the archive of one customer to `out` (a path or a binary file): archive.json,
    archive.xlsx and a README. Needs privacy.manage; audited. Returns rows per table."""
    actor.require("privacy.manage")
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        raise NotFound()
    with translation.override(language):
        data = collect(customer)
        workbook = _xlsx(data)
        readme = _("Everything kehu holds about customer #%(id)s, generated %(at)s. "
                   "archive.json is for machines (portability), archive.xlsx for people.") % {
            "id": customer.pk, "at": data["generated_at"]}
    counts = {key: len(table["rows"]) for key, table in data["tables"].items()}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive.json", json.dumps(data, ensure_ascii=False, indent=1))
        archive.writestr("archive.xlsx", workbook)
        archive.writestr("README.txt", readme)
    with transaction.atomic():
        audit_record(actor=actor, action="customer.export_archive", object_type="customer",
                     object_id=customer.pk, object_repr=f"#{customer.pk}",
                     changes={"tables": counts})
    return counts
