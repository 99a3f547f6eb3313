from __future__ import annotations

import pytest
from django.utils import timezone

from tests.factories import TeamFactory
from tests.segments.oracle import build


@pytest.fixture
def world(db, make_user):
    """Two teams, four users and 80 generated customers with behaviour, as rows and as the
    oracle's plain-Python view."""
    north, south = TeamFactory(name="华北组"), TeamFactory(name="华东组")
    admin = make_user("admin", username="root", is_superuser=True)
    marketer = make_user("marketer", username="mkt")
    rep = make_user("sales_rep", username="rep", team=north)
    manager = make_user("sales_manager", username="boss", team=south)
    now = timezone.now()
    people = build(20260501, customers=80, users=[rep, manager, marketer], teams=[north, south],
                   now=now)
    return {"admin": admin, "marketer": marketer, "rep": rep, "manager": manager, "now": now,
            "people": people, "teams": (north, south)}
