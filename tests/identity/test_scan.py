"""The batch scan, the at-entry check, the import hook, auto-merge and the CLI."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from kehu.core.actor import Actor
from kehu.core.errors import PermissionDenied
from kehu.customers.duplicates import customer_possible_duplicates
from kehu.customers.models import Customer
from kehu.identity.models import DedupScan, DuplicateCandidate, Merge, NotSameMark
from kehu.identity.scan import dedup_scan_create, dedup_scan_run, duplicates_record_for
from kehu.identity.selectors import candidate_list, pending_duplicate_count
from kehu.identity.services import candidate_dismiss
from tests.factories import TeamFactory
from tests.identity.conftest import full_customer
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def base():
    zhang = full_customer(name="张伟", mobile="13812345678", email="zhangwei@example.com",
                          address="上海市浦东新区世纪大道100号", birthday="1990-03-07")
    # Identifiers are unique among live customers: the duplicate has another phone.
    zhang2 = full_customer(name="章伟", mobile="+86 138 1234 5670", address="浦东新区世纪大道100号",
                           birthday="1990-03-07")
    wang = full_customer(name="王芳", mobile="13900002222", address="北京市朝阳区建国路1号")
    return zhang, zhang2, wang


def _scan(actor, **kwargs):
    scan = dedup_scan_create(actor=actor, **kwargs)
    return dedup_scan_run(actor=actor, scan_id=scan.pk)


def test_scan_queues_the_pair_once_and_skips_not_same(steward, base):
    zhang, zhang2, wang = base
    actor = Actor(user=steward)
    scan = _scan(actor)
    assert (scan.status, scan.total, scan.candidates_new) == (DedupScan.DONE, 3, 1)
    candidate = DuplicateCandidate.objects.get()
    assert candidate.member_ids == sorted([zhang.pk, zhang2.pk])
    assert candidate.probability >= 0.9
    assert candidate.explanation[0]["fields"]
    assert list(candidate_list(user=steward)) == [candidate]
    assert pending_duplicate_count(user=steward) == 1
    assert _scan(actor).candidates_new == 0  # idempotent
    assert DuplicateCandidate.objects.count() == 1
    candidate_dismiss(actor=actor, candidate=candidate)
    assert NotSameMark.objects.count() == 1
    again = _scan(actor)
    assert again.candidates_new == 0
    assert pending_duplicate_count(user=steward) == 0


def test_queue_is_scoped_and_needs_the_permission(make_user, steward, base):
    _scan(Actor(user=steward))
    team = TeamFactory()
    manager = make_user("sales_manager", team=team)
    assert list(candidate_list(user=manager)) == []  # the customers are outside the team
    rep = make_user("sales_rep")
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        candidate_list(user=rep)
    with pytest.raises(PermissionDenied):
        dedup_scan_create(actor=Actor(user=rep))
    assert DedupScan.objects.count() == 1
    assert db_snapshot() == before


def test_auto_merge_merges_only_above_the_threshold(steward, base, settings):
    zhang, zhang2, wang = base
    settings.KEHU_DEDUP_AUTO_MERGE = "0.99"
    scan = _scan(Actor(user=steward))
    assert scan.auto_merged == 1
    merge = Merge.objects.get()
    assert merge.automatic is True
    assert {merge.survivor_id, merge.sources.get().customer_id} == {zhang.pk, zhang2.pk}
    assert Customer.objects.get(pk=wang.pk).status == Customer.STATUS_ACTIVE
    assert DuplicateCandidate.objects.get().status == DuplicateCandidate.MERGED


def test_at_entry_check_names_the_likely_duplicate_masked(make_user, base):
    zhang, zhang2, wang = base
    marketer = make_user("marketer")  # all records, mobile masked
    values = {"name": "章伟", "mobile": "0086 138-1234-5678", "birthday": "1990-3-7"}
    found = customer_possible_duplicates(user=marketer, values=values)
    assert found.hints[0].id == zhang.pk
    assert {h.id for h in found.hints} == {zhang.pk, zhang2.pk}
    assert found.hints[0].mobile == "138****5678"
    assert found.hints[0].probability >= 0.8
    mine = customer_possible_duplicates(user=marketer, values=values, exclude_id=zhang.pk)
    assert [h.id for h in mine.hints] == [zhang2.pk]
    rep = make_user("sales_rep")  # own records only: counted, never named
    hidden = customer_possible_duplicates(user=rep, values=values)
    assert (hidden.hints, hidden.hidden) == ([], 2)
    nobody = customer_possible_duplicates(user=marketer, values={"name": "李娜",
                                                                 "mobile": "13511112222"})
    assert not nobody


def test_import_hook_records_candidates(steward, base):
    zhang, zhang2, wang = base
    new = full_customer(name="Zhang Wei", birthday="1990-03-07")
    found = duplicates_record_for(actor=Actor(user=steward), customer_ids=[new.pk])
    assert {c.found_by for c in found} == {"import"}
    assert sorted(c.member_ids for c in found) == sorted(
        [sorted([zhang.pk, new.pk]), sorted([zhang2.pk, new.pk])])


def test_cli_scan_json(admin_user, base):
    out = StringIO()
    call_command("dedup", "scan", "--threshold", "0.9", "--json", stdout=out)
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert summary["customers"] == 3
    assert summary["candidates_new"] == 1
    assert summary["auto_merged"] == 0
