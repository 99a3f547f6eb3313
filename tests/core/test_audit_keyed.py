"""The keyed audit chain (HMAC-SHA256 with a key outside the database), old plain SHA-256
entries still verifying, and signed checkpoints (`kehu audit checkpoint`,
`kehu audit verify --against`)."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection

from kehu.core.actor import Actor
from kehu.core.audit import (
    GENESIS_HASH,
    Checkpoint,
    PendingEntry,
    audit_checkpoint,
    audit_record,
    audit_record_many,
    audit_verify,
    entry_hash,
    keyed_mark,
)
from kehu.core.models import AuditChainHead, AuditEntry

pytestmark = pytest.mark.django_db


def _record(n: int, start: int = 0):
    for i in range(start, start + n):
        audit_record(actor=Actor.system(), action="test.write", object_type="thing",
                     object_id=i, changes={"name": {"before": f"v{i}", "after": f"v{i + 1}"}})


def _rewrite_from(seq: int, *, keyed: bool, object_repr: str = "forged"):
    """What a database writer does: edit entry `seq` and recompute every later link with the
    chosen hash, then move the head along (raw SQL: the ORM refuses to edit entries)."""
    prev = AuditEntry.objects.get(seq=seq - 1).hash if seq > 1 else GENESIS_HASH
    for entry in AuditEntry.objects.filter(seq__gte=seq).order_by("seq"):
        if entry.seq == seq:
            entry.object_repr = object_repr
        entry.prev_hash = prev
        entry.hash = entry_hash(entry, keyed=keyed)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE core_auditentry SET object_repr = %s, prev_hash = %s, "
                           "hash = %s WHERE seq = %s",
                           [entry.object_repr, entry.prev_hash, entry.hash, entry.seq])
        prev = entry.hash
    AuditChainHead.objects.filter(id=1).update(last_hash=prev)


def test_new_entries_are_keyed():
    _record(2)
    audit_record_many(actor=Actor.system(), entries=[
        PendingEntry(action="test.bulk", object_id=i, changes={"n": i}) for i in range(3)])
    for entry in AuditEntry.objects.all():
        assert entry.hash == entry_hash(entry, keyed=True)
        assert entry.hash != entry_hash(entry, keyed=False)
    assert audit_verify().ok and audit_verify().checked == 5


def test_rewriting_an_entry_and_recomputing_with_plain_sha256_is_detected():
    _record(5)
    _rewrite_from(2, keyed=False)
    assert AuditEntry.objects.get(seq=2).object_repr == "forged"
    report = audit_verify()
    assert (report.ok, report.bad_seq, report.reason) == (
        False, 2, "content does not match its hash")


def test_the_same_rewrite_needs_the_key(settings):
    """The forgery is caught because of the key alone: recomputed WITH the key it would pass,
    and a different key cannot verify the chain at all."""
    _record(4)
    _rewrite_from(3, keyed=True)
    assert audit_verify().ok
    settings.KEHU_AUDIT_KEY = "another key"
    report = audit_verify()
    assert not report.ok and "forged" in report.reason


def _legacy_chain(n: int):
    """Entries as kehu wrote them before keying: plain SHA-256, head without a keyed start."""
    _record(n)
    _rewrite_from(1, keyed=False, object_repr="thing")
    AuditChainHead.objects.filter(id=1).update(keyed_from_seq=None, keyed_mark="")


def test_existing_plain_chain_keeps_verifying_after_the_migration():
    _legacy_chain(4)
    assert not audit_verify().ok  # unmarked: cannot tell which entries must be keyed
    migration = importlib.import_module("kehu.core.migrations.0006_audit_chain_keyed")
    migration.mark_keyed_segment(django_apps, None)
    head = AuditChainHead.objects.get()
    assert (head.keyed_from_seq, head.keyed_mark) == (5, keyed_mark(5))
    _record(3, start=4)
    report = audit_verify()
    assert (report.ok, report.checked) == (True, 7)
    entries = {e.seq: e for e in AuditEntry.objects.all()}
    assert entries[4].hash == entry_hash(entries[4], keyed=False)
    assert entries[5].hash == entry_hash(entries[5], keyed=True)


def test_downgrading_keyed_entries_or_moving_the_keyed_start_is_detected():
    _legacy_chain(3)
    migration = importlib.import_module("kehu.core.migrations.0006_audit_chain_keyed")
    migration.mark_keyed_segment(django_apps, None)
    _record(3, start=3)
    assert audit_verify().ok
    # Rewrite a legacy entry and recompute everything after it with plain SHA-256: the first
    # keyed entry no longer matches.
    _rewrite_from(2, keyed=False)
    assert (audit_verify().ok, audit_verify().bad_seq) == (False, 4)
    # Claim every entry is a legacy one: the keyed start's seal does not match.
    AuditChainHead.objects.filter(id=1).update(keyed_from_seq=100)
    assert "forged" in audit_verify().reason
    AuditChainHead.objects.filter(id=1).update(keyed_from_seq=100, keyed_mark="0" * 64)
    assert not audit_verify().ok
    AuditChainHead.objects.all().delete()
    report = audit_verify()
    assert (report.ok, report.reason) == (False, "chain head missing (deleted)")


def test_bulk_append_stays_consistent_with_single_appends():
    _record(1)
    audit_record_many(actor=Actor(via="cli", ip="10.0.0.1"), entries=[
        PendingEntry(action="customer.update", object_type="customer", object_id=i,
                     changes={"notes": {"before": None, "after": f"第{i}次"}})
        for i in range(50)])
    _record(1, start=1)
    assert audit_verify(batch_size=7).ok
    _rewrite_from(30, keyed=False)
    assert audit_verify().bad_seq == 30


# Checkpoints ------------------------------------------------------------------------------------


def _checkpoint_line(capsys) -> str:
    call_command("audit", "checkpoint")
    out = capsys.readouterr().out.strip()
    assert out.startswith("kehu-audit-checkpoint v1 seq=")
    return out


def test_checkpoint_and_verify_against_round_trip(capsys, tmp_path):
    _record(3)
    line = _checkpoint_line(capsys)
    checkpoint = Checkpoint.parse(line)
    assert (checkpoint.seq, checkpoint.hash) == (3, AuditEntry.objects.get(seq=3).hash)
    assert checkpoint.signature_ok()
    _record(2, start=3)  # the chain grows past the checkpoint
    call_command("audit", "verify", "--against", line)
    assert "5 entries verified; holds checkpoint #3" in capsys.readouterr().out
    saved = tmp_path / "checkpoint.txt"
    saved.write_text(f"stored on the admin's laptop\n{line}\n", encoding="utf-8")
    call_command("audit", "verify", "--against", str(saved))
    assert "holds checkpoint #3" in capsys.readouterr().out


def test_a_tampered_checkpoint_is_refused(capsys):
    _record(3)
    line = _checkpoint_line(capsys)
    tampered = line.replace("seq=3", "seq=2")
    with pytest.raises(SystemExit) as exit_info:
        call_command("audit", "verify", "--against", tampered)
    assert exit_info.value.code == 1
    assert "checkpoint signature does not match" in capsys.readouterr().err
    digit = line.split("hash=")[1][0]
    other = "0" if digit != "0" else "1"
    assert not audit_verify(against=Checkpoint.parse(
        line.replace(f"hash={digit}", f"hash={other}", 1))).ok


def test_verify_against_fails_when_the_chain_was_truncated_below_the_checkpoint(capsys):
    _record(5)
    line = _checkpoint_line(capsys)
    # A database writer deletes the newest entries and moves the head back consistently:
    # the chain alone looks fine …
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM core_auditentry WHERE seq > 3")
    AuditChainHead.objects.filter(id=1).update(
        last_seq=3, last_hash=AuditEntry.objects.get(seq=3).hash)
    assert audit_verify().ok
    # … but not against the checkpoint.
    with pytest.raises(SystemExit):
        call_command("audit", "verify", "--against", line)
    assert "truncated: the checkpoint's entry #5 is gone" in capsys.readouterr().err
    # Appending again reaches #5 with other content: still not the checkpoint's head.
    _record(2, start=10)
    report = audit_verify(against=Checkpoint.parse(line))
    assert (report.ok, report.bad_seq) == (False, 5)


def test_checkpoint_refuses_a_broken_chain_and_verify_rejects_garbage(capsys):
    _record(3)
    AuditEntry.objects.filter(seq=2).update(object_repr="x")
    with pytest.raises(SystemExit):
        call_command("audit", "checkpoint")
    assert "BROKEN at entry #2" in capsys.readouterr().err
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no checkpoint found"):
        call_command("audit", "verify", "--against", "not a checkpoint")


def test_empty_chain_checkpoint():
    checkpoint = audit_checkpoint()
    assert (checkpoint.seq, checkpoint.hash) == (0, GENESIS_HASH)
    assert audit_verify(against=checkpoint).ok


def test_the_key_lives_outside_the_database(settings):
    import os
    import stat

    if os.environ.get("KEHU_AUDIT_KEY"):
        pytest.skip("the key comes from the environment here")
    path = settings.KEHU_HOME / "audit_key"
    assert path.read_text().strip() == settings.KEHU_AUDIT_KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("key", ["short", "k" * 44, "long-" * 40])
def test_the_chain_hash_is_standard_hmac_sha256(settings, key):
    import hashlib
    import hmac

    from kehu.core.audit import _hasher

    settings.KEHU_AUDIT_KEY = key
    for payload in (b"", "审计".encode(), b"x" * 1000):
        assert _hasher(keyed=True)(payload) == hmac.new(key.encode(), payload,
                                                        hashlib.sha256).hexdigest()
