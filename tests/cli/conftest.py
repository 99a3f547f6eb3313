"""Real `kehu` processes on fresh SQLite homes: one `kehu init` per test session, copied."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import kehu

SRC = str(Path(kehu.__file__).resolve().parent.parent)


def kehu_env(home: Path, database_url: str = "", **extra: str) -> dict[str, str]:
    """The environment of a `kehu` child process on `home` (SQLite unless database_url)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(KEHU_HOME=str(home), PYTHONPATH=SRC, DJANGO_SETTINGS_MODULE="kehu.settings", **extra)
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def run_kehu(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "kehu", *args], env=env, capture_output=True,  # noqa: S603
                            text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


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
