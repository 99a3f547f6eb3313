"""Everything under KEHU_HOME is private (issue 19, item 8): files 600, folders 700, from a
fresh `kehu init` on, and `kehu init` tightens what an older kehu left readable."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

SOURCES = str(Path(__file__).resolve().parents[2] / "src")


def kehu(home: Path, *args: str, umask: int = 0o022) -> subprocess.CompletedProcess:
    """The `kehu` command in a fresh process, as a shell with the usual umask 022 starts it."""
    env = {"KEHU_HOME": str(home), "PATH": "/usr/bin:/bin", "PYTHONPATH": SOURCES,
           "DJANGO_SETTINGS_MODULE": "kehu.settings"}
    return subprocess.run(
        [sys.executable, "-c", f"import os, sys; os.umask({umask}); from kehu.cli import main; "
                               "main(sys.argv[1:])", *args],
        env=env, capture_output=True, text=True, timeout=300, check=False)


def modes(home: Path) -> dict[str, str]:
    found = {".": oct(home.stat().st_mode & 0o777)}
    for path in home.rglob("*"):
        found[str(path.relative_to(home))] = oct(path.stat().st_mode & 0o777)
    return found


def test_a_fresh_home_is_private_database_wal_and_all(tmp_path):
    home = tmp_path / "home"
    done = kehu(home, "init")
    assert done.returncode == 0, done.stderr
    # Open the database the way the server does, so its WAL and SHM files exist too.
    done = kehu(home, "shell", "-c",
                "from kehu.accounts.models import User; User.objects.count(); "
                "from kehu.interchange.services import _imports_dir; _imports_dir(); "
                "from django.db import connection; c = connection.cursor(); "
                "c.execute('CREATE TABLE IF NOT EXISTS probe (x)'); "
                "c.execute('INSERT INTO probe VALUES (1)'); import os; "
                "from django.conf import settings; "
                "print([oct(os.stat(f'{settings.KEHU_HOME}/kehu.sqlite3{s}').st_mode & 0o777) "
                "for s in ('-wal', '-shm')])")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "['0o600', '0o600']"  # connection open
    found = modes(home)
    assert "kehu.sqlite3" in found and "secret_key" in found and "encryption_key" in found
    assert "uploads/imports" in found
    for name, mode in found.items():
        expected = "0o700" if (home / name).is_dir() else "0o600"
        assert mode == expected, (name, mode)


def test_init_makes_an_older_home_private(tmp_path):
    home = tmp_path / "home"
    assert kehu(home, "init").returncode == 0
    imports = home / "uploads" / "imports"
    imports.mkdir(parents=True, exist_ok=True)
    upload = imports / "old.csv"
    upload.write_text("客户名称\n张三\n")
    for path in (home, home / "uploads", imports):
        path.chmod(0o755)
    for path in (upload, home / "kehu.sqlite3"):
        path.chmod(0o644)
    sqlite3.connect(home / "kehu.sqlite3").close()
    done = kehu(home, "init")
    assert done.returncode == 0, done.stderr
    assert "readable by their owner only" in done.stdout or "仅所有者可读" in done.stdout
    for name, mode in modes(home).items():
        assert mode == ("0o700" if (home / name).is_dir() else "0o600"), (name, mode)
    assert os.access(home / "kehu.sqlite3", os.R_OK)
