"""`kehu backup` / `kehu restore`: a round trip gives back every table, row for row, and an
audit chain that still verifies. Real processes: on SQLite always, on PostgreSQL when the
suite runs there (a scratch database of its own on the same server)."""

from __future__ import annotations

import sqlite3
import stat
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from tests.processes import ONLY_SQLITE
from tests.processes import kehu_env as _env
from tests.processes import run_kehu as _kehu

PG = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


def _dump_sqlite(path: Path) -> dict[str, list]:
    with sqlite3.connect(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                             "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}  # noqa: S608


def _dump_pg(url: str) -> dict[str, list]:
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public' "
                                             "ORDER BY tablename")]
        return {t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"'))) for t in tables}  # noqa: S608


def _populate(env: dict, *, init: bool = True) -> None:
    if init:
        _kehu(env, "init")
    _kehu(env, "createuser", "wangfang", "--role", "sales_rep", "--generate-password")
    _kehu(env, "apikey", "create", "wangfang", "--scopes", "read")


@pytest.fixture
def scratch_pg():
    """Two fresh PostgreSQL databases on the suite's server (source and restore target)."""
    base = settings.DATABASES["default"]
    server = f"postgres://{base['USER']}@{base['HOST'] or '127.0.0.1'}:{base['PORT'] or 5432}"
    names = [f"kehu_backup_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    yield [f"{server}/{name}" for name in names]
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@ONLY_SQLITE
def test_sqlite_backup_restore_round_trip(tmp_path, initialized_home):
    source_home, target_home = initialized_home, tmp_path / "target"
    source, target = _env(source_home), _env(target_home)
    _populate(source, init=False)
    (source_home / "uploads" / "imports").mkdir(parents=True, exist_ok=True)
    (source_home / "uploads" / "imports" / "kept.csv").write_text("姓名\n张伟\n", encoding="utf-8")
    archive = tmp_path / "kehu.tar.gz"
    out = _kehu(source, "backup", str(archive))
    assert str(archive) in out.stdout
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600

    _kehu(target, "restore", str(archive))  # an empty home needs no --force
    refused = _kehu(target, "restore", str(archive), check=False)
    assert refused.returncode != 0  # now it holds data: replacing it must be asked for
    assert "--force" in refused.stderr
    _kehu(target, "restore", str(archive), "--force")

    assert _dump_sqlite(target_home / "kehu.sqlite3") == _dump_sqlite(source_home / "kehu.sqlite3")
    for key in ("secret_key", "encryption_key"):
        assert (target_home / key).read_bytes() == (source_home / key).read_bytes()
        assert stat.S_IMODE((target_home / key).stat().st_mode) == 0o600
    assert (target_home / "uploads" / "imports" / "kept.csv").read_text(encoding="utf-8") == "姓名\n张伟\n"
    verify = _kehu(target, "audit", "verify")
    assert verify.returncode == 0


@pytest.mark.skipif(not PG, reason="the suite runs on SQLite; the PostgreSQL round trip needs DATABASE_URL")
def test_postgresql_backup_restore_round_trip(tmp_path, scratch_pg):
    source_url, target_url = scratch_pg
    source = _env(tmp_path / "source", source_url)
    target = _env(tmp_path / "target", target_url)
    _populate(source)
    archive = tmp_path / "kehu.tar.gz"
    _kehu(source, "backup", str(archive))
    _kehu(target, "restore", str(archive))  # an empty database needs no --force
    assert _dump_pg(target_url) == _dump_pg(source_url)
    _kehu(target, "audit", "verify")
    wrong_kind = _kehu(_env(tmp_path / "sqlite"), "restore", str(archive), "--force", check=False)
    assert wrong_kind.returncode != 0
    assert "postgresql" in wrong_kind.stderr
