"""Real `kehu` processes on fresh SQLite homes: one `kehu init` per test session, copied."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.processes import kehu_env, run_kehu


@pytest.fixture(scope="session")
def _initialized_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("kehu-initialized")
    run_kehu(kehu_env(home), "init")
    return home


@pytest.fixture
def initialized_home(_initialized_home, tmp_path) -> Path:
    """A migrated SQLite home with its admin, keys and audit chain, private to the test."""
    home = tmp_path / "home"
    shutil.copytree(_initialized_home, home, ignore=shutil.ignore_patterns("huey.sqlite3*", "static"))
    return home
