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
