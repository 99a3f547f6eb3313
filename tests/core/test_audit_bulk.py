"""audit_record_many: entries appended in bulk join the same hash chain as audit_record's."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kehu.core.actor import Actor
from kehu.core.audit import (
    PendingEntry,
    _canonical,
    audit_record,
    audit_record_many,
    audit_verify,
    canonical,
)
from kehu.core.models import AuditChainHead, AuditEntry

pytestmark = pytest.mark.django_db


def _pending(n: int, start: int = 0) -> list[PendingEntry]:
    return [PendingEntry(action="customer.update", object_type="customer", object_id=i,
                         object_repr=f"客户{i}",
                         changes={"notes": {"before": None, "after": f"第{i}次"},
                                  "birthday": {"before": None, "after": date(1990, 1, i % 28 + 1)},
                                  "custom.tags": {"before": [], "after": ["a", 1, True, None]}})
            for i in range(start, start + n)]


def test_bulk_entries_interleave_with_single_ones_in_one_chain(admin_user):
    actor = Actor(user=admin_user, via="cli", ip="127.0.0.1")
    audit_record(actor=actor, action="test.one", changes={"n": 1})
    assert audit_record_many(actor=actor, entries=_pending(250)) == 250
    audit_record(actor=actor, action="test.two")
    assert audit_record_many(actor=actor, entries=_pending(3, start=250)) == 3
    entries = list(AuditEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == list(range(1, 256))
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    assert entries[1].changes["birthday"] == {"before": None, "after": "1990-01-01"}
    assert (entries[1].actor_user_id, entries[1].ip, entries[1].object_id) == (
        admin_user.pk, "127.0.0.1", "0")
    head = AuditChainHead.objects.get()
    assert (head.last_seq, head.last_hash) == (255, entries[-1].hash)
    report = audit_verify(batch_size=100)
    assert (report.ok, report.checked) == (True, 255)


def test_an_edited_bulk_entry_is_found():
    audit_record_many(actor=Actor.system(), entries=_pending(10))
    AuditEntry.objects.filter(seq=7).update(object_repr="forged")
    report = audit_verify()
    assert (report.ok, report.bad_seq) == (False, 7)


def test_nothing_to_append_writes_nothing():
    assert audit_record_many(actor=Actor.system(), entries=[]) == 0
    assert AuditEntry.objects.count() == 0


_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.text(max_size=8),
                  st.floats(allow_nan=False), st.dates(), st.decimals(allow_nan=False,
                                                                      allow_infinity=False))
_json = st.recursive(_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.tuples(inner, inner),
    st.dictionaries(st.one_of(st.text(max_size=5), st.integers(0, 9)), inner, max_size=4)),
    max_leaves=12)


@settings(max_examples=500, deadline=None)
@given(_json)
def test_fast_canonical_form_equals_the_json_round_trip(value):
    assert canonical(value) == _canonical(value)


def test_fast_canonical_form_of_times():
    moment = datetime(2024, 5, 6, 7, 8, 9, 123456)
    value = {"at": moment, "amount": Decimal("1.50"), "day": date(2024, 2, 29)}
    assert canonical(value) == _canonical(value)
