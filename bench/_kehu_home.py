"""Shared by the import benches: a fresh KEHU_HOME, the database to use and the import's
tuning variables, in the environment before Django starts; the closing machine line."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def fresh_home(prefix: str, *, database_url: str = "", chunk: int | None = None,
               workers: int | None = None) -> Path:
    """A new temporary KEHU_HOME (SQLite there, or the EMPTY PostgreSQL database of
    `database_url`), KEHU_IMPORT_CHUNK_ROWS / KEHU_IMPORT_WORKERS when given, and kehu's
    sources importable; returns the home."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["KEHU_HOME"] = str(home)
    os.environ.pop("DATABASE_URL", None)
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    if workers is not None:
        os.environ["KEHU_IMPORT_WORKERS"] = str(workers)
    if chunk is not None:
        os.environ["KEHU_IMPORT_CHUNK_ROWS"] = str(chunk)
    os.environ["DJANGO_SETTINGS_MODULE"] = "kehu.settings"
    sys.path.insert(0, str(ROOT / "src"))
    return home


def print_machine(home: Path) -> None:
    """The closing lines of a bench: the machine, its load (the cores are shared), the home."""
    load = os.getloadavg()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (shared machine)")
    print(f"KEHU_HOME: {home} (delete it when done)")
