"""Survivorship: which value the merged customer keeps, per field, by the rule in force;
the admin's rules page; the review page's proposal and reason; API/page parity; auto-merge
leaves groups that need a reviewer's choice in the queue."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

import pytest
from django.utils import translation

from kehu.core.actor import Actor
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.customers.models import Customer, Identifier
from kehu.identity import survivorship
from kehu.identity.choices import default_survivor
from kehu.identity.models import DedupScan, DuplicateCandidate, Merge, SurvivorshipRule
from kehu.identity.scan import dedup_scan_create, dedup_scan_run
from kehu.identity.services import customer_merge, customer_unmerge, survivorship_rules_set
from tests.factories import TeamFactory
from tests.identity.conftest import full_customer, state

pytestmark = pytest.mark.django_db


def _merge(steward, survivor, *others, **kwargs):
    return customer_merge(actor=Actor(user=steward), survivor_id=survivor.pk,
                          other_ids=[o.pk for o in others], **kwargs)


def _later(customer, minutes=5):
    """Make the record look more recently updated (as the typo record was)."""
    Customer.objects.filter(pk=customer.pk).update(
        updated_at=customer.updated_at + dt.timedelta(minutes=minutes))
    return Customer.objects.get(pk=customer.pk)


# The case from the issue --------------------------------------------------------------------


def test_qin_guirong_keeps_her_name_stage_and_owner(make_user, steward):
    team = TeamFactory(name="华东一组")
    cui = make_user("sales_rep", username="cuilili", display_name="崔丽丽", team=team)
    loyal = full_customer(name="秦桂荣", mobile="13811112222", email="qgr@example.com",
                          lifecycle_stage="loyal", owner=cui, team=team, title="店长",
                          notes="老客户，喜欢喷墨打印机", interactions=2, orders=1)
    # A newer record typed by the data steward: a typo in the name, a fresh "lead".
    typo = _later(full_customer(name="秦桂蓉", mobile="13911112222", lifecycle_stage="lead",
                                owner=steward))
    assert typo.updated_at > loyal.updated_at
    survivor = default_survivor([loyal, typo])
    assert survivor.pk == loyal.pk  # the more complete record is proposed as the survivor
    before_loyal, before_typo = state(loyal.pk), state(typo.pk)

    merge = _merge(steward, loyal, typo)

    kept = Customer.objects.get(pk=loyal.pk)
    assert kept.name == "秦桂荣"
    assert kept.lifecycle_stage == "loyal"
    assert kept.owner_id == cui.pk
    assert kept.team_id == team.pk
    assert kept.title == "店长"
    assert kept.notes == "老客户，喜欢喷墨打印机"
    assert kept.primary_mobile == "+8613811112222"  # the survivor's (neither is verified)
    assert sorted(Identifier.objects.filter(customer=kept, kind="mobile")
                  .values_list("value", flat=True)) == ["+8613811112222", "+8613911112222"]
    rules = merge.snapshot["rules"]
    assert (rules["name"], rules["lifecycle_stage"], rules["owner"], rules["team"]) == (
        "agreement", "most_advanced", "survivor", "survivor")
    # Undo stays exact.
    customer_unmerge(actor=Actor(user=steward), merge_id=merge.pk)
    assert state(loyal.pk) == before_loyal
    assert state(typo.pk) == before_typo


def test_qin_guirong_with_the_typo_record_as_survivor_still_takes_the_best_stage(steward,
                                                                                 make_user):
    cui = make_user("sales_rep", username="cuilili", display_name="崔丽丽")
    loyal = full_customer(name="秦桂荣", lifecycle_stage="loyal", owner=cui)
    typo = _later(full_customer(name="秦桂蓉", lifecycle_stage="lead", owner=steward))
    _merge(steward, typo, loyal)
    kept = Customer.objects.get(pk=typo.pk)
    # The reviewer chose the typo record to survive: names tie, so the survivor's name;
    # the stage is still the most advanced; owner is the survivor's.
    assert (kept.name, kept.lifecycle_stage, kept.owner_id) == ("秦桂蓉", "loyal", steward.pk)


# Each rule ----------------------------------------------------------------------------------


def test_name_agreement_most_frequent_then_survivors_then_longest(steward):
    typo = full_customer(name="秦桂蓉")
    right1, right2 = full_customer(name="秦桂荣"), full_customer(name="秦桂荣")
    _merge(steward, typo, right1, right2)
    assert Customer.objects.get(pk=typo.pk).name == "秦桂荣"  # two records agree

    survivor = full_customer(name="李铭")
    others = [full_customer(name="李明"), full_customer(name="李明"),
              full_customer(name="李明明"), full_customer(name="李明明")]
    proposal = survivorship.propose(survivor, others)["name"]
    assert proposal.source == others[2].pk  # tie of two, survivor not in it: the longest
    _merge(steward, survivor, *others)
    assert Customer.objects.get(pk=survivor.pk).name == "李明明"

    a, b = full_customer(name="王芳"), full_customer(name="王芳芳")
    assert survivorship.propose(a, [b])["name"].source == a.pk  # a tie: the survivor's


@pytest.mark.parametrize(("stages", "expected"), [
    (("lead", "prospect"), "prospect"), (("customer", "lead"), "customer"),
    (("churned", "customer"), "customer"), (("lead", "churned"), "churned"),
    (("prospect", "loyal", "customer"), "loyal"),
])
def test_lifecycle_stage_most_advanced(steward, stages, expected):
    made = [full_customer(name="张伟", lifecycle_stage=s) for s in stages]
    _merge(steward, made[0], *made[1:])
    assert Customer.objects.get(pk=made[0].pk).lifecycle_stage == expected


def test_owner_and_team_are_the_survivors_else_the_others(make_user, steward):
    team_a, team_b = TeamFactory(), TeamFactory()
    a_owner = make_user("sales_rep", team=team_a)
    b_owner = make_user("sales_rep", team=team_b)
    a = full_customer(name="张伟", owner=a_owner, team=team_a)
    b = _later(full_customer(name="张伟", owner=b_owner, team=team_b))
    _merge(steward, a, b)
    assert Customer.objects.values_list("owner_id", "team_id").get(pk=a.pk) == (
        a_owner.pk, team_a.pk)
    orphan = full_customer(name="王芳")
    owned = full_customer(name="王芳", owner=b_owner, team=team_b)
    _merge(steward, orphan, owned)
    assert Customer.objects.values_list("owner_id", "team_id").get(pk=orphan.pk) == (
        b_owner.pk, team_b.pk)


def test_verified_identifier_first(steward):
    a = full_customer(name="张伟", mobile="13800000001", email="a@example.com")
    b = full_customer(name="张伟", mobile="13800000002", email="b@example.com")
    Identifier.objects.filter(customer=b, kind="mobile").update(verified=True)
    _merge(steward, a, b)
    kept = Customer.objects.get(pk=a.pk)
    assert kept.primary_mobile == "+8613800000002"  # b's mobile is verified
    assert kept.primary_email == "a@example.com"  # neither verified: the survivor's
    # Identifiers are unioned: every record's rows are on the survivor.
    assert Identifier.objects.filter(customer=kept).count() == 4


def test_notes_joined_and_lists_unioned_and_undone_exactly(steward):
    a = full_customer(name="张伟", notes="喜欢打印机", product_interests=["打印机"],
                      tags=("VIP",))
    b = full_customer(name="张伟", notes="投诉过一次", product_interests=["墨盒", "打印机"],
                      tags=("华东",))
    c = full_customer(name="张伟", notes="喜欢打印机")
    before = {pk: state(pk) for pk in (a.pk, b.pk, c.pk)}
    merge = _merge(steward, a, b, c)
    kept = Customer.objects.get(pk=a.pk)
    assert kept.notes == "喜欢打印机\n\n投诉过一次"
    assert kept.product_interests == ["打印机", "墨盒"]
    assert sorted(kept.tag_links.values_list("tag__name", flat=True)) == ["VIP", "华东"]
    customer_unmerge(actor=Actor(user=steward), merge_id=merge.pk)
    assert {pk: state(pk) for pk in before} == before


def test_birthdays_that_disagree_need_the_reviewers_choice(steward):
    a = full_customer(name="张伟", birthday="1990-03-07")
    b = full_customer(name="张伟", birthday="1990-07-03")
    before = (state(a.pk), state(b.pk))
    with translation.override("en"), pytest.raises(ValidationFailed) as exc:
        _merge(steward, a, b)
    assert exc.value.details == {"birthday": [
        "The records disagree on this field; choose the value to keep."]}
    assert (state(a.pk), state(b.pk)) == before
    assert not Merge.objects.exists()
    assert not AuditEntry.objects.filter(action="customer.merge").exists()
    _merge(steward, a, b, field_choices={"birthday": b.pk})
    assert Customer.objects.get(pk=a.pk).birthday == dt.date(1990, 7, 3)


def test_id_numbers_that_differ_need_a_choice_even_when_masked_alike(steward):
    a = full_customer(name="张伟", id_number="11010519491231002X")
    b = full_customer(name="张伟", id_number="11010519500118002X")
    c = full_customer(name="张伟")
    assert a.id_number_masked == b.id_number_masked
    assert survivorship.propose(a, [c])["id_number"].source == a.pk
    proposal = survivorship.propose(a, [b])["id_number"]
    assert proposal.needs_choice
    with pytest.raises(ValidationFailed) as exc:
        _merge(steward, a, b)
    assert sorted(exc.value.details) == ["birthday", "id_number"]  # the birthday is the ID's
    _merge(steward, a, b, field_choices={"id_number": b.pk, "birthday": b.pk})
    kept = Customer.objects.get(pk=a.pk)
    assert kept.id_number_index == Customer.objects.get(pk=b.pk).id_number_index


def test_birthday_only_one_record_has_or_both_agree_needs_no_choice(steward):
    a = full_customer(name="张伟")
    b = full_customer(name="张伟", birthday="1990-03-07")
    c = full_customer(name="张伟", birthday="1990-03-07")
    _merge(steward, a, b, c)
    assert Customer.objects.get(pk=a.pk).birthday == dt.date(1990, 3, 7)


def test_most_recent_and_survivor_rules_when_configured(steward):
    survivorship_rules_set(actor=Actor(user=steward),
                           rules={"name": "most_recent", "lifecycle_stage": "survivor",
                                  "notes": "survivor", "birthday": "survivor"})
    a = full_customer(name="秦桂荣", lifecycle_stage="lead", notes="甲", birthday="1990-03-07")
    b = _later(full_customer(name="秦桂蓉", lifecycle_stage="loyal", notes="乙",
                             birthday="1991-01-01"))
    _merge(steward, a, b)
    kept = Customer.objects.get(pk=a.pk)
    assert (kept.name, kept.lifecycle_stage, kept.notes, kept.birthday) == (
        "秦桂蓉", "lead", "甲", dt.date(1990, 3, 7))


# The admin's rules ----------------------------------------------------------------------------


def test_admin_changes_a_rule_and_the_next_merge_follows_it(make_user, steward):
    admin = make_user("admin")
    a = full_customer(name="张伟", lifecycle_stage="loyal")
    b = full_customer(name="张伟", lifecycle_stage="lead")
    c = full_customer(name="张伟", lifecycle_stage="loyal")
    d = full_customer(name="张伟", lifecycle_stage="lead")
    _merge(steward, a, b)
    assert Customer.objects.get(pk=a.pk).lifecycle_stage == "loyal"
    changed = survivorship_rules_set(actor=Actor(user=admin),
                                     rules={"lifecycle_stage": "review", "name": "agreement"})
    assert changed == {"lifecycle_stage": "review"}  # name already follows agreement
    row = SurvivorshipRule.objects.get()
    assert (row.field, row.rule, row.updated_by_id) == ("lifecycle_stage", "review", admin.pk)
    entry = AuditEntry.objects.get(action="survivorship.update")
    assert (entry.object_id, entry.changes) == (
        "lifecycle_stage", {"rule": {"before": "most_advanced", "after": "review"}})
    from kehu.core import labels

    with translation.override("zh-hans"):
        assert labels.field_value("survivorship", "rule", "review") == "审核人决定"
        assert labels.object_label("survivorship") == "合并保留规则"
    with pytest.raises(ValidationFailed) as exc:
        _merge(steward, c, d)
    assert list(exc.value.details) == ["lifecycle_stage"]
    _merge(steward, c, d, field_choices={"lifecycle_stage": d.pk})
    assert Customer.objects.get(pk=c.pk).lifecycle_stage == "lead"
    # Back to the default: the override row goes, the change is audited.
    survivorship_rules_set(actor=Actor(user=admin), rules={"lifecycle_stage": "most_advanced"})
    assert not SurvivorshipRule.objects.exists()
    assert AuditEntry.objects.filter(action="survivorship.update").count() == 2


def test_rules_refused_change_nothing(make_user):
    manager = make_user("sales_manager")  # may merge, may not configure
    with pytest.raises(PermissionDenied):
        survivorship_rules_set(actor=Actor(user=manager), rules={"name": "most_recent"})
    admin = make_user("admin")
    with translation.override("en"), pytest.raises(ValidationFailed) as exc:
        survivorship_rules_set(actor=Actor(user=admin),
                               rules={"name": "most_recent", "owner": "join", "colour": "union"})
    assert exc.value.details == {"owner": ["This rule does not apply to this field."],
                                 "colour": ["This field cannot be chosen in a merge."]}
    assert not SurvivorshipRule.objects.exists()  # all or nothing: name was not saved either
    assert not AuditEntry.objects.filter(action="survivorship.update").exists()


def test_rules_page_lists_every_field_and_saves(client, make_user, steward):
    admin = make_user("admin")
    client.force_login(admin)
    with translation.override("en"):
        page = client.get("/identity/survivorship/").content.decode()
    assert 'data-testid="rule-name"' in page
    assert 'data-testid="rule-birthday"' in page
    assert 'data-field="tags"' in page
    response = client.post("/identity/survivorship/", {"rule:name": "most_recent",
                                                       "rule:birthday": "review"})
    assert response.status_code == 302
    assert survivorship.rules_in_force(["name", "birthday"]) == {
        "name": "most_recent", "birthday": "review"}
    a = full_customer(name="秦桂荣")
    b = _later(full_customer(name="秦桂蓉"))
    _merge(steward, a, b)
    assert Customer.objects.get(pk=a.pk).name == "秦桂蓉"
    rep = make_user("sales_manager")
    client.force_login(rep)
    assert client.get("/identity/survivorship/").status_code == 403
    assert client.post("/identity/survivorship/", {"rule:name": "agreement"}).status_code == 403
    assert survivorship.rules_in_force(["name"]) == {"name": "most_recent"}


# The review page, API/page parity ------------------------------------------------------------


def _case(owner):
    a = full_customer(name="秦桂荣", lifecycle_stage="loyal", owner=owner, notes="老客户",
                      birthday="1980-05-01", product_interests=["打印机"], title="店长")
    b = _later(full_customer(name="秦桂蓉", lifecycle_stage="lead", notes="新登记",
                             birthday="1980-05-10", product_interests=["墨盒"]))
    cand = DuplicateCandidate.objects.create(key=f"{a.pk}-{b.pk}", probability=0.97)
    cand.members.create(customer=a)
    cand.members.create(customer=b)
    return cand, a, b


def _kept(pk):
    c = Customer.objects.get(pk=pk)
    return (c.name, c.lifecycle_stage, c.owner_id, c.notes, c.birthday, c.product_interests,
            c.title)


def test_review_page_shows_proposal_and_reason_and_requires_the_date(client, make_user,
                                                                     steward):
    cui = make_user("sales_rep", display_name="崔丽丽")
    cand, a, b = _case(cui)
    client.force_login(steward)
    with translation.override("zh-hans"):
        page = client.get(f"/identity/duplicates/{cand.pk}/").content.decode()
    notes = re.search(r'data-testid="proposal-notes">(.*?)</td>', page, re.S).group(1)
    assert "老客户<br><br>新登记" in notes
    name_reason = html.unescape(
        re.search(r'data-testid="reason-name">(.*?)</div>', page).group(1))
    assert name_reason == str(survivorship.RULES["agreement"]) and "记录" in name_reason
    assert "needs-choice" in re.search(r'<tr class="([^"]*)" data-field="birthday"', page).group(1)
    assert re.search(r'name="choice:birthday" value="\d+"[^>]* checked', page) is None
    assert re.search(r'name="choice:birthday" value="\d+" required', page)
    # Submitting without choosing the birthday is refused and changes nothing.
    before = (state(a.pk), state(b.pk))
    client.post("/identity/merge/", {"candidate": cand.pk, "survivor": a.pk,
                                     "member": [a.pk, b.pk]})
    assert (state(a.pk), state(b.pk)) == before


def _browser_form(page: str) -> dict[str, list[str]]:
    """What a browser submits from the review form: the checked radios and checkboxes."""
    data: dict[str, list[str]] = {}
    for tag in re.findall(r"<input[^>]*>", page):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if not name or not value:
            continue
        if ('type="radio"' in tag or 'type="checkbox"' in tag) and " checked" not in tag:
            continue
        data.setdefault(name.group(1), []).append(value.group(1))
    return data


def test_api_and_page_merges_agree(client, api_client_for, make_user, steward):
    cui = make_user("sales_rep", display_name="崔丽丽")
    cand1, a1, b1 = _case(cui)
    cand2, a2, b2 = _case(cui)
    client.force_login(steward)
    form = _browser_form(client.get(f"/identity/duplicates/{cand1.pk}/").content.decode())
    assert form["survivor"] == [str(a1.pk)]
    form["choice:birthday"] = [str(b1.pk)]  # the one choice the page requires
    assert client.post("/identity/merge/", form).status_code == 302
    api = api_client_for(steward)
    response = api.post(f"/api/v1/duplicates/{cand2.pk}/merge", content_type="application/json",
                        data=json.dumps({"survivor_id": a2.pk,
                                         "field_choices": {"birthday": b2.pk}}))
    assert response.status_code == 201, response.json()
    assert _kept(a1.pk) == _kept(a2.pk) == (
        "秦桂荣", "loyal", cui.pk, "老客户\n\n新登记", dt.date(1980, 5, 10), ["打印机", "墨盒"],
        "店长")
    m1, m2 = Merge.objects.get(survivor_id=a1.pk), Merge.objects.get(survivor_id=a2.pk)
    assert m1.snapshot["rules"] == m2.snapshot["rules"]


def test_api_merge_without_the_needed_choice_is_refused(api_client_for, make_user, steward):
    cand, a, b = _case(make_user("sales_rep"))
    before = (state(a.pk), state(b.pk))
    api = api_client_for(steward)
    with translation.override("en"):
        response = api.post(f"/api/v1/duplicates/{cand.pk}/merge",
                            content_type="application/json", HTTP_ACCEPT_LANGUAGE="en",
                            data=json.dumps({"survivor_id": a.pk}))
    assert response.status_code == 422, response.json()
    assert list(response.json()["details"]) == ["birthday"]
    assert (state(a.pk), state(b.pk)) == before
    assert not Merge.objects.exists()
    assert DuplicateCandidate.objects.get(pk=cand.pk).status == DuplicateCandidate.PENDING


# Auto-merge --------------------------------------------------------------------------------


@pytest.fixture
def sure_pair():
    zhang = full_customer(name="张伟", mobile="13812345678", email="zhangwei@example.com",
                          address="上海市浦东新区世纪大道100号", birthday="1990-03-07")
    zhang2 = full_customer(name="章伟", mobile="+86 138 1234 5670", address="浦东新区世纪大道100号",
                           birthday="1990-03-07")
    return zhang, zhang2


def test_auto_merge_keeps_groups_needing_a_choice_for_review(steward, sure_pair, settings):
    zhang, zhang2 = sure_pair
    Customer.objects.filter(pk=zhang2.pk).update(birthday=dt.date(1990, 3, 8))
    settings.KEHU_DEDUP_AUTO_MERGE = "0.9"
    actor = Actor(user=steward)
    scan = dedup_scan_run(actor=actor, scan_id=dedup_scan_create(actor=actor).pk)
    candidate = DuplicateCandidate.objects.get()
    assert candidate.probability >= 0.9
    assert (scan.auto_merged, scan.held_for_review) == (0, 1)
    assert DedupScan.objects.get(pk=scan.pk).held_for_review == 1
    assert candidate.status == DuplicateCandidate.PENDING
    assert not Merge.objects.exists()
    assert Customer.objects.get(pk=zhang2.pk).status == Customer.STATUS_ACTIVE


def test_auto_merge_applies_the_rules(steward, sure_pair, settings):
    zhang, zhang2 = sure_pair
    Customer.objects.filter(pk=zhang.pk).update(lifecycle_stage="lead", notes="甲")
    Customer.objects.filter(pk=zhang2.pk).update(lifecycle_stage="loyal", notes="乙")
    settings.KEHU_DEDUP_AUTO_MERGE = "0.9"
    actor = Actor(user=steward)
    scan = dedup_scan_run(actor=actor, scan_id=dedup_scan_create(actor=actor).pk)
    assert (scan.auto_merged, scan.held_for_review) == (1, 0)
    merge = Merge.objects.get()
    kept = Customer.objects.get(pk=merge.survivor_id)
    assert kept.lifecycle_stage == "loyal"
    assert sorted(kept.notes.split("\n\n")) == ["乙", "甲"]
