"""Subcommands of `kehu score`: each scoring app registers one (`rfm`, `clv` …) in its
AppConfig.ready(), so the command (in kehu.scoring) reaches apps it may not import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ScoreCommand:
    name: str
    help: str
    add_arguments: Callable[[Any], None]          # (subparser) -> None
    run: Callable[[Any, dict], None]              # (the BaseCommand, options) -> None


_COMMANDS: dict[str, ScoreCommand] = {}


def register_score_command(command: ScoreCommand) -> None:
    _COMMANDS[command.name] = command


def score_commands() -> list[ScoreCommand]:
    return list(_COMMANDS.values())
