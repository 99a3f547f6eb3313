"""After `kehu privacy erase`, none of the person's values is in any file under KEHU_HOME —
the SQLite database and its WAL, uploads, reports, Huey's queue, logs — and `kehu audit
verify` still passes. Real `kehu` processes on a fresh home (the database file included).
On PostgreSQL (the suite's PG pass) the database is not under KEHU_HOME: the same run on a
scratch database scans the files under KEHU_HOME and every text-like column of every table."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from tests.privacy.person import values
from tests.processes import ONLY_SQLITE, kehu_env, run_kehu

ROOT = str(Path(__file__).resolve().parents[2])

SCRIPT = """
from kehu.accounts.models import User
from kehu.core.actor import Actor
from tests.privacy.person import make_person
admin = User.objects.filter(is_superuser=True).first()
customer_id = make_person(Actor(user=admin, via="cli"), {tmp!r})
# Exports kept under KEHU_HOME/exports (CSV and xlsx: a zip, so its values are compressed).
import os
from django.core.management import call_command
exports = os.path.join(os.environ["KEHU_HOME"], "exports")
os.makedirs(exports, exist_ok=True)
for name in ("客户.csv", "客户.xlsx"):
    call_command("export", os.path.join(exports, name), "--as", admin.username)
print("CUSTOMER", customer_id)
"""


def _forms(value: str) -> list[bytes]:
    return [value.encode("utf-8"), value.encode("gb18030"), json.dumps(value)[1:-1].encode()]


def _contents(data: bytes) -> list[bytes]:
    """The file's bytes, and each member's when it is a zip (xlsx, archives)."""
    import io
    import zipfile

    if data[:4] != b"PK\x03\x04":
        return [data]
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return [data] + [archive.read(info) for info in archive.infolist()]
    except zipfile.BadZipFile:
        return [data]


def _found(home: Path, needles: list[str]) -> list[str]:
    hits = []
    for path in sorted(home.rglob("*")):
        if not path.is_file():
            continue
        parts = _contents(path.read_bytes())
        for needle in needles:
            if any(form in data for form in _forms(needle) for data in parts):
                hits.append(f"{path.relative_to(home)}: {needle}")
    return hits


@ONLY_SQLITE
def test_erase_leaves_no_copy_under_kehu_home_and_the_chain_verifies(tmp_path):
    home = tmp_path / "home"
    env = kehu_env(home)
    env["PYTHONPATH"] = f"{env['PYTHONPATH']}:{ROOT}"
    run_kehu(env, "init")
    made = run_kehu(env, "shell", "-c", SCRIPT.format(tmp=str(tmp_path)))
    customer_id = int(made.stdout.split("CUSTOMER")[-1].split()[0])
    # Before: the values are in the database file (so the scan can see them at all).
    before = _found(home, values())
    assert any(hit.startswith("kehu.sqlite3") for hit in before), before
    # The uploads are encrypted at rest: not even the kept one shows a value.
    assert not [hit for hit in before if hit.startswith("uploads")], before
    # The kept exports do (inside the xlsx too): the erasure must remove them.
    assert {hit.split(":")[0] for hit in before if hit.startswith("exports")} == {
        "exports/客户.csv", "exports/客户.xlsx"}, before

    done = run_kehu(env, "privacy", "erase", str(customer_id), "--reason", "本人要求删除",
                    "--yes")
    assert f"#{customer_id}" in done.stdout
    assert _found(home, values()) == []
    assert run_kehu(env, "audit", "verify").returncode == 0
    # Aggregates stay: the order keeps its amount, the customer its anonymous name.
    with sqlite3.connect(home / "kehu.sqlite3") as db:
        name, status = db.execute("SELECT name, status FROM customers_customer WHERE id = ?",
                                  (customer_id,)).fetchone()
        total = db.execute("SELECT total_amount FROM transactions_order WHERE customer_id = ?",
                           (customer_id,)).fetchone()[0]
    assert (name, status) == (f"已删除客户 #{customer_id}", "deleted")
    assert float(total) == 3998.0
    again = run_kehu(env, "privacy", "erase", str(customer_id), "--reason", "x", "--yes",
                     check=False)
    assert again.returncode != 0


PG = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")


@pytest.fixture
def scratch_pg():
    import psycopg

    base = settings.DATABASES["default"]
    server = f"postgres://{base['USER']}@{base['HOST'] or '127.0.0.1'}:{base['PORT'] or 5432}"
    name = f"kehu_erase_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_columns_holding(url: str, needles: list[str]) -> list[str]:
    """Every table.column (text, varchar, json, jsonb) with a row holding one of the values
    (JSON as text, so an escaped value is found as well)."""
    import psycopg

    hits = []
    with psycopg.connect(url) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' AND data_type IN "
            "('text', 'character varying', 'json', 'jsonb') ORDER BY 1, 2").fetchall()
        patterns = [f"%{form}%" for needle in needles
                    for form in {needle, json.dumps(needle)[1:-1]}]
        for table, column in columns:
            found = conn.execute(
                f'SELECT 1 FROM "{table}" WHERE "{column}"::text LIKE ANY(%s) LIMIT 1',  # noqa: S608
                [patterns]).fetchone()
            if found:
                hits.append(f"{table}.{column}")
    return hits


@pytest.mark.skipif(not PG, reason="the PostgreSQL pass (DATABASE_URL) runs it")
def test_erase_on_postgresql_leaves_no_copy_in_tables_or_files(tmp_path, scratch_pg):
    home = tmp_path / "home"
    env = kehu_env(home, database_url=scratch_pg)
    env["PYTHONPATH"] = f"{env['PYTHONPATH']}:{ROOT}"
    run_kehu(env, "init")
    made = run_kehu(env, "shell", "-c", SCRIPT.format(tmp=str(tmp_path)))
    customer_id = int(made.stdout.split("CUSTOMER")[-1].split()[0])
    assert _pg_columns_holding(scratch_pg, values())  # the scan sees them before
    done = run_kehu(env, "privacy", "erase", str(customer_id), "--reason", "本人要求删除",
                    "--yes")
    assert f"#{customer_id}" in done.stdout
    assert _pg_columns_holding(scratch_pg, values()) == []
    assert _found(home, values()) == []
    assert run_kehu(env, "audit", "verify").returncode == 0
    import psycopg

    with psycopg.connect(scratch_pg) as conn:
        name, status = conn.execute("SELECT name, status FROM customers_customer WHERE id = %s",
                                    [customer_id]).fetchone()
        total = conn.execute("SELECT total_amount FROM transactions_order "
                             "WHERE customer_id = %s", [customer_id]).fetchone()[0]
    assert (name, status) == (f"已删除客户 #{customer_id}", "deleted")
    assert float(total) == 3998.0
