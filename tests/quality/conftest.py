"""Data-quality tests: English messages, a data steward and a sales rep."""

import pytest
from django.utils import translation

from kehu.core.actor import Actor
from tests.factories import TeamFactory


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture
def client(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # assert on the English messages
    return client


@pytest.fixture
def english_api(api_client_for):
    """api_client_for, answering in English."""

    def make(user, scopes=("read", "write")):
        client = api_client_for(user, scopes=scopes)
        client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
        return client

    return make


@pytest.fixture
def team(db):
    return TeamFactory()


@pytest.fixture
def steward(make_user):
    return make_user("data_steward")


@pytest.fixture
def rep(make_user, team):
    return make_user("sales_rep", team=team)


@pytest.fixture
def system():
    return Actor.system(via="system")


@pytest.fixture
def as_user():
    def make(user):
        return Actor(user=user, via="web", ip="127.0.0.1")

    return make
