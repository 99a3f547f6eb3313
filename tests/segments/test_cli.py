"""`kehu segment count --definition -` reads the definition from standard input, in process
and through the real `kehu` command."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import translation

import kehu
from tests.factories import CustomerFactory

EAST = {"type": "group", "match": "all",
        "conditions": [{"type": "field", "field": "region", "op": "eq", "value": "华东"}]}


@pytest.fixture
def book(db, make_user):
    make_user("admin", username="root", is_superuser=True)
    for region in ("华东", "华东", "华南"):
        CustomerFactory(region=region)


def test_count_reads_standard_input(book, monkeypatch):
    monkeypatch.setattr(sys, "stdin", StringIO(json.dumps(EAST, ensure_ascii=False)))
    out = StringIO()
    call_command("segment", "count", "--definition", "-", stdout=out)
    assert out.getvalue().strip() == '{"count": 2}'
    out = StringIO()
    call_command("segment", "count", "--definition", "-", stdin=StringIO(json.dumps(EAST)),
                 stdout=out)
    assert out.getvalue().strip() == '{"count": 2}'


def test_bad_json_on_standard_input_says_where(book, monkeypatch):
    monkeypatch.setattr(sys, "stdin", StringIO('{"conditions": ['))
    with translation.override("en"), pytest.raises(CommandError) as caught:
        call_command("segment", "count", "--definition", "-")
    assert str(caught.value).startswith("standard input is not JSON: line 1, column 17")


def _kehu(args, home, stdin=None):
    env = {"KEHU_HOME": str(home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
           # this checkout's sources, as the test process imports them; no DATABASE_URL:
           # a fresh SQLite book in `home`, never the test database
           "PYTHONPATH": str(Path(kehu.__file__).resolve().parents[1])}
    return subprocess.run([str(Path(sys.executable).with_name("kehu")), *args], env=env,
                          input=stdin, capture_output=True, text=True, timeout=300)


def test_the_real_command_reads_standard_input(tmp_path):
    loaded = _kehu(["demo", "--customers", "40", "--seed", "3"], tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    definition = {"conditions": [{"type": "purchase", "within_days": 365},
                                 {"field": "kind", "op": "eq", "value": "person"}]}
    path = tmp_path / "buyers.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    from_file = _kehu(["segment", "count", "--definition", str(path)], tmp_path)
    from_stdin = _kehu(["segment", "count", "--definition", "-"], tmp_path,
                       stdin=json.dumps(definition, ensure_ascii=False))
    assert from_stdin.returncode == 0, from_stdin.stderr
    assert from_stdin.stdout.strip() == from_file.stdout.strip()
    assert json.loads(from_stdin.stdout)["count"] > 0
    unknown = _kehu(["segment", "count", "--definition", "-"], tmp_path, stdin=json.dumps(
        {"conditions": [{"field": "tags", "op": "has_any", "value": ["钻石会员"]}]}))
    assert unknown.returncode != 0 and "钻石会员" in unknown.stderr
    assert "Traceback" not in unknown.stderr
