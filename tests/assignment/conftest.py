from __future__ import annotations

import pytest

from kehu.core.actor import Actor
from tests.factories import CustomerFactory, TeamFactory, UserFactory

SYSTEM = Actor.system(via="system")
EAST = {"type": "group", "match": "all", "conditions": [
    {"type": "field", "field": "region", "op": "eq", "value": "华东"}]}


@pytest.fixture
def team(db):
    return TeamFactory(name="华东销售")


@pytest.fixture
def members(team):
    """Three reps in the team, ids ascending: A < B < C."""
    return [UserFactory(role_code="sales_rep", team=team, username=f"rep{x}",
                        display_name=name) for x, name in (("a", "张伟"), ("b", "李娜"),
                                                            ("c", "王芳"))]


@pytest.fixture
def make_rule(db):
    from kehu.assignment.services import assignment_rule_save

    def make(**kwargs):
        kwargs.setdefault("name", "华东区")
        kwargs.setdefault("condition", EAST)
        kwargs.setdefault("method", "round_robin")
        kwargs.setdefault("team", None)
        return assignment_rule_save(actor=SYSTEM, **kwargs)
    return make


@pytest.fixture
def east_customers(db):
    def make(n, **fields):
        fields.setdefault("region", "华东")
        return [CustomerFactory(**fields) for _ in range(n)]
    return make
