"""Writing and verifying the audit hash chain.

Services call `audit_record` inside their own transaction, so the entry and
the change it describes commit or roll back together.

The chain is keyed: each entry's hash is HMAC-SHA256, with KEHU_AUDIT_KEY (kept outside the
database), of its content and the previous hash, so someone who can write to the database
but does not hold the key cannot rewrite an entry and recompute the ones after it. Entries
written before keying existed stay plain SHA-256; the chain head records, sealed with the
key, the sequence number where the keyed segment starts. `audit_checkpoint` signs the
current head for an admin to keep elsewhere; `audit_verify(against=…)` then also proves the
chain still holds that head (nothing was truncated or rewritten below it).

Redaction (erasure, PIPL Art. 47): a keyed entry's hash covers its `changes` and
`object_repr` through a *seal* of each, a keyed SHA-256 (the seal key is derived from the
audit key, so a seal of a phone number cannot be brute-forced from the database) of the
entry's sequence number, the field name and the value's JSON text. `audit_redact` replaces
the values of an entry with their seals ({"__redacted__": seal} and "redacted:<seal>");
`audit_verify` takes a stored seal as it is and recomputes it from a stored value, so a
redacted entry verifies exactly like the original while holding none of its values.

Entries written before sealing existed (keyed but unsealed, or the plain SHA-256 ones from
before keying) hash their values in clear, so a seal cannot stand in for them. `audit_redact`
first checks such an entry against its hash, then replaces its values by their seals and adds
a *redaction witness*: an HMAC with the audit key over the entry's sequence number, its
(unchanged) chain hash and its redacted content. `audit_verify` accepts a legacy entry whose
witness matches: the chain links stay as they were, and nobody without the key can redact an
entry (or alter a redacted one) so that it verifies.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
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


def _key() -> bytes:
    return settings.KEHU_AUDIT_KEY.encode("utf-8")


def _hasher(keyed: bool):
    """A function from the payload's bytes to its hex digest: HMAC-SHA256 with the audit key
    (keyed) or plain SHA-256 (entries from before keying)."""
    if not keyed:
        return lambda payload: hashlib.sha256(payload).hexdigest()
    # RFC 2104 with the padded-key states computed once: per entry two copies of a SHA-256
    # state, about half the cost of hmac.new or HMAC.copy (bulk imports chain millions).
    key = _key()
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(payload: bytes) -> str:
        first = inner.copy()
        first.update(payload)
        second = outer.copy()
        second.update(first.digest())
        return second.hexdigest()

    return digest


def keyed_mark(seq: int) -> str:
    """The seal of "keyed entries start at seq" kept on the chain head."""
    return hmac.new(_key(), f"kehu-audit-keyed-from:{seq}".encode(), hashlib.sha256).hexdigest()


def entry_hash(entry: AuditEntry, *, keyed: bool = True) -> str:
    """The entry's chain hash: HMAC-SHA256 with the audit key over its sealed form, or plain
    SHA-256 over the clear form (keyed=False) as entries from before keying were written."""
    if keyed:
        return _entry_digest(entry, _hasher(True), sealer=_sealer())
    return _entry_digest(entry, _hasher(False))


# Whether new bulk entries are sealed (always, in kehu; bench/audit_chain_bench.py writes
# the chain as it was before keying and sealing, to measure what they cost).
SEAL = True
REDACTED_KEY = "__redacted__"
REDACTED_PREFIX = "redacted:"
# The redaction witness of an entry written before sealing (see the module docstring).
WITNESS_KEY = "__witness__"


def _sealer():
    """A function (seq, field, JSON text) -> hex seal: SHA-256 keyed by a secret derived from
    the audit key (prefix-keyed; the state after the key is computed once)."""
    base = hashlib.sha256(hmac.new(_key(), b"kehu-audit-seal v1", hashlib.sha256).digest())

    def seal(seq: int, field: str, text: str) -> str:
        h = base.copy()
        h.update(f"{seq}\x00{field}\x00{text}".encode())
        return h.hexdigest()

    return seal


def sealed_changes(changes: Any) -> str | None:
    """The seal a redacted entry stores in place of its changes, else None."""
    if isinstance(changes, dict) and isinstance(changes.get(REDACTED_KEY), str) and (
            set(changes) == {REDACTED_KEY}
            or (set(changes) == {REDACTED_KEY, WITNESS_KEY}
                and isinstance(changes[WITNESS_KEY], str))):
        return changes[REDACTED_KEY]
    return None


def _witness(entry: AuditEntry) -> str:
    """The redaction witness of a legacy entry as it now stands (values replaced by seals):
    HMAC with the audit key over its redacted content and its chain hash."""
    sealed = {REDACTED_KEY: sealed_changes(entry.changes)}
    content = _entry_digest(AuditEntry(
        seq=entry.seq, at=entry.at, actor_user_id=entry.actor_user_id,
        actor_label=entry.actor_label, api_key_prefix=entry.api_key_prefix, via=entry.via,
        action=entry.action, object_type=entry.object_type, object_id=entry.object_id,
        object_repr=entry.object_repr, changes=sealed, ip=entry.ip,
        user_agent=entry.user_agent, prev_hash=entry.prev_hash), _plain)
    message = f"kehu-audit-legacy-redaction v1|{entry.seq}|{entry.hash}|{content}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()


def _plain(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _witness_ok(entry: AuditEntry) -> bool:
    changes = entry.changes
    return (isinstance(changes, dict) and isinstance(changes.get(WITNESS_KEY), str)
            and sealed_changes(changes) is not None
            and sealed_repr(entry.object_repr or "") is not None
            and hmac.compare_digest(changes[WITNESS_KEY], _witness(entry)))


def sealed_repr(text: str) -> str | None:
    return text[len(REDACTED_PREFIX):] if text.startswith(REDACTED_PREFIX) and len(
        text) == len(REDACTED_PREFIX) + 64 else None


def is_redacted(entry: AuditEntry) -> bool:
    return sealed_changes(entry.changes) is not None


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
        entry.hash = entry_hash(entry, keyed=True)
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
        # Only an empty chain legitimately lacks its head (tests flush tables): every entry
        # is keyed. Had someone deleted the head of a chain with plain entries, verify says so.
        AuditChainHead.objects.get_or_create(id=1, defaults={
            "keyed_from_seq": 1, "keyed_mark": keyed_mark(1)})
        head = AuditChainHead.objects.select_for_update().get(id=1)
    return head


_BULK_COLUMNS = ("seq", "at", "actor_user_id", "actor_label", "api_key_prefix", "via", "action",
                 "object_type", "object_id", "object_repr", "changes", "ip", "user_agent",
                 "prev_hash", "hash")


def _compact(value: Any) -> str:
    """JSON as entry_hash hashes it (sorted keys, no spaces, UTF-8 text)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def audit_record_many(*, actor: Actor, entries: list[PendingEntry]) -> int:
    """Append many entries under ONE lock of the chain head, for bulk paths (imports).

    The chain is computed in Python (each entry's prev_hash is the previous one's hash,
    exactly as `audit_record` would have linked them one by one) and the rows are written
    with one set-based insert. Must run inside the caller's transaction; returns the count.

    Each entry is serialised once: the payload `entry_hash` would hash is assembled around
    the entry's changes (its keys in `_digest`'s sorted order), and the same changes text
    is what the row stores. Every entry is keyed, as `audit_record`'s are.
    """
    if not entries:
        return 0
    from kehu.core.bulkdb import JSONText, insert_rows

    digest_of = _hasher(keyed=True)
    seal = _sealer() if SEAL else None
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
            sealed_changes = f'"{seal(seq, "changes", changes)}"' if seal else changes
            sealed_repr = (f'"{seal(seq, "object_repr", _compact(object_repr))}"' if seal
                           else _compact(object_repr))
            payload = (f'{{"action":{_compact(pending.action)},{actor_and_time}'
                       f'{sealed_changes}'
                       f'{after_changes}{_compact(object_id)},'
                       f'"object_repr":{sealed_repr},'
                       f'"object_type":{_compact(pending.object_type)},'
                       f'"prev_hash":"{prev_hash}","seq":{seq}{tail}')
            digest = digest_of(payload.encode("utf-8"))
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


def _keyed_from() -> tuple[int | None, str]:
    """(first keyed sequence number, "") or (None, why the head cannot be trusted)."""
    head = AuditChainHead.objects.filter(id=1).first()
    if head is None:
        return None, "chain head missing (deleted)"
    start = head.keyed_from_seq
    if start is None or not hmac.compare_digest(head.keyed_mark or "", keyed_mark(start)):
        return None, "the start of the keyed chain is missing or forged (or the audit key changed)"
    return start, ""


def audit_verify(*, batch_size: int = 2000, against: Checkpoint | None = None) -> ChainReport:
    """Walk the chain in order; report the first entry that was edited, removed or reordered.

    Entries before the keyed segment are checked with plain SHA-256, the rest with the
    audit key. With `against` (a checkpoint from `audit_checkpoint`), the chain must also
    still hold that checkpoint's entry with the same hash.
    """
    if against is not None and not against.signature_ok():
        return ChainReport(False, 0, against.seq, "checkpoint signature does not match "
                           "(the checkpoint was altered, or made with another audit key)")
    if not AuditEntry.objects.exists() and (against is None or against.seq == 0):
        return ChainReport(True, 0)
    keyed_from, problem = _keyed_from()
    if keyed_from is None:
        return ChainReport(False, 0, None, problem)
    plain, keyed = _hasher(keyed=False), _hasher(keyed=True)
    sealer = _sealer()
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
            if is_redacted(entry) and WITNESS_KEY in entry.changes:
                # A legacy entry redacted on erasure: its witness vouches for it.
                good = _witness_ok(entry)
            elif entry.seq >= keyed_from:
                # Sealed (current) form first; keyed entries written before sealing existed
                # hash the clear form, and cannot have been redacted.
                good = hmac.compare_digest(_entry_digest(entry, keyed, sealer=sealer),
                                           entry.hash) or (
                    not is_redacted(entry)
                    and hmac.compare_digest(_entry_digest(entry, keyed), entry.hash))
            else:
                good = hmac.compare_digest(_entry_digest(entry, plain), entry.hash)
            if not good:
                return ChainReport(False, checked, entry.seq, "content does not match its hash")
            if against is not None and entry.seq == against.seq and entry.hash != against.hash:
                return ChainReport(False, checked, entry.seq,
                                   "entry differs from the checkpoint (rewritten)")
            prev_hash = entry.hash
            expected_seq += 1
            checked += 1
    head = AuditChainHead.objects.filter(id=1).first()
    if head is not None and (head.last_seq != expected_seq - 1 or head.last_hash != prev_hash):
        return ChainReport(False, checked, expected_seq, "newest entries missing (deleted)")
    if against is not None and against.seq > checked:
        return ChainReport(False, checked, checked + 1,
                           f"truncated: the checkpoint's entry #{against.seq} is gone")
    return ChainReport(True, checked)


def _entry_digest(entry: AuditEntry, digest, *, sealer=None) -> str:
    changes: Any = entry.changes
    object_repr: Any = entry.object_repr
    if sealer is not None:
        changes = sealed_changes(changes) or sealer(entry.seq, "changes", _compact(changes))
        object_repr = sealed_repr(object_repr) or sealer(entry.seq, "object_repr",
                                                         _compact(object_repr))
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
        "object_repr": object_repr,
        "changes": changes,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "prev_hash": entry.prev_hash,
    }
    return digest(_compact(content).encode("utf-8"))


def audit_redact(*, seqs: list[int]) -> dict[str, list[int]]:
    """Replace the changes and object text of the given entries by their seals, keeping the
    chain verifiable (see the module docstring): sealed entries as they are, entries from
    before sealing (keyed or plain) with a redaction witness. Entries already redacted are
    left alone; an entry that no longer matches its hash (tampered) is not redacted and is
    returned under "unredactable", so verification keeps pointing at it. Must run inside the
    caller's transaction (the erasure that asked for it)."""
    keyed_from, _problem = _keyed_from()
    sealer, keyed, plain = _sealer(), _hasher(keyed=True), _hasher(keyed=False)
    done: list[int] = []
    skipped: list[int] = []
    for start in range(0, len(seqs), 500):
        for entry in AuditEntry.objects.filter(seq__in=seqs[start:start + 500]):
            if is_redacted(entry):
                continue
            if keyed_from is None:
                skipped.append(entry.seq)
                continue
            sealed = entry.seq >= keyed_from and hmac.compare_digest(
                _entry_digest(entry, keyed, sealer=sealer), entry.hash)
            legacy = not sealed and hmac.compare_digest(
                _entry_digest(entry, keyed if entry.seq >= keyed_from else plain), entry.hash)
            if not (sealed or legacy):
                skipped.append(entry.seq)
                continue
            entry.changes = {REDACTED_KEY: sealer(entry.seq, "changes",
                                                  _compact(entry.changes))}
            entry.object_repr = REDACTED_PREFIX + sealer(entry.seq, "object_repr",
                                                         _compact(entry.object_repr))
            if legacy:
                entry.changes = {**entry.changes, WITNESS_KEY: _witness(entry)}
            AuditEntry.objects.filter(pk=entry.pk).update(changes=entry.changes,
                                                          object_repr=entry.object_repr)
            done.append(entry.seq)
    return {"redacted": sorted(done), "unredactable": sorted(skipped)}


# Checkpoints --------------------------------------------------------------------------------

_CHECKPOINT = re.compile(
    r"kehu-audit-checkpoint v1 seq=(?P<seq>\d{1,19}) hash=(?P<hash>[0-9a-f]{64}) "
    r"at=(?P<at>\S+) sig=(?P<sig>[0-9a-f]{64})")


@dataclass(frozen=True)
class Checkpoint:
    """A signed chain head: "the chain held entry #seq with this hash at this time"."""

    seq: int
    hash: str
    at: str
    signature: str

    def _expected(self) -> str:
        message = f"kehu-audit-checkpoint|v1|{self.seq}|{self.hash}|{self.at}".encode()
        return hmac.new(_key(), message, hashlib.sha256).hexdigest()

    def signature_ok(self) -> bool:
        return hmac.compare_digest(self.signature, self._expected())

    def text(self) -> str:
        return (f"kehu-audit-checkpoint v1 seq={self.seq} hash={self.hash} at={self.at} "
                f"sig={self.signature}")

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """From the printed line (anywhere in the text); ValueError when there is none."""
        found = _CHECKPOINT.search(text or "")
        if found is None:
            raise ValueError("no kehu audit checkpoint line found")
        return cls(int(found["seq"]), found["hash"], found["at"], found["sig"])


def audit_checkpoint() -> Checkpoint:
    """Sign the chain's current head (after verifying the whole chain; ValueError if it is
    broken), for an admin to store outside the database."""
    report = audit_verify()
    if not report.ok:
        raise ValueError(f"audit chain BROKEN at entry #{report.bad_seq}: {report.reason}")
    head = AuditChainHead.objects.filter(id=1).first()
    seq, last = (head.last_seq, head.last_hash) if head is not None else (0, GENESIS_HASH)
    at = timezone.now().astimezone(UTC).isoformat(timespec="seconds")
    unsigned = Checkpoint(seq, last, at, "")
    return Checkpoint(seq, last, at, unsigned._expected())
