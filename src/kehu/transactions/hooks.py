"""What higher apps add to ticket writes without transactions importing them (the service
desk's SLA clocks, complaint rules, surveys): a registry filled in their AppConfig.ready().

- a guard `guard(ticket, status) -> dict[str, list[str]]` returns field errors that refuse a
  status change (a complaint closed without its root cause); nothing is written then;
- an after-change hook `after_change(ticket_ids, actor, *, resolved_ids)` runs inside the
  writing service's transaction once the ticket rows, their status history and messages are
  written (clocks recomputed, the survey of a newly resolved ticket sent after commit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

_GUARDS: list[Callable[..., dict[str, list[str]]]] = []
_AFTER_CHANGE: list[Callable[..., Any]] = []


def register_ticket_hooks(*, guard: Callable | None = None,
                          after_change: Callable | None = None) -> None:
    """Add a guard and/or an after-change hook (idempotent for the same function)."""
    if guard is not None and guard not in _GUARDS:
        _GUARDS.append(guard)
    if after_change is not None and after_change not in _AFTER_CHANGE:
        _AFTER_CHANGE.append(after_change)


def guard_errors(ticket, status: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for guard in _GUARDS:
        for field, messages in (guard(ticket, status) or {}).items():
            errors.setdefault(field, []).extend(messages)
    return errors


def after_change(ticket_ids: Iterable[int], actor, *, resolved_ids: Iterable[int] = ()) -> None:
    ids, resolved = sorted(set(ticket_ids)), sorted(set(resolved_ids))
    for hook in _AFTER_CHANGE:
        hook(ids, actor, resolved_ids=resolved)
