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
    execute_from_command_line(["kehu", *args])
