"""The segment page reads its definition out in the user's language instead of JSON: every
node kind, with labels for codes and names for users, and the window kept."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from kehu.core.actor import Actor
from kehu.segments import services
from kehu.segments.definition import validate
from kehu.segments.describe import describe, describe_text

pytestmark = pytest.mark.django_db


def _text(definition) -> str:
    with translation.override("zh-hans"):
        return describe_text(validate(definition))


def test_every_node_kind_reads_as_a_sentence(make_user):
    rep = make_user("sales_rep", first_name="", last_name="", username="lina")
    definition = {"type": "group", "match": "all", "conditions": [
        {"type": "field", "field": "region", "op": "eq", "value": "华东"},
        {"type": "field", "field": "lifecycle_stage", "op": "in", "value": ["lead", "customer"]},
        {"type": "field", "field": "owner", "op": "eq", "value": rep.pk},
        {"type": "field", "field": "birthday", "op": "anniversary_next_days", "value": 7},
        {"type": "interaction", "name": "call", "did": False, "within_days": 30},
        {"type": "ticket", "name": "complaint", "within_days": 30},
        {"type": "purchase", "product": "SKU-A", "count": {"op": "gte", "value": 2},
         "between": ["2026-01-01", "2026-03-31"]},
        {"type": "spend", "op": "gte", "value": 5000, "within_days": 365},
        {"type": "not", "condition": {"type": "group", "match": "any", "conditions": [
            {"type": "field", "field": "kind", "op": "eq", "value": "organisation"}]}},
    ]}
    text = _text(definition)
    for part in ("华东", "潜在", "成交", str(rep), "电话", "投诉", "近 30 天", "365", "5000",
                 "SKU-A", "2026-01-01", "2026-03-31", "未来 7 天", "以下全部条件", "不满足"):
        assert part in text, (part, text)
    # Codes never show where a label exists.
    for code in ("lifecycle_stage", "lead", "organisation", "complaint", "anniversary_next_days",
                 "in_last_days", "gte"):
        assert code not in text, (code, text)


def test_an_empty_definition_is_all_customers():
    with translation.override("en"):
        assert describe(validate({"type": "group", "match": "all", "conditions": []})) == [
            {"text": "All customers"}]


def test_the_segment_page_shows_the_saved_definition_with_its_window(admin_user, client):
    segment = services.segment_create(
        actor=Actor(user=admin_user, via="web"), name="近30天有投诉",
        definition={"type": "group", "match": "all", "conditions": [
            {"type": "ticket", "name": "complaint", "within_days": 30}]})
    client.force_login(admin_user)
    with translation.override("en"):
        page = client.get(reverse("segments:detail", args=[segment.pk]),
                          HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert page.status_code == 200
    assert "in the last 30 days" in html and "Complaint" in html
