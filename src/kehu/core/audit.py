"""Writing and verifying the audit hash chain.

Services call `audit_record` inside their own transaction, so the entry and
the change it describes commit or roll back together.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.core.models import AuditChainHead, AuditEntry

GENESIS_HASH = "0" * 64
# Values JSON gives back exactly as they are: compared and hashed without the round trip
# (bulk imports diff and append millions).
PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def _canonical(value: Any) -> Any:
    """Round-trip through JSON so what we hash is exactly what the database returns."""
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, ensure_ascii=False))


_ENCODER = DjangoJSONEncoder()


def canonical(value: Any) -> Any:
    """_canonical without the round trip for what bulk changes hold (dicts with string keys,
    lists, plain values, dates); anything else takes the round trip."""
    kind = type(value)
    if kind in PLAIN_TYPES:
        return value
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                return _canonical(value)
            out[key] = item if type(item) in PLAIN_TYPES else canonical(item)
        return out
    if kind is list or kind is tuple:
        return [canonical(v) for v in value]
    if kind in (date, datetime, Decimal):  # as DjangoJSONEncoder writes them (text)
        return _ENCODER.default(value)
    return _canonical(value)


def entry_hash(entry: AuditEntry) -> str:
    content = {
        "seq": entry.seq,
        "at": entry.at.astimezone(UTC).isoformat(),
        "actor_user_id": entry.actor_user_id,
        "actor_label": entry.actor_label,
        "api_key_prefix": entry.api_key_prefix,
        "via": entry.via,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "object_repr": entry.object_repr,
        "changes": entry.changes,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "prev_hash": entry.prev_hash,
    }
    return _digest(content)


def _digest(content: dict[str, Any]) -> str:
    payload = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The fields whose value changed, as {field: {"before": old, "after": new}}."""
    changed = {}
    for field in sorted(set(before) | set(after)):
        old, new = before.get(field), after.get(field)
        if type(old) in PLAIN_TYPES and type(new) in PLAIN_TYPES:
            if old != new:
                changed[field] = {"before": old, "after": new}
        elif canonical(old) != canonical(new):
            changed[field] = {"before": old, "after": new}
    return changed


def audit_record(
    *,
    actor: Actor,
    action: str,
    object_type: str = "",
    object_id: Any = "",
    object_repr: str = "",
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry to the chain. Must run inside the caller's transaction."""
    with transaction.atomic():
        # Lock the head row (created by a migration): on PostgreSQL concurrent appends queue
        # here; SQLite already serialises writers. Transactional tests flush it: recreate.
        head = _lock_head()
        user = actor.user
        entry = AuditEntry(
            seq=head.last_seq + 1,
            at=timezone.now(),
            actor_user_id=user.pk if user is not None else None,
            actor_label=actor.label[:200],
            api_key_prefix=actor.api_key_prefix,
            via=actor.via,
            action=action,
            object_type=object_type,
            object_id=str(object_id) if object_id not in (None, "") else "",
            object_repr=str(object_repr)[:200],
            changes=_canonical(changes or {}),
            ip=actor.ip,
            user_agent=actor.user_agent[:400],
            prev_hash=head.last_hash,
        )
        entry.hash = entry_hash(entry)
        entry.save(force_insert=True)
        head.last_seq = entry.seq
        head.last_hash = entry.hash
        head.save(update_fields=["last_seq", "last_hash"])
    return entry


@dataclass(frozen=True)
class PendingEntry:
    """One entry for `audit_record_many`: what `audit_record` takes besides the actor."""

    action: str
    object_type: str = ""
    object_id: Any = ""
    object_repr: str = ""
    changes: dict[str, Any] | None = None
    # True when `changes` is already in its JSON form (what `canonical` gives): not walked
    # again (bulk imports build millions of create entries that way).
    canonical: bool = False


def _lock_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(id=1).first()
    if head is None:
        AuditChainHead.objects.get_or_create(id=1)
        head = AuditChainHead.objects.select_for_update().get(id=1)
    return head


_BULK_COLUMNS = ("seq", "at", "actor_user_id", "actor_label", "api_key_prefix", "via", "action",
                 "object_type", "object_id", "object_repr", "changes", "ip", "user_agent",
                 "prev_hash", "hash")


def _compact(value: Any) -> str:
    """JSON as _digest writes it (sorted keys, no spaces, UTF-8 text)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def audit_record_many(*, actor: Actor, entries: list[PendingEntry]) -> int:
    """Append many entries under ONE lock of the chain head, for bulk paths (imports).

    The chain is computed in Python (each entry's prev_hash is the previous one's hash,
    exactly as `audit_record` would have linked them one by one) and the rows are written
    with one set-based insert. Must run inside the caller's transaction; returns the count.

    Each entry is serialised once: the payload `entry_hash` would hash is assembled around
    the entry's changes (its keys in `_digest`'s sorted order), and the same changes text
    is what the row stores.
    """
    if not entries:
        return 0
    from kehu.core.bulkdb import JSONText, insert_rows

    with transaction.atomic():
        head = _lock_head()
        user = actor.user
        at = timezone.now()
        actor_user_id = user.pk if user is not None else None
        actor_label, user_agent = actor.label[:200], actor.user_agent[:400]
        # The keys of entry_hash's content around "changes" and the per-entry ones, sorted.
        actor_and_time = (f'"actor_label":{_compact(actor_label)},'
                     f'"actor_user_id":{_compact(actor_user_id)},'
                     f'"api_key_prefix":{_compact(actor.api_key_prefix)},'
                     f'"at":{_compact(at.astimezone(UTC).isoformat())},"changes":')
        after_changes = f',"ip":{_compact(actor.ip)},"object_id":'
        tail = f',"user_agent":{_compact(user_agent)},"via":{_compact(actor.via)}}}'
        seq, prev_hash = head.last_seq, head.last_hash
        rows = []
        for pending in entries:
            seq += 1
            object_id = (str(pending.object_id) if pending.object_id not in (None, "")
                         else "")
            object_repr = str(pending.object_repr)[:200]
            changes = _compact(pending.changes if pending.canonical and pending.changes
                               else canonical(pending.changes or {}))
            payload = (f'{{"action":{_compact(pending.action)},{actor_and_time}{changes}'
                       f'{after_changes}{_compact(object_id)},'
                       f'"object_repr":{_compact(object_repr)},'
                       f'"object_type":{_compact(pending.object_type)},'
                       f'"prev_hash":"{prev_hash}","seq":{seq}{tail}')
            digest = hashlib.sha256(payload.encode("utf-8")).hexdigest()
            rows.append((seq, at, actor_user_id, actor_label, actor.api_key_prefix, actor.via,
                         pending.action, pending.object_type, object_id, object_repr,
                         JSONText(changes), actor.ip, user_agent, prev_hash, digest))
            prev_hash = digest
        insert_rows(AuditEntry, _BULK_COLUMNS, rows)
        head.last_seq, head.last_hash = seq, prev_hash
        head.save(update_fields=["last_seq", "last_hash"])
    return len(rows)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    bad_seq: int | None = None
    reason: str = ""


def audit_verify(*, batch_size: int = 2000) -> ChainReport:
    """Walk the chain in order; report the first entry that was edited, removed or reordered."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    while True:
        batch = list(AuditEntry.objects.filter(seq__gte=expected_seq).order_by("seq")[:batch_size])
        if not batch:
            break
        for entry in batch:
            if entry.seq != expected_seq:
                return ChainReport(False, checked, expected_seq, "missing entry (deleted)")
            if entry.prev_hash != prev_hash:
                return ChainReport(False, checked, entry.seq, "previous hash does not match")
            if entry_hash(entry) != entry.hash:
                return ChainReport(False, checked, entry.seq, "content does not match its hash")
            prev_hash = entry.hash
            expected_seq += 1
            checked += 1
    head = AuditChainHead.objects.filter(id=1).first()
    if head is not None and (head.last_seq != expected_seq - 1 or head.last_hash != prev_hash):
        return ChainReport(False, checked, expected_seq, "newest entries missing (deleted)")
    return ChainReport(True, checked)
