"""A saved definition means what it meant when previewed, for every node kind: the preview
count, the saved size, the refreshed size and `kehu segment count` of the stored definition
agree (and agree with the independent oracle), through the API and through the builder page,
which reopens with its day boxes and dates filled. Normalising is idempotent."""

from __future__ import annotations

import csv
import io
import json
import random
from datetime import date, timedelta
from html.parser import HTMLParser
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone, translation

from kehu.core.actor import Actor
from kehu.core.errors import ValidationFailed
from kehu.customers.models import CustomerTag, Tag
from kehu.segments import services
from kehu.segments.definition import validate
from kehu.segments.models import Segment
from kehu.segments.selectors import segment_queryset
from tests.segments.oracle import FIELD_MAKERS, Oracle, random_condition, random_tree

WINDOWED = "within_days", "between"


def behaviour(today):
    """One definition per behaviour kind and window form (keyed for the test ids)."""
    def span(first, last):
        return [(today - timedelta(days=first)).isoformat(),
                (today - timedelta(days=last)).isoformat()]
    return {
        "event_within": {"type": "event", "name": "page_view", "within_days": 7,
                         "where": [{"property": "url", "op": "contains", "value": "products"}]},
        "event_between": {"type": "event", "between": span(20, 5)},
        "event_count_within": {"type": "event", "count": {"op": "gte", "value": 2},
                               "within_days": 12},
        "event_did_not_within": {"type": "event", "name": "cart_add", "did": False,
                                 "within_days": 10},
        "interaction_within": {"type": "interaction", "name": "call", "within_days": 10},
        "interaction_between": {"type": "interaction", "between": span(40, 20)},
        "ticket_within": {"type": "ticket", "name": "complaint", "within_days": 14},
        "ticket_between": {"type": "ticket", "between": span(50, 10)},
        "purchase_product_within": {"type": "purchase", "product": "SKU-A", "within_days": 20},
        "purchase_category_between": {"type": "purchase", "category": "配件",
                                      "between": span(30, 3)},
        "purchase_did_not_within": {"type": "purchase", "did": False, "within_days": 15},
        "purchase_count_within": {"type": "purchase", "count": {"op": "lte", "value": 1},
                                  "within_days": 25},
        "spend_within": {"type": "spend", "op": "gte", "value": 120, "within_days": 20},
        "spend_between": {"type": "spend", "op": "lt", "value": 300, "between": span(45, 5)},
    }


def definitions(today) -> dict[str, dict]:
    """Every node kind: each behaviour kind in a group, a negated group, nested any/all, and
    field conditions of every kind."""
    cases = {key: {"type": "group", "match": "all", "conditions": [node]}
             for key, node in behaviour(today).items()}
    kinds = behaviour(today)
    cases["not_group_within"] = {"type": "group", "match": "all", "conditions": [
        {"type": "not", "condition": {"type": "group", "match": "any", "conditions": [
            kinds["ticket_within"], kinds["spend_within"]]}}]}
    cases["nested_within"] = {"type": "group", "match": "any", "conditions": [
        {"type": "group", "match": "all", "conditions": [
            {"type": "field", "field": "region", "op": "in", "value": ["华东", "华南"]},
            kinds["event_within"]]},
        kinds["interaction_between"]]}
    rng = random.Random(11)
    for index, maker in enumerate(FIELD_MAKERS):
        cases[f"field_{index}"] = {"type": "group", "match": "all",
                                   "conditions": [maker(rng, today)]}
    return cases


def _today(now):
    return timezone.localtime(now).date()


def _without_windows(node):
    if node.get("type") == "group":
        return {**node, "conditions": [_without_windows(c) for c in node["conditions"]]}
    if node.get("type") == "not":
        return {**node, "condition": _without_windows(node["condition"])}
    return {k: v for k, v in node.items() if k not in WINDOWED}


def _ids(user, definition):
    return set(segment_queryset(user=user, definition=definition).values_list("pk", flat=True))


def _cli_count(definition_json: str) -> int:
    out = StringIO()
    call_command("segment", "count", "--definition", "-", stdin=StringIO(definition_json),
                 stdout=out)
    return json.loads(out.getvalue())["count"]


# Idempotence -------------------------------------------------------------------------------


def test_normalising_is_idempotent_for_every_node_kind(world):
    today = _today(world["now"])
    cases = list(definitions(today).values())
    rng = random.Random(5)
    for kind in ("event", "interaction", "ticket", "purchase", "spend"):
        cases += [{"conditions": [random_condition(rng, kind, today)]} for _ in range(20)]
    cases += [random_tree(rng, today) for _ in range(60)]
    for definition in cases:
        tree = validate(definition)
        assert validate(tree) == tree, definition
        for key in WINDOWED:
            # the window the user gave is in the stored tree, under the user's key
            assert _keys(tree).count(key) == _keys(definition).count(key), definition


def _keys(node) -> list[str]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.append(key)
            found += _keys(value)
    elif isinstance(node, list):
        for item in node:
            found += _keys(item)
    return found


def test_unknown_keys_are_refused_with_their_path(db):
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        validate({"conditions": [
            {"type": "event", "name": "page_view", "within_day": 30},
            {"type": "spend", "op": "gte", "value": 1, "window": {"days": 30}},
            {"type": "group", "conditions": [], "limit": 3}]})
    details = caught.value.details
    assert sorted(details) == ["conditions[0].within_day", "conditions[1].window",
                               "conditions[2].limit"]
    assert details["conditions[0].within_day"][0].startswith(
        "Unknown key “within_day” in a “event” condition")


def test_an_unknown_tag_names_the_tag(db):
    Tag.objects.create(name="白金会员")
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        validate({"conditions": [{"field": "tags", "op": "has_any",
                                  "value": ["白金会员", "钻石会员"]}]})
    assert caught.value.details == {"conditions[0].value": ["No tag named “钻石会员”."]}


# Through the API ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(definitions(date.today())))
def test_saved_definition_round_trips_through_the_api(world, api_client_for, case):
    admin = world["admin"]
    today = _today(timezone.now())
    definition = definitions(today)[case]
    client = api_client_for(admin)
    expected = Oracle(timezone.now(), admin.pk).matches(world["people"], definition)
    if any(key in _keys(definition) for key in WINDOWED):
        # the window matters for this data: counting all time would give another answer
        assert Oracle(timezone.now(), admin.pk).matches(
            world["people"], _without_windows(definition)) != expected

    preview = client.post("/api/v1/segments/preview", {"definition": definition},
                          content_type="application/json")
    assert preview.status_code == 200, preview.json()
    assert preview.json()["count"] == len(expected)

    created = client.post("/api/v1/segments", {"name": case, "definition": definition},
                          content_type="application/json")
    assert created.status_code == 201, created.json()
    body = created.json()
    stored = Segment.objects.get(pk=body["id"]).definition
    assert stored == validate(definition) == body["definition"]
    assert validate(stored) == stored
    assert body["size"] == len(expected)

    got = client.get(f"/api/v1/segments/{body['id']}").json()
    assert got["definition"] == stored
    refreshed = client.post(f"/api/v1/segments/{body['id']}/refresh").json()
    assert refreshed["size"] == len(expected)
    members = client.get(f"/api/v1/segments/{body['id']}/members?limit=200").json()
    assert {row["id"] for row in members["items"]} == expected
    assert _cli_count(json.dumps(got["definition"])) == len(expected)

    # Saving the stored definition back (PUT) changes nothing.
    updated = client.put(f"/api/v1/segments/{body['id']}",
                         {"name": case, "definition": got["definition"]},
                         content_type="application/json")
    assert updated.status_code == 200
    assert updated.json()["definition"] == stored and updated.json()["size"] == len(expected)


def test_background_refresh_and_export_keep_the_window(world, client):
    from kehu.segments.tasks import segment_refresh_task, segments_refresh_hourly

    admin = world["admin"]
    definition = definitions(_today(timezone.now()))["ticket_within"]
    segment = services.segment_create(actor=Actor(user=admin), name="近14天投诉",
                                      definition=definition, dynamic=False)
    expected = Oracle(timezone.now(), admin.pk).matches(world["people"], definition)
    assert segment.size == len(expected)

    def members():
        return set(segment.memberships.values_list("customer_id", flat=True))
    Segment.objects.filter(pk=segment.pk).update(computed_at=None)
    assert services.segments_refresh_due()["refreshed"] == 1
    assert Segment.objects.get(pk=segment.pk).size == len(expected) and members() == expected
    segment_refresh_task(segment.pk)  # Huey runs immediately in the tests
    assert members() == expected
    Segment.objects.filter(pk=segment.pk).update(dynamic=True)
    segments_refresh_hourly()
    assert members() == expected
    call_command("segment", "refresh", str(segment.pk), stdout=StringIO())
    assert Segment.objects.get(pk=segment.pk).size == len(expected) and members() == expected

    client.force_login(admin)
    export = client.get(f"/interchange/segments/{segment.pk}/export/?format=csv&cols=name")
    rows = list(csv.reader(io.StringIO(b"".join(export.streaming_content).decode("utf-8-sig"))))
    names = {world["people"][pk]["name"] for pk in expected}
    assert {row[0] for row in rows[1:]} == names and len(rows) - 1 == len(expected)


# Rule-based tags ---------------------------------------------------------------------------


def test_a_rule_tag_on_a_windowed_segment_is_kept_on_exactly_the_members(world):
    admin = world["admin"]
    kinds = behaviour(_today(timezone.now()))
    definition = {"type": "group", "match": "any",
                  "conditions": [kinds["ticket_within"], kinds["spend_within"]]}
    expected = Oracle(timezone.now(), admin.pk).matches(world["people"], definition)
    all_time = Oracle(timezone.now(), admin.pk).matches(world["people"],
                                                        _without_windows(definition))
    assert expected and expected != all_time
    segment = services.segment_create(actor=Actor(user=admin), name="近期投诉或消费",
                                      definition=definition, tag_name="近期活跃")
    tag = Tag.objects.get(name="近期活跃")

    def tagged():
        return set(CustomerTag.objects.filter(tag=tag).values_list("customer_id", flat=True))
    assert tagged() == expected
    services.segment_refresh(actor=Actor(user=admin), segment=segment)
    assert tagged() == expected
    services.segments_refresh_due()
    assert tagged() == expected
    # a segment built on the rule tag sees the same customers
    on_tag = {"conditions": [{"field": "tags", "op": "has_any", "value": ["近期活跃"]}]}
    assert _ids(admin, on_tag) == expected


# Through the builder page ------------------------------------------------------------------


class _FormReader(HTMLParser):
    """The values a browser would post from the builder form (#segment-form)."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str] = {}
        self.inside = False
        self.select: str | None = None
        self.first_option: str | None = None
        self.chosen = False
        self.textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "segment-form":
            self.inside = True
        if not self.inside:
            return
        if tag == "input" and a.get("name") and a.get("type") not in ("submit", "button"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.data[a["name"]] = "on"
            else:
                self.data[a["name"]] = a.get("value") or ""
        elif tag == "select" and a.get("name"):
            self.select, self.first_option, self.chosen = a["name"], None, False
        elif tag == "option" and self.select:
            if self.first_option is None:
                self.first_option = a.get("value", "")
            if "selected" in a:
                self.data[self.select], self.chosen = a.get("value", ""), True
        elif tag == "textarea" and a.get("name"):
            self.textarea = a["name"]
            self.data[self.textarea] = ""

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        if tag == "select" and self.select:
            if not self.chosen:
                self.data[self.select] = self.first_option or ""
            self.select = None
        if tag == "textarea":
            self.textarea = None

    def handle_data(self, data):
        if self.textarea:
            self.data[self.textarea] += data


def _form_of(html: str) -> dict[str, str]:
    reader = _FormReader()
    reader.feed(html)
    return reader.data


@pytest.mark.parametrize("case", sorted(definitions(date.today())))
def test_saved_definition_round_trips_through_the_builder_page(world, client, case):
    admin = world["admin"]
    definition = definitions(_today(timezone.now()))[case]
    client.force_login(admin)
    expected = Oracle(timezone.now(), admin.pk).matches(world["people"], definition)
    segment = services.segment_create(actor=Actor(user=admin), name=case,
                                      definition=definition)
    assert segment.size == len(expected)

    reopened = client.get(f"/segments/builder/?segment={segment.pk}").content.decode()
    form = _form_of(reopened)
    node = definition["conditions"][0]
    if "within_days" in node:
        assert form["r.c0.days"] == str(node["within_days"])
    if "between" in node:
        assert [form["r.c0.from"], form["r.c0.to"]] == node["between"]
    assert f'data-count="{len(expected)}"' in reopened

    preview = client.post("/segments/preview/", form).content.decode()
    assert f'data-count="{len(expected)}"' in preview
    saved = client.post("/segments/save/", {**form, "name": case, "dynamic": "on"})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    again = Segment.objects.get(pk=segment.pk)
    assert again.definition == segment.definition
    assert again.size == len(expected)
