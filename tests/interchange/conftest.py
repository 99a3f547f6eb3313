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


def committed_elsewhere(work) -> None:
    """Run `work` as another user's request would: on its own thread, hence its own
    database connection, committed before this returns."""
    import threading

    from django.db import connections

    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # re-raised on the test's thread
            failures.append(exc)
        finally:
            connections.close_all()

    other = threading.Thread(target=run)
    other.start()
    other.join()
    if failures:
        raise failures[0]
