"""Property: merge -> unrelated edits on the survivor -> unmerge restores every original
customer exactly (columns and the rows that were theirs), and the survivor exactly except
the edits made after the merge and the rows added since."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kehu.core.actor import Actor
from kehu.customers import services as customers
from kehu.customers.models import Customer
from kehu.identity.choices import choosable_fields
from kehu.identity.services import customer_merge, customer_unmerge
from kehu.interactions.models import Interaction
from tests.identity.conftest import full_customer, state

pytestmark = pytest.mark.django_db

NAMES = ["张伟", "章伟", "張偉", "王芳", "Zhang Wei"]
TAGS = ["VIP", "打印机", "华东"]
CITIES = ["上海市浦东新区世纪大道100号", "北京市朝阳区建国路1号", ""]
EDITABLE = ["title", "notes", "source", "preferred_channel"]


@st.composite
def customer_specs(draw, index):
    return {
        "name": draw(st.sampled_from(NAMES)),
        "mobile": draw(st.sampled_from(["", f"1380000{index:04d}"])),
        "email": draw(st.sampled_from(["", f"p{index}@example.com"])),
        "address": draw(st.sampled_from(CITIES)),
        "tags": tuple(draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=3))),
        "interactions": draw(st.integers(0, 2)),
        "orders": draw(st.integers(0, 1)),
        "events": draw(st.integers(0, 1)),
        "title": draw(st.sampled_from(["", "经理", "总监"])),
        "notes": draw(st.sampled_from(["", "老客户"])),
        "lifecycle_stage": draw(st.sampled_from(["lead", "customer", "loyal"])),
    }


@st.composite
def scenarios(draw):
    count = draw(st.integers(2, 4))
    specs = [draw(customer_specs(i)) for i in range(count)]
    survivor = draw(st.integers(0, count - 1))
    picks = draw(st.dictionaries(
        st.sampled_from(choosable_fields("person", [])), st.integers(0, count - 1), max_size=8))
    edits = draw(st.dictionaries(st.sampled_from(EDITABLE),
                                 st.sampled_from(["", "改过", "wechat"]), max_size=3))
    add_row = draw(st.booleans())
    return specs, survivor, picks, edits, add_row


@settings(max_examples=40, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(scenario=scenarios())
def test_merge_edit_unmerge_restores_exactly(steward, scenario):
    specs, survivor_index, picks, edits, add_row = scenario
    actor = Actor(user=steward)
    with transaction.atomic():
        made = [full_customer(**spec) for spec in specs]
        ids = [c.pk for c in made]
        before = {pk: state(pk) for pk in ids}
        survivor_id = ids[survivor_index]
        choices = {}
        for field, index in picks.items():
            if field in ("mobile", "email", "address") and not specs[index][
                    "address" if field == "address" else field]:
                continue
            choices[field] = ids[index]
        merge = customer_merge(actor=actor, survivor_id=survivor_id,
                               other_ids=[pk for pk in ids if pk != survivor_id],
                               field_choices=choices)
        survivor = Customer.objects.get(pk=survivor_id)
        edited = {}
        if edits:
            changes = {k: v for k, v in edits.items()
                       if k != "preferred_channel" or v in ("", "wechat")}
            changes = {k: ("wechat" if k == "preferred_channel" and v else v)
                       for k, v in changes.items()}
            customers.customer_update(actor=actor, customer=survivor,
                                      expected_version=survivor.version, changes=changes)
            survivor.refresh_from_db()
            edited = {k: getattr(survivor, k) for k in changes}
        new_row = None
        if add_row:
            new_row = Interaction.objects.create(
                customer_id=survivor_id, kind="note", summary="合并后记录",
                occurred_at=timezone.now() - dt.timedelta(minutes=1)).pk

        customer_unmerge(actor=actor, merge_id=merge.pk)

        for pk in ids:
            if pk != survivor_id:
                assert state(pk) == before[pk]
        expected = before[survivor_id]
        now = state(survivor_id)
        merged_after = merge.snapshot["after"]
        for field, value in edited.items():
            if value != merged_after[field]:  # a real edit after the merge stays
                expected["columns"][field] = value
        if new_row is not None:
            expected["interactions"] = sorted([*expected["interactions"], new_row])
        assert now == expected
        transaction.set_rollback(True)
