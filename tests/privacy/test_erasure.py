"""Erasure in process, on SQLite and PostgreSQL: every text column of every table is free of
the person's values, aggregates stay, the audit chain verifies, holds block it."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models
from django.db.models import Q, TextField
from django.db.models.functions import Cast

from kehu.core.actor import Actor
from kehu.core.audit import audit_verify
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.customers.models import Customer
from kehu.privacy import services
from kehu.privacy.erasure import customer_erase
from kehu.privacy.models import ConsentRecord, Erasure
from kehu.transactions.models import Order
from tests.privacy.person import PERSON, make_person, values

pytestmark = pytest.mark.django_db(transaction=True)


def rows_holding(needles) -> list[str]:
    """Every (table, column) whose rows hold one of the values, in any text-like column."""
    hits = []
    for model in apps.get_models():
        columns = [f for f in model._meta.concrete_fields
                   if isinstance(f, models.CharField | models.TextField | models.JSONField)]
        for field in columns:
            qs = model._default_manager.all()
            name = field.attname
            if isinstance(field, models.JSONField):
                qs = qs.annotate(_text=Cast(field.attname, TextField()))
                name = "_text"
            match = Q(pk__in=[])
            for needle in needles:
                match |= Q(**{f"{name}__contains": needle})
            if qs.filter(match).exists():
                hits.append(f"{model._meta.label}.{field.name}")
    return hits


@pytest.fixture
def actor(admin_user):
    return Actor(user=admin_user)


def test_erase_anonymises_everywhere_and_keeps_aggregates(actor, tmp_path):
    customer_id = make_person(actor, tmp_path)
    assert rows_holding(values())  # the scan sees them before
    erasure = customer_erase(actor=actor, customer_id=customer_id, reason="本人要求")
    assert rows_holding(values()) == []
    customer = Customer.objects.get(pk=customer_id)
    assert customer.name == f"已删除客户 #{customer_id}" and customer.status == "deleted"
    assert not customer.identifiers.exists() and not customer.addresses.exists()
    order = Order.objects.get(customer_id=customer_id)
    assert str(order.total_amount) == "3998.00" and order.notes == ""
    assert audit_verify().ok
    # The log keeps that the erasure happened (and the consent history its proof).
    entry = AuditEntry.objects.filter(action="customer.erase").get()
    assert entry.object_id == str(customer_id) and entry.changes["reason"] == "本人要求"
    assert ConsentRecord.objects.filter(customer_id=customer_id).exists()
    assert erasure.counts["audit"] > 0
    with pytest.raises(ValidationFailed):
        customer_erase(actor=actor, customer_id=customer_id, reason="again")


def test_the_reason_never_keeps_a_value(actor):
    from tests.factories import create_customer

    customer = create_customer(name=PERSON["name"])
    erasure = customer_erase(actor=actor, customer_id=customer.pk,
                             reason=f"{PERSON['name']}本人电话要求")
    assert PERSON["name"] not in erasure.reason and "***" in erasure.reason


def test_a_legal_hold_blocks_erasure_until_released(actor):
    from tests.factories import create_customer

    customer = create_customer(name="诉讼客户", mobile="13711112222")
    hold = services.legal_hold_place(actor=actor, customer_id=customer.pk, reason="合同纠纷诉讼中")
    with pytest.raises(ValidationFailed) as caught:
        customer_erase(actor=actor, customer_id=customer.pk, reason="要求删除")
    assert caught.value.code == "legal_hold" and "合同纠纷诉讼中" in str(caught.value.message)
    assert Customer.objects.get(pk=customer.pk).name == "诉讼客户"
    assert not Erasure.objects.exists()
    services.legal_hold_release(actor=actor, hold_id=hold.pk)
    customer_erase(actor=actor, customer_id=customer.pk, reason="要求删除")
    assert Customer.objects.get(pk=customer.pk).name.startswith("已删除客户")


def test_only_privacy_managers_erase(make_user):
    from tests.factories import create_customer

    customer = create_customer(name="普通客户")
    with pytest.raises(PermissionDenied):
        customer_erase(actor=Actor(user=make_user("sales_manager")), customer_id=customer.pk,
                       reason="x")
    assert Customer.objects.get(pk=customer.pk).name == "普通客户"
    with pytest.raises(NotFound):
        customer_erase(actor=Actor(via="cli"), customer_id=999999, reason="x")


def test_merged_away_records_are_erased_too(actor):
    from kehu.identity.services import customer_merge
    from tests.factories import create_customer

    survivor = create_customer(name="合并客户", mobile="13722223333")
    other = create_customer(name="合并客户乙", email="merge.b@example.cn")
    customer_merge(actor=actor, survivor_id=survivor.pk, other_ids=[other.pk])
    customer_erase(actor=actor, customer_id=survivor.pk, reason="要求删除")
    assert rows_holding(["合并客户乙", "merge.b@example.cn", "13722223333"]) == []


def _relink(from_seq: int, digest_of) -> None:
    """Rewrite the chain from `from_seq` as an older kehu wrote it: `digest_of(entry)` gives
    each entry's hash (raw SQL: the ORM refuses to edit entries); the head moves along."""
    from django.db import connection

    from kehu.core.audit import GENESIS_HASH
    from kehu.core.models import AuditChainHead

    prev = AuditEntry.objects.get(seq=from_seq - 1).hash if from_seq > 1 else GENESIS_HASH
    for entry in AuditEntry.objects.filter(seq__gte=from_seq).order_by("seq"):
        entry.prev_hash = prev
        entry.hash = digest_of(entry)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE core_auditentry SET prev_hash = %s, hash = %s WHERE seq = %s",
                           [entry.prev_hash, entry.hash, entry.seq])
        prev = entry.hash
    AuditChainHead.objects.filter(id=1).update(last_hash=prev)


def test_entries_from_before_sealing_are_redacted_and_the_chain_verifies(actor):
    """A person whose audit entries span the three formats: plain SHA-256 (before keying),
    keyed but unsealed (before sealing) and sealed. Erasure redacts all of them; the legacy
    ones carry a keyed redaction witness, and tampering with one is still detected."""
    import importlib

    from django.apps import apps as django_apps
    from django.db import connection

    from kehu.core.audit import _entry_digest, _hasher, entry_hash
    from kehu.core.models import AuditChainHead
    from kehu.customers.services import customer_create, customer_update

    customer = customer_create(actor=actor, name=PERSON["name"], mobile=PERSON["mobile"],
                               email=PERSON["email"])
    # Everything so far becomes the plain chain of before keying; the migration marks it.
    _relink(1, lambda e: entry_hash(e, keyed=False))
    AuditChainHead.objects.filter(id=1).update(keyed_from_seq=None, keyed_mark="")
    importlib.import_module("kehu.core.migrations.0006_audit_chain_keyed").mark_keyed_segment(
        django_apps, None)
    plain_seqs = set(AuditEntry.objects.values_list("seq", flat=True))
    # Then one keyed entry from before sealing, then today's sealed ones.
    customer = customer_update(actor=actor, customer=Customer.objects.get(pk=customer.pk),
                               expected_version=None,
                               changes={"notes": f"{PERSON['name']}喜欢晚上联系"})
    unsealed = AuditEntry.objects.filter(object_type="customer",
                                         object_id=str(customer.pk)).order_by("-seq").first()
    assert unsealed.seq not in plain_seqs
    keyed = _hasher(keyed=True)
    _relink(unsealed.seq, lambda e: _entry_digest(e, keyed) if e.seq == unsealed.seq
            else entry_hash(e, keyed=True))
    customer_update(actor=actor, customer=Customer.objects.get(pk=customer.pk),
                    expected_version=None, changes={"wechat": PERSON["wechat"],
                                                    "address": PERSON["address"]})
    assert audit_verify().ok
    about = AuditEntry.objects.filter(object_type="customer", object_id=str(customer.pk))
    assert {e.seq for e in about} & plain_seqs and about.filter(seq=unsealed.seq).exists()

    erasure = customer_erase(actor=actor, customer_id=customer.pk, reason="本人要求")
    assert rows_holding(values()) == []
    report = audit_verify()
    assert report.ok, report
    legacy = [e for e in AuditEntry.objects.filter(seq__in=plain_seqs | {unsealed.seq})
              if "__witness__" in (e.changes or {})]
    assert {e.seq for e in legacy} >= {e.seq for e in about if e.seq <= unsealed.seq}
    assert erasure.counts["audit"] >= len(legacy)
    # A redacted legacy entry cannot be altered (or its witness moved) without the key.
    victim = legacy[0]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE core_auditentry SET action = %s WHERE seq = %s",
                       ["customer.forged", victim.seq])
    assert (audit_verify().ok, audit_verify().bad_seq) == (False, victim.seq)
