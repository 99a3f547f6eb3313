"""The `kehu` command: Django management underneath, with kehu's own commands on top."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv[1:] if argv is None else argv)
    # Which log file this process writes (KEHU_HOME/logs/kehu-<role>.log).
    role = {"serve": "web", "runserver": "web", "worker": "worker", "run_huey": "worker"}
    os.environ.setdefault("KEHU_PROCESS_ROLE", role.get(args[0] if args else "", "cli"))
    if args and args[0] == "serve":
        _prepare_multiprocess_metrics()
    execute_from_command_line(["kehu", *args])


def _prepare_multiprocess_metrics() -> None:
    """The web processes (and the worker) of one server add up their counters in files under
    KEHU_HOME/metrics, emptied at each start; must happen before the client is imported."""
    import shutil
    from pathlib import Path

    home = Path(os.environ.get("KEHU_HOME") or Path.cwd() / "var").resolve()
    directory = home / "metrics"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, mode=0o700)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(directory))
