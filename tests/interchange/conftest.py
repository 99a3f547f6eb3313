"""Shared by the interchange tests: uploads go to a per-test media folder; an admin actor."""

from __future__ import annotations

import pytest

from kehu.core.actor import Actor


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def actor(admin_user):
    return Actor(user=admin_user, via="web")
