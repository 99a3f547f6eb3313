"""Service-desk fixtures: an agent, a customer, and a clock the services read."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.customer_layer_fixtures import (  # noqa: F401
    _english,
    actor_for,
    colleague,
    customer,
    others_customer,
    rep,
    team,
)

SH = ZoneInfo("Asia/Shanghai")


def at(y, m, d, hh=0, mm=0):
    return dt.datetime(y, m, d, hh, mm, tzinfo=SH)


class Clock:
    def __init__(self, now):
        self.now = now

    def set(self, *args):
        self.now = at(*args) if not isinstance(args[0], dt.datetime) else args[0]
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """clock.set(2026, 3, 2, 11) moves django.utils.timezone.now for every service."""
    from django.utils import timezone

    state = Clock(at(2026, 3, 2, 9))
    monkeypatch.setattr(timezone, "now", lambda: state.now)
    return state


@pytest.fixture
def agent(make_user, team):  # noqa: F811
    return make_user("service_agent", team=team)
