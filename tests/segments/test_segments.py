"""Saved segments, refresh, rule tags, validation paths, permissions, API and CLI."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import translation

from kehu.core.actor import Actor
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.customers.models import CustomerTag, Tag
from kehu.segments import services
from kehu.segments.definition import validate
from kehu.segments.models import Segment, SegmentMembership, SegmentSizeSnapshot
from tests.factories import CustomerFactory, TeamFactory
from tests.unchanged import db_snapshot

EAST = {"type": "group", "match": "all",
        "conditions": [{"type": "field", "field": "region", "op": "eq", "value": "华东"}]}


@pytest.fixture
def people(db, make_user):
    team = TeamFactory()
    marketer = make_user("marketer", username="mkt")
    rep = make_user("sales_rep", username="rep", team=team)
    east = [CustomerFactory(region="华东", owner=rep if i == 0 else None) for i in range(3)]
    south = [CustomerFactory(region="华南") for _ in range(2)]
    return {"marketer": marketer, "rep": rep, "east": east, "south": south}


def test_errors_name_the_path_of_the_bad_node(db):
    definition = {"type": "group", "match": "all", "conditions": [
        {"type": "field", "field": "region", "op": "eq", "value": "华东"},
        {"type": "group", "match": "any", "conditions": [
            {"type": "field", "field": "nope", "op": "eq", "value": 1},
            {"type": "purchase", "within_days": 0}]},
        {"type": "field", "field": "quality_score", "op": "gt", "value": "high"},
        {"type": "not", "condition": {"type": "event", "count": {"op": "gte", "value": -1}}},
        {"type": "field", "field": "region", "op": "eq", "value": "火星"},
    ]}
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        validate(definition)
    details = caught.value.details
    assert sorted(details) == ["conditions[1].conditions[0].field",
                               "conditions[1].conditions[1].within_days",
                               "conditions[2].value", "conditions[3].condition.count.value",
                               "conditions[4].value"]
    assert details["conditions[2].value"] == ["Enter a number."]
    assert details["conditions[1].conditions[0].field"] == ["Unknown field “nope”."]


def test_hidden_fields_cannot_be_filtered_on(db, make_user):
    from kehu.accounts.models import Role

    role = Role.objects.get(code="read_only")
    role.field_permissions = {"customer.birthday": "hidden"}
    role.save()
    viewer = make_user("read_only")
    with pytest.raises(ValidationFailed) as caught:
        validate({"conditions": [{"field": "birthday", "op": "anniversary_next_days",
                                  "value": 7}]}, access=viewer.access)
    assert list(caught.value.details) == ["conditions[0].field"]


def test_create_computes_members_history_and_audit(people):
    actor = Actor(user=people["marketer"])
    segment = services.segment_create(actor=actor, name="华东客户", definition=EAST)
    assert segment.size == 3
    assert set(SegmentMembership.objects.filter(segment=segment)
               .values_list("customer_id", flat=True)) == {c.pk for c in people["east"]}
    people["east"][1].region = "华南"
    people["east"][1].save()
    services.segment_refresh(actor=actor, segment=segment)
    snaps = list(SegmentSizeSnapshot.objects.filter(segment=segment).values_list(
        "size", "added", "removed"))
    assert snaps == [(3, 3, 0), (2, 0, 1)]
    assert list(AuditEntry.objects.filter(object_type="segment").values_list(
        "action", flat=True).order_by("seq")) == ["segment.create", "segment.refresh",
                                                  "segment.refresh"]


def test_members_are_computed_as_the_owner_and_read_in_the_readers_scope(people):
    from kehu.segments.selectors import segment_members_queryset

    segment = services.segment_create(actor=Actor(user=people["marketer"]), name="东",
                                      definition=EAST)
    rep_sees = set(segment_members_queryset(user=people["rep"], segment=segment)
                   .values_list("pk", flat=True))
    assert rep_sees == {people["east"][0].pk}


def test_rule_tag_follows_the_segment(people):
    actor = Actor(user=people["marketer"])
    stray = people["south"][0]
    tag = Tag.objects.create(name="华东客户")
    CustomerTag.objects.create(customer=stray, tag=tag)
    segment = services.segment_create(actor=actor, name="华东", definition=EAST,
                                      tag_name="华东客户")
    tagged = set(CustomerTag.objects.filter(tag=tag).values_list("customer_id", flat=True))
    assert tagged == {c.pk for c in people["east"]}
    entry = AuditEntry.objects.get(action="tag.rule_sync")
    assert entry.changes["tagged"] == 3 and entry.changes["untagged"] == 1
    assert entry.changes["untagged_ids"] == [stray.pk]
    # a rule tag never depends on itself
    with pytest.raises(ValidationFailed) as caught:
        services.segment_update(actor=actor, segment=segment, name="华东", tag_name="华东客户",
                                definition={"conditions": [{"field": "tags", "op": "has_any",
                                                            "value": "华东客户"}]})
    assert list(caught.value.details) == ["tag"]


def test_rule_tags_need_the_all_records_scope(people, make_user):
    manager = make_user("sales_manager", team=TeamFactory())
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        services.segment_create(actor=Actor(user=manager), name="x", definition=EAST,
                                tag_name="东")
    assert not Segment.objects.exists()
    assert db_snapshot() == before


def test_without_segment_manage_nothing_is_saved(people, make_user):
    viewer = make_user("read_only")
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        services.segment_create(actor=Actor(user=viewer), name="x", definition=EAST)
    assert not Segment.objects.exists()
    assert db_snapshot() == before


def test_api_crud_preview_members(people, api_client_for, make_user):
    client = api_client_for(people["marketer"])
    preview = client.post("/api/v1/segments/preview", {"definition": EAST},
                          content_type="application/json")
    assert preview.status_code == 200 and preview.json()["count"] == 3
    assert len(preview.json()["sample"]) == 3
    bad = client.post("/api/v1/segments/preview", {"definition": {"conditions": [
        {"field": "region", "op": "gt", "value": 1}]}}, content_type="application/json")
    assert bad.status_code == 422 and list(bad.json()["details"]) == ["conditions[0].op"]
    created = client.post("/api/v1/segments", {"name": "东", "definition": EAST},
                          content_type="application/json")
    assert created.status_code == 201 and created.json()["size"] == 3
    segment_id = created.json()["id"]
    first = client.get(f"/api/v1/segments/{segment_id}/members?limit=2").json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = client.get(f"/api/v1/segments/{segment_id}/members?limit=2&cursor="
                        f"{first['next_cursor']}").json()
    ids = [c["id"] for c in first["items"] + second["items"]]
    assert ids == sorted((c.pk for c in people["east"]), reverse=True)
    assert second["next_cursor"] is None
    rep_client = api_client_for(people["rep"])
    rep_preview = rep_client.post("/api/v1/segments/preview", {"definition": EAST},
                                  content_type="application/json").json()
    assert rep_preview["count"] == 1
    assert rep_client.delete(f"/api/v1/segments/{segment_id}").status_code == 403
    assert client.delete(f"/api/v1/segments/{segment_id}").status_code == 204
    assert not Segment.objects.exists()


def test_cli_count_prints_exactly_the_count(people, tmp_path, admin_user):
    path = tmp_path / "east.json"
    path.write_text(json.dumps(EAST), encoding="utf-8")
    out = StringIO()
    call_command("segment", "count", "--definition", str(path), stdout=out)
    assert out.getvalue().strip() == '{"count": 3}'
    out = StringIO()
    call_command("segment", "count", "--definition", str(path), "--user", "rep", stdout=out)
    assert out.getvalue().strip() == '{"count": 1}'


def test_rfm_value_fields(people):
    from django.utils import timezone

    from kehu.scoring.models import CustomerValue
    from kehu.segments.selectors import segment_queryset

    east = people["east"]
    now = timezone.now()
    CustomerValue.objects.create(customer=east[0], r_score=5, f_score=4, m_score=5,
                                 rfm_segment="champions", value_tier="high_value", scored_at=now)
    CustomerValue.objects.create(customer=east[1], r_score=1, f_score=1, m_score=2,
                                 rfm_segment="hibernating", value_tier="dormant", scored_at=now)

    def ids(condition):
        return set(segment_queryset(user=people["marketer"], definition={
            "conditions": [condition]}).values_list("pk", flat=True))
    assert ids({"field": "value_tier", "op": "eq", "value": "high_value"}) == {east[0].pk}
    assert ids({"field": "r_score", "op": "gte", "value": 4}) == {east[0].pk}
    assert ids({"field": "rfm_segment", "op": "is_set"}) == {east[0].pk, east[1].pk}
    everyone = {c.pk for c in east + people["south"]}
    assert ids({"field": "value_tier", "op": "ne", "value": "dormant"}) == everyone - {east[1].pk}
    assert ids({"field": "rfm_segment", "op": "is_not_set"}) == everyone - {east[0].pk,
                                                                            east[1].pk}
