"""Erasure (PIPL Art. 47): anonymise a customer so that kehu keeps its aggregates (orders keep
amounts and dates; the customer becomes "已删除客户 #id") and no copy of the person's values.

What is found and how it is treated:

- the customer row (and every customer merged into it) is anonymised in place;
- every table that refers to a customer — found through `_meta` (foreign keys to Customer)
  so apps added later are covered — is treated as `kehu.core.personal` says: rows deleted
  (identifiers, addresses, tags …) or free-text, long text and JSON columns blanked;
- the audit log: every entry about the person (their customer rows, the objects that hang
  off them, any entry whose text holds one of their values) is redacted through the
  hash-chain-preserving seals of `kehu.core.audit.audit_redact`: `kehu audit verify` passes;
- the domain-event outbox payloads, job results and errors holding their values are blanked;
- apps' own stores (import uploads and error reports, queues) through erasure hooks;
- after the commit, `storage_scrub` rewrites the files under KEHU_HOME that may still hold
  old pages: SQLite is checkpointed, vacuumed and its WAL truncated, Huey's queue and results
  are purged of payloads holding the values, and log lines holding them are dropped.

A legal hold blocks erasure with its reason.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Q, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import audit_redact
from kehu.core.crypto import DecryptionError, decrypt
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import record_change
from kehu.core.models import AuditEntry, DomainEvent, EventDelivery, Job
from kehu.core.personal import erasure_hooks, personal_data
from kehu.customers.models import Customer
from kehu.privacy.models import Erasure, LegalHold

log = logging.getLogger(__name__)

ERASED_NAME = "已删除客户 #{id}"
LONG_TEXT = 100  # character columns at least this long are free text by default
_CORE_HANDLED = {"core.DomainEvent", "core.EventDelivery", "core.AuditEntry"}


class LegalHoldBlocks(ValidationFailed):
    code = "legal_hold"
    status = 409


# What to look for ---------------------------------------------------------------------------


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" for ch in text)


def _add(needles: set[str], value: Any) -> None:
    text = str(value or "").strip()
    if not text or text.startswith("已删除客户"):
        return
    if len(text) >= 4 or (_is_cjk(text) and len(text) >= 2):
        needles.add(text)


def person_values(customers: Iterable[Customer]) -> list[str]:
    """Every value of the person that may have been copied somewhere: names and their
    pinyin, phones (E.164 and national), emails, WeChat and external ids, the ID number
    (clear and its blind index), addresses (as entered and assembled). Longest first."""
    needles: set[str] = set()
    for customer in customers:
        _add(needles, customer.name)
        _add(needles, customer.name_pinyin)
        _add(needles, customer.primary_mobile)
        _add(needles, customer.primary_email)
        _add(needles, customer.id_number_index)
        if customer.id_number_encrypted:
            try:
                _add(needles, decrypt(customer.id_number_encrypted))
            except DecryptionError:
                pass
        for ident in customer.identifiers.all():
            _add(needles, ident.value)
            if ident.value.startswith("+86"):
                _add(needles, ident.value[3:])
        for address in customer.addresses.all():
            _add(needles, address.raw)
            _add(needles, address.detail)
            _add(needles, f"{address.province}{address.city}{address.district}{address.detail}"
                 if address.detail else "")
        if customer.primary_mobile.startswith("+86"):
            _add(needles, customer.primary_mobile[3:])
    return sorted(needles, key=lambda n: (-len(n), n))


def _forms(needle: str) -> list[str]:
    """The needle as stored in text and in JSON written with ASCII escapes."""
    escaped = json.dumps(needle)[1:-1]
    return [needle] if escaped == needle else [needle, escaped]


def _text_match(column: str, needles: list[str]) -> Q:
    q = Q(pk__in=[])
    for needle in needles:
        for form in _forms(needle):
            q |= Q(**{f"{column}__contains": form})
    return q


# Which tables refer to a customer -----------------------------------------------------------


def customer_tables() -> list[tuple[str, type[models.Model], str]]:
    """(label, model, column) for every foreign key to Customer except Customer's own
    `merged_into`, in a stable order."""
    found = []
    for rel in Customer._meta.get_fields(include_hidden=True):
        if not (rel.auto_created and not rel.concrete) or rel.many_to_many:
            continue
        model = rel.related_model
        if model is Customer or model._meta.auto_created:
            continue
        found.append((model._meta.label, model, rel.field.attname))
    return sorted(found, key=lambda item: (item[0], item[2]))


def _blank_value(field: models.Field) -> Any:
    if isinstance(field, models.JSONField):
        default = field.get_default()
        return default if default is not None else ({} if not field.null else None)
    return None if field.null and not field.blank else ""


def _free_text_fields(model: type[models.Model], label: str) -> list[models.Field]:
    rule = personal_data(label)
    erase = set(rule.erase) if rule else set()
    keep = set(rule.keep) if rule else set()
    fields = []
    for field in model._meta.concrete_fields:
        if field.is_relation or field.primary_key or field.name in keep:
            continue
        default = (isinstance(field, models.TextField | models.JSONField)
                   or (isinstance(field, models.CharField) and not field.choices
                       and not field.unique and (field.max_length or 0) >= LONG_TEXT))
        if field.name in erase or default:
            fields.append(field)
    return fields


def _rows_of(targets: list[int], needles: list[str], counts: dict[str, int]
              ) -> list[tuple[str, list[int]]]:
    """Treat every customer table's rows of the targets; returns (model name, pks) touched."""
    touched: list[tuple[str, list[int]]] = []
    for label, model, column in customer_tables():
        rule = personal_data(label)
        if rule is not None and rule.skip:
            continue
        rows = model._default_manager.filter(**{f"{column}__in": targets})
        pks = list(rows.values_list("pk", flat=True))
        if not pks:
            continue
        touched.append((model._meta.model_name, pks))
        if rule is not None and rule.delete_rows:
            model._default_manager.filter(pk__in=pks).delete()
        else:
            fields = _free_text_fields(model, label)
            if fields:
                for start in range(0, len(pks), 500):
                    model._default_manager.filter(pk__in=pks[start:start + 500]).update(
                        **{f.attname: _blank_value(f) for f in fields})
        counts[f"{label}.{column}"] = len(pks)
    return touched


def _anonymise(customer: Customer) -> None:
    customer.name = ERASED_NAME.format(id=customer.pk)
    blank = ("name_pinyin", "name_initials", "gender", "title", "company", "id_number_encrypted",
             "id_number_index", "id_number_masked", "uscc", "website", "notes", "province",
             "city", "primary_mobile", "primary_email")
    for name in blank:
        setattr(customer, name, "")
    customer.birthday = None
    customer.custom = {}
    customer.product_interests = []
    if customer.status == Customer.STATUS_ACTIVE:
        customer.status = Customer.STATUS_DELETED
    customer.version += 1
    customer.save(update_fields=["name", *blank, "birthday", "custom", "product_interests",
                                 "status", "version", "updated_at"])


def _targets(customer: Customer) -> list[Customer]:
    """The customer and every customer merged into it (they hold the person's old values)."""
    found = {customer.pk: customer}
    frontier = [customer.pk]
    while frontier:
        merged = list(Customer.objects.filter(merged_into_id__in=frontier)
                      .exclude(pk__in=found.keys()))
        frontier = [c.pk for c in merged]
        found.update((c.pk, c) for c in merged)
    return list(found.values())


def _scrub_text(text: str, needles: list[str]) -> str:
    for needle in needles:
        text = text.replace(needle, "***")
    return text


def customer_erase(*, actor: Actor, customer_id: int, reason: str) -> Erasure:
    """Erase a customer (see the module docstring). Needs privacy.manage; refused while a
    legal hold is in place (its reason is given) or when already erased. The files under
    KEHU_HOME are scrubbed once the transaction commits (`storage_scrub`)."""
    actor.require("privacy.manage")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(details={"reason": [_("Give the reason for the erasure.")]})
    with transaction.atomic():
        customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
        if customer is None:
            raise NotFound()
        if Erasure.objects.filter(customer=customer).exists():
            raise ValidationFailed(_("This customer has already been erased."),
                                   code="already_erased")
        holds = list(LegalHold.objects.filter(customer=customer, released_at__isnull=True))
        if holds:
            raise LegalHoldBlocks(
                _("A legal hold blocks the erasure: %s") % "; ".join(h.reason for h in holds),
                details={"legal_hold": [h.reason for h in holds]})
        targets = _targets(customer)
        ids = [c.pk for c in targets]
        needles = person_values(targets)
        counts: dict[str, int] = {}
        touched = _rows_of(ids, needles, counts)
        for target in targets:
            _anonymise(target)
        counts["audit"] = _redact_audit(ids, touched, needles)
        counts["events"] = _blank_events(ids, needles)
        counts["jobs"] = _blank_jobs(needles)
        for name, hook in sorted(erasure_hooks().items()):
            for what, count in (hook(needles=needles, customer_ids=ids) or {}).items():
                counts[f"{name}.{what}"] = count
        erasure = Erasure.objects.create(
            customer=customer, reason=_scrub_text(reason, needles)[:300], erased_by=actor.user,
            actor_label=actor.label[:200], erased_at=timezone.now(), counts=counts)
        record_change(actor=actor, action="customer.erase", event="customer.erased",
                      object_type="customer", object_id=customer.pk,
                      object_repr=customer.name,
                      changes={"reason": erasure.reason, "customers": ids, "rows": counts})
        transaction.on_commit(lambda: storage_scrub(needles=needles))
    return erasure


def _redact_audit(ids: list[int], touched: list[tuple[str, list[int]]], needles: list[str]
                  ) -> int:
    keys = [str(i) for i in ids]
    about = Q(object_type="customer", object_id__in=keys)
    for model_name, pks in touched:
        about |= Q(object_type=model_name, object_id__in=[str(pk) for pk in pks[:5000]])
    seqs = set(AuditEntry.objects.filter(about).values_list("seq", flat=True))
    seqs.update(s for s in DomainEvent.objects.filter(customer_id__in=ids)
                .exclude(audit_seq__isnull=True).values_list("audit_seq", flat=True))
    if needles:
        text = AuditEntry.objects.annotate(changes_text=Cast("changes", TextField()))
        seqs.update(text.filter(_text_match("changes_text", needles)
                                | _text_match("object_repr", needles))
                    .values_list("seq", flat=True))
    result = audit_redact(seqs=sorted(seqs))
    if result["unredactable"]:
        log.warning("erasure: %d audit entries no longer match their hash (tampered) and "
                    "were not redacted; `kehu audit verify` names the first",
                    len(result["unredactable"]))
    return len(result["redacted"])


def _blank_events(ids: list[int], needles: list[str]) -> int:
    rows = DomainEvent.objects.annotate(changes_text=Cast("changes", TextField())).filter(
        Q(customer_id__in=ids) | _text_match("changes_text", needles)
        | _text_match("object_repr", needles))
    count = rows.update(changes={}, object_repr="")
    EventDelivery.objects.filter(_text_match("last_error", needles)).update(last_error="")
    return count


def _blank_jobs(needles: list[str]) -> int:
    if not needles:
        return 0
    rows = Job.objects.annotate(result_text=Cast("result", TextField())).filter(
        _text_match("result_text", needles) | _text_match("error", needles)
        | _text_match("label", needles))
    return rows.update(result={}, error="", label="")


# Files under KEHU_HOME ----------------------------------------------------------------------


def storage_scrub(*, needles: list[str]) -> dict[str, int]:
    """Rewrite the files that may still hold the values after the commit: the SQLite
    database (checkpoint, VACUUM, WAL truncated), Huey's SQLite queue and results (payloads
    holding a value deleted), and log lines holding a value."""
    done = {"database": 0, "queue": 0, "logs": 0}
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.execute("VACUUM")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        done["database"] = 1
    done["queue"] = _scrub_huey(needles)
    done["logs"] = _scrub_logs(needles)
    done["exports"] = _scrub_exports(needles)
    return done


def _holds(data: bytes, marks: list[bytes], *, depth: int = 0) -> bool:
    """Whether file content holds a value: as bytes (UTF-8, GB18030, JSON-escaped), or
    inside a zip container (xlsx, access archives), member by member."""
    if any(mark in data for mark in marks):
        return True
    if depth < 2 and data[:4] == b"PK\x03\x04":
        import io
        import zipfile

        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    if info.file_size <= 512 * 1024 * 1024 and _holds(
                            archive.read(info), marks, depth=depth + 1):
                        return True
        except (zipfile.BadZipFile, OSError, RuntimeError):
            return False
    return False


def _scrub_exports(needles: list[str]) -> int:
    """Delete the files under KEHU_HOME/exports (exports and access archives kept there,
    the retention policy "exports" otherwise deletes them after N days) that hold a value:
    a copy of the person that would outlive the erasure."""
    directory = Path(settings.KEHU_HOME) / "exports"
    if not directory.is_dir() or not needles:
        return 0
    marks = _needle_bytes(needles)
    removed = 0
    for path in sorted(directory.rglob("*")):
        if path.is_file() and _holds(path.read_bytes(), marks):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _needle_bytes(needles: list[str]) -> list[bytes]:
    out = []
    for needle in needles:
        for form in _forms(needle):
            out.append(form.encode("utf-8"))
        out.append(needle.encode("gb18030"))
    return list(dict.fromkeys(out))


def _scrub_huey(needles: list[str]) -> int:
    filename = (getattr(settings, "HUEY", {}) or {}).get("filename")
    if not filename or not Path(filename).exists():
        return 0
    marks = _needle_bytes(needles)
    removed = 0
    conn = sqlite3.connect(filename, timeout=30, isolation_level=None)
    try:
        for table, column, key in (("task", "data", "id"), ("schedule", "data", "id"),
                                   ("kv", "value", "rowid")):
            try:
                rows = conn.execute(f"SELECT {key}, {column} FROM {table}").fetchall()  # noqa: S608
            except sqlite3.OperationalError:
                continue
            for row_key, blob in rows:
                data = bytes(blob or b"")
                if any(mark in data for mark in marks):
                    conn.execute(f"DELETE FROM {table} WHERE {key} = ?", (row_key,))  # noqa: S608
                    removed += 1
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return removed


def _scrub_logs(needles: list[str]) -> int:
    directory = Path(getattr(settings, "LOG_DIR", Path(settings.KEHU_HOME) / "logs"))
    if not directory.is_dir():
        return 0
    marks = _needle_bytes(needles)
    dropped = 0
    for path in sorted(directory.glob("*.log*")):
        data = path.read_bytes()
        if not any(mark in data for mark in marks):
            continue
        lines = data.splitlines(keepends=True)
        kept = [line for line in lines if not any(mark in line for mark in marks)]
        dropped += len(lines) - len(kept)
        path.write_bytes(b"".join(kept))
    return dropped
