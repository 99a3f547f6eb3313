"""Shared fixtures of the rules engine's tests: an administrator, a rep with a manager, and
helpers that deliver events to the rules subscriber and read the runs."""

from __future__ import annotations

import pytest

from kehu.automation import engine
from kehu.automation.models import RuleRun
from kehu.core import events
from kehu.core.actor import Actor
from tests.factories import TeamFactory, create_customer


@pytest.fixture
def people(db, make_user):
    team = TeamFactory(name="华东组")
    admin = make_user("admin", username="root", is_superuser=True)
    boss = make_user("sales_manager", username="boss", team=team)
    rep = make_user("sales_rep", username="rep", team=team)
    team.managers.add(boss)
    engine.invalidate()
    return {"admin": admin, "boss": boss, "rep": rep, "team": team,
            "actor": Actor(user=admin)}


def deliver() -> int:
    """Hand every committed event to the rules subscriber (what the worker does)."""
    engine.invalidate()
    return events.dispatch(only=["automation.rules"])


def runs(rule, **filters) -> list[RuleRun]:
    return list(RuleRun.objects.filter(rule=rule, **filters).order_by("pk"))


def customer(owner=None, **fields):
    return create_customer(owner=owner, **fields)


ALL = {"type": "group", "match": "all", "conditions": []}
TASK = {"kind": "follow_up", "to": "owner", "title": "跟进 {{ customer.name }}", "due_days": 2}
