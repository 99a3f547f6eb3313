"""customer_merge and customer_unmerge: everything moves, one audit entry, exact undo."""

from __future__ import annotations

import pytest
from django.utils import translation

from kehu.core.actor import Actor
from kehu.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.customers import services as customers
from kehu.customers.models import ContactLink, Customer, CustomerTag, Identifier
from kehu.identity import relations
from kehu.identity.models import DuplicateCandidate, Merge, NotSameMark
from kehu.identity.services import (
    candidate_dismiss,
    candidate_merge,
    customer_merge,
    customer_unmerge,
)
from kehu.interactions.models import Interaction
from tests.identity.conftest import full_customer, state

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair():
    a = full_customer(name="张伟", mobile="13812345678", email="zw@example.com",
                      address="上海市浦东新区世纪大道100号", tags=("VIP", "打印机"), interactions=2,
                      orders=1, tickets=1, events=2, follow_ups=1, title="采购经理")
    b = full_customer(name="章伟", mobile="13900001111", address="北京市朝阳区建国路1号",
                      tags=("VIP",), interactions=1, orders=2, events=1, notes="老客户")
    return a, b


def test_merge_moves_every_row_and_marks_the_other_merged(steward, pair):
    a, b = pair
    merge = customer_merge(actor=Actor(user=steward), survivor_id=a.pk, other_ids=[b.pk])
    a.refresh_from_db()
    b.refresh_from_db()
    assert (b.status, b.merged_into_id) == (Customer.STATUS_MERGED, a.pk)
    assert a.interactions.count() == 3 and b.interactions.count() == 0
    assert a.orders.count() == 3 and a.tickets.count() == 1 and a.events.count() == 3
    assert a.follow_ups.count() == 1
    assert sorted(Identifier.objects.filter(customer=a).values_list("value", flat=True)) == [
        "+8613812345678", "+8613900001111", "zw@example.com"]
    # Both had VIP: b's VIP link stays with b (unique per customer); nothing is lost.
    assert sorted(CustomerTag.objects.filter(customer=a).values_list("tag__name", flat=True)) == [
        "VIP", "打印机"]
    assert list(CustomerTag.objects.filter(customer=b).values_list("tag__name", flat=True)) == [
        "VIP"]
    # One primary mobile and one primary address on the survivor.
    assert Identifier.objects.filter(customer=a, kind="mobile", is_primary=True).count() == 1
    assert a.addresses.filter(is_primary=True).count() == 1
    assert merge.sources.get().customer_id == b.pk
    entries = AuditEntry.objects.filter(action="customer.merge")
    assert entries.count() == 1
    entry = entries.get()
    assert entry.object_id == str(a.pk)
    assert entry.changes["merged"]["after"] == [{"id": b.pk, "name": "章伟"}]
    assert entry.changes["moved"]["interactions.Interaction.customer"] == 1


def test_field_choices_take_values_from_the_chosen_record(steward, pair):
    a, b = pair
    customer_merge(actor=Actor(user=steward), survivor_id=a.pk, other_ids=[b.pk],
                   field_choices={"name": b.pk, "mobile": b.pk, "address": b.pk})
    a.refresh_from_db()
    assert a.name == "章伟"
    assert a.name_pinyin == Customer.objects.get(pk=b.pk).name_pinyin
    assert a.primary_mobile == "+8613900001111"
    assert (a.province, a.city) == ("北京市", "北京市")
    # Defaults: a filled value beats an empty one (notes only b had; email only a had).
    assert a.notes == "老客户"
    assert a.primary_email == "zw@example.com"
    assert a.title == "采购经理"


def test_unmerge_restores_both_customers_exactly(steward, pair):
    a, b = pair
    before_a, before_b = state(a.pk), state(b.pk)
    merge = customer_merge(actor=Actor(user=steward), survivor_id=a.pk, other_ids=[b.pk],
                           field_choices={"name": b.pk, "mobile": b.pk, "address": b.pk})
    customer_unmerge(actor=Actor(user=steward), merge_id=merge.pk)
    assert state(a.pk) == before_a
    assert state(b.pk) == before_b
    merge.refresh_from_db()
    assert merge.undone_at is not None
    assert AuditEntry.objects.filter(action="customer.unmerge", object_id=str(a.pk)).count() == 1
    with pytest.raises(Conflict):
        customer_unmerge(actor=Actor(user=steward), merge_id=merge.pk)


def test_fields_edited_after_the_merge_stay_on_the_survivor(steward, pair):
    a, b = pair
    before_b = state(b.pk)
    merge = customer_merge(actor=Actor(user=steward), survivor_id=a.pk, other_ids=[b.pk],
                           field_choices={"name": b.pk, "notes": b.pk})
    survivor = Customer.objects.get(pk=a.pk)
    customers.customer_update(actor=Actor(user=steward), customer=survivor,
                              expected_version=survivor.version,
                              changes={"notes": "合并后改的备注", "industry": ""})
    new = Interaction.objects.create(customer_id=a.pk, kind="note", summary="合并后",
                                     occurred_at=survivor.created_at)
    customer_unmerge(actor=Actor(user=steward), merge_id=merge.pk)
    a.refresh_from_db()
    assert a.name == "张伟"  # chosen from b, not edited since: back to a's own
    assert a.notes == "合并后改的备注"  # edited after the merge: the edit stays
    assert Interaction.objects.get(pk=new.pk).customer_id == a.pk
    assert state(b.pk) == before_b


def test_merging_any_number_and_chained_undo_order(steward):
    a = full_customer(name="王芳", mobile="13700000001", interactions=1)
    b = full_customer(name="王芳", mobile="13700000002", interactions=1)
    c = full_customer(name="王芳", mobile="13700000003", interactions=1)
    first = customer_merge(actor=Actor(user=steward), survivor_id=a.pk, other_ids=[b.pk, c.pk])
    assert Interaction.objects.filter(customer_id=a.pk).count() == 3
    d = full_customer(name="王芳", mobile="13700000004")
    second = customer_merge(actor=Actor(user=steward), survivor_id=d.pk, other_ids=[a.pk])
    with pytest.raises(Conflict) as exc:
        customer_unmerge(actor=Actor(user=steward), merge_id=first.pk)
    assert exc.value.code == "survivor_inactive"
    customer_unmerge(actor=Actor(user=steward), merge_id=second.pk)
    customer_unmerge(actor=Actor(user=steward), merge_id=first.pk)
    for customer, phone in ((a, "+8613700000001"), (b, "+8613700000002"),
                            (c, "+8613700000003")):
        customer.refresh_from_db()
        assert (customer.status, customer.primary_mobile) == (Customer.STATUS_ACTIVE, phone)
        assert customer.interactions.count() == 1


def test_contact_links_move_and_duplicate_links_stay(steward):
    org_a = full_customer(name="上海华强科技有限公司", kind="organisation")
    org_b = full_customer(name="华强科技（上海）有限公司", kind="organisation")
    p1 = full_customer(name="李雷")
    p2 = full_customer(name="韩梅梅")
    ContactLink.objects.create(organisation=org_a, person=p1, is_primary=True)
    ContactLink.objects.create(organisation=org_b, person=p1, is_primary=True)
    ContactLink.objects.create(organisation=org_b, person=p2, is_primary=False)
    before_b = state(org_b.pk)
    merge = customer_merge(actor=Actor(user=steward), survivor_id=org_a.pk, other_ids=[org_b.pk])
    assert sorted(ContactLink.objects.filter(organisation=org_a)
                  .values_list("person_id", "is_primary")) == [(p1.pk, True), (p2.pk, False)]
    customer_unmerge(actor=Actor(user=steward), merge_id=merge.pk)
    assert state(org_b.pk) == before_b


def test_denied_and_invalid_merges_change_nothing(make_user, steward, pair):
    a, b = pair
    rep = make_user("sales_rep")
    before = (state(a.pk), state(b.pk))
    with pytest.raises(PermissionDenied):
        customer_merge(actor=Actor(user=rep), survivor_id=a.pk, other_ids=[b.pk])
    with translation.override("en"), pytest.raises(ValidationFailed) as exc:
        customer_merge(actor=Actor(user=steward), survivor_id=a.pk, other_ids=[b.pk],
                       field_choices={"name": 999999, "colour": a.pk})
    assert exc.value.details == {"name": ["Choose one of the customers being merged."],
                                 "colour": ["This field cannot be chosen in a merge."]}
    org = full_customer(name="华强公司", kind="organisation")
    with translation.override("en"), pytest.raises(ValidationFailed) as exc:
        customer_merge(actor=Actor(user=steward), survivor_id=a.pk, other_ids=[org.pk])
    assert exc.value.details == {"customer_ids": [
        "A person cannot be merged with an organisation."]}
    assert (state(a.pk), state(b.pk)) == before
    assert not Merge.objects.exists()
    assert not AuditEntry.objects.filter(action="customer.merge").exists()


def test_scope_outside_customers_look_missing(make_user, pair):
    a, b = pair
    manager = make_user("sales_manager")  # team scope, has customer.merge; a and b have no team
    with pytest.raises(NotFound):
        customer_merge(actor=Actor(user=manager), survivor_id=a.pk, other_ids=[b.pk])


def test_a_relation_that_cannot_move_fails_loudly(steward, pair, monkeypatch):
    a, b = pair
    real = relations.customer_relations

    def with_problem():
        found = real()
        return [relations.Relation(r.label, r.model, r.field, r.unique_keys,
                                   "many-to-many table") if r.label.endswith("Interaction.customer")
                else r for r in found]

    monkeypatch.setattr(relations, "customer_relations", with_problem)
    before = state(b.pk)
    with pytest.raises(relations.MergeUnsupported) as exc:
        customer_merge(actor=Actor(user=steward), survivor_id=a.pk, other_ids=[b.pk])
    assert exc.value.details == {"relation": ["interactions.Interaction.customer"]}
    assert state(b.pk) == before


def test_every_relation_to_customer_is_known():
    labels = {r.label for r in relations.customer_relations()}
    assert {"customers.Identifier.customer", "customers.Address.customer",
            "customers.ContactLink.organisation", "customers.ContactLink.person",
            "customers.CustomerTag.customer", "interactions.Interaction.customer",
            "interactions.FollowUpTask.customer", "interactions.Event.customer",
            "transactions.Order.customer", "transactions.Ticket.customer"} <= labels
    assert [r.label for r in relations.customer_relations() if r.problem] == []


def test_candidate_merge_and_dismiss(steward, pair):
    a, b = pair
    cand = DuplicateCandidate.objects.create(key=f"{a.pk}-{b.pk}", probability=0.97)
    cand.members.create(customer=a)
    cand.members.create(customer=b)
    merge = candidate_merge(actor=Actor(user=steward), candidate=cand, survivor_id=b.pk)
    cand.refresh_from_db()
    assert (cand.status, cand.merge_id, merge.probability) == ("merged", merge.pk, 0.97)
    customer_unmerge(actor=Actor(user=steward), merge_id=merge.pk)
    cand.refresh_from_db()
    assert cand.status == "pending"
    candidate_dismiss(actor=Actor(user=steward), candidate=cand)
    cand.refresh_from_db()
    assert cand.status == "dismissed"
    assert NotSameMark.objects.filter(low_id=a.pk, high_id=b.pk).count() == 1
    with pytest.raises(Conflict):
        candidate_dismiss(actor=Actor(user=steward), candidate=cand)
