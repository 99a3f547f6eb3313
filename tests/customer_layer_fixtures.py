"""Fixtures for the layers that hang off a customer: a rep with a customer, a colleague with another.

Imported by the conftest of each such layer's tests."""

import pytest
from django.utils import translation

from kehu.core.actor import Actor
from tests.factories import CustomerFactory, TeamFactory


@pytest.fixture(autouse=True)
def _english():
    """Assert on the English messages whatever catalogue is compiled."""
    with translation.override("en"):
        yield


@pytest.fixture
def team(db):
    return TeamFactory()


@pytest.fixture
def rep(make_user, team):
    return make_user("sales_rep", team=team)


@pytest.fixture
def colleague(make_user, team):
    return make_user("sales_rep", team=team)


@pytest.fixture
def customer(rep, team):
    return CustomerFactory(owner=rep, team=team)


@pytest.fixture
def others_customer(colleague, team):
    return CustomerFactory(owner=colleague, team=team)


@pytest.fixture
def actor_for():
    def make(user):
        return Actor(user=user, via="web", ip="127.0.0.1")

    return make
