"""Shared fixtures: users in every role, API clients, fast hashing, Huey in immediate mode."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("KEHU_HOME", tempfile.mkdtemp(prefix="kehu-test-"))

import pytest  # noqa: E402

from tests.factories import ApiKeyFactory, UserFactory  # noqa: E402


@pytest.fixture(autouse=True)
def _fast_and_immediate(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Two-factor sign-in is tested on its own (tests/accounts/test_two_factor.py); elsewhere
    # the administrators that tests sign in as would be sent to set it up.
    settings.KEHU_2FA_ENFORCED = False
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    yield


@pytest.fixture
def make_user(db):
    """make_user("sales_rep", team=t) -> a user with that built-in role."""

    def make(role: str | None = "read_only", **kwargs):
        return UserFactory(role_code=role, **kwargs)

    return make


@pytest.fixture
def admin_user(make_user):
    return make_user("admin", username="root", is_superuser=True)


@pytest.fixture
def api_client_for(db, client):
    """api_client_for(user, scopes=("read", "write")) -> a Client sending that user's bearer key."""
    from django.test import Client

    def make(user, scopes=("read", "write")):
        _key, token = ApiKeyFactory.issue(user=user, scopes=scopes)
        return Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    return make


@pytest.fixture
def subscribed():
    """subscribed(patterns, handler, name=…) for the test; forgotten afterwards."""
    from kehu.core import events

    names = []

    def make(patterns, handler, *, name, max_attempts=None):
        names.append(name)
        return events.subscribe(patterns, handler, name=name, max_attempts=max_attempts)

    yield make
    for name in names:
        events.unsubscribe(name)
