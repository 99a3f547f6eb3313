"""The compiler against an independent plain-Python evaluation, condition kind by kind and
nested, on generated data (seeded, so a failure replays)."""

from __future__ import annotations

import random

import pytest
from django.utils import timezone

from kehu.segments.selectors import segment_queryset
from tests.segments.oracle import FIELD_MAKERS, Oracle, random_condition, random_tree


def _check(world, definition, user_key="admin"):
    user = world[user_key]
    got = set(segment_queryset(user=user, definition=definition, now=world["now"])
              .values_list("pk", flat=True))
    expected = Oracle(world["now"], user.pk).matches(world["people"], definition)
    if user_key != "admin":
        access = user.access
        expected = {pk for pk in expected if access.may_see_record(
            owner_id=world["people"][pk]["owner"], team_id=world["people"][pk]["team"])}
    assert got == expected, definition
    return got


def _group(*conditions, match="all"):
    return {"type": "group", "match": match, "conditions": list(conditions)}


@pytest.mark.parametrize("maker", range(len(FIELD_MAKERS)))
def test_each_field_condition_matches_the_oracle(world, maker):
    rng = random.Random(maker)
    today = timezone.localtime(world["now"]).date()
    for _ in range(4):
        _check(world, _group(FIELD_MAKERS[maker](rng, today)))


@pytest.mark.parametrize("kind", ["event", "interaction", "ticket", "purchase", "spend"])
def test_each_behaviour_condition_matches_the_oracle(world, kind):
    rng = random.Random(kind)
    today = timezone.localtime(world["now"]).date()
    for _ in range(25):
        _check(world, _group(random_condition(rng, kind, today)))


@pytest.mark.parametrize("seed", range(12))
def test_nested_and_or_not_match_the_oracle(world, seed):
    rng = random.Random(1000 + seed)
    today = timezone.localtime(world["now"]).date()
    for _ in range(5):
        _check(world, random_tree(rng, today))


def test_results_are_always_inside_the_callers_scope(world):
    rng = random.Random(7)
    today = timezone.localtime(world["now"]).date()
    for user_key in ("rep", "manager"):
        for _ in range(6):
            _check(world, random_tree(rng, today), user_key=user_key)
    everything = _group()
    assert _check(world, everything, "rep") < _check(world, everything)


def test_owner_me_is_the_caller(world):
    got = _check(world, _group({"type": "field", "field": "owner", "op": "eq", "value": "me"}),
                 "manager")
    assert got and all(world["people"][pk]["owner"] == world["manager"].pk for pk in got)


def test_the_seeds_example_segment(world):
    definition = _group(
        {"type": "field", "field": "region", "op": "eq", "value": "华东"},
        {"type": "purchase", "product": "SKU-A", "within_days": 30},
        {"type": "event", "name": "page_view", "within_days": 30,
         "where": [{"property": "url", "op": "contains", "value": "/products/b/accessories"}]})
    _check(world, definition)
