"""Open work items per user: the registry lead assignment counts a member's load with.

A user's open items are the sum over the registered counters (open follow-ups, open deals …).
Each app that owns a kind of open item registers a counter in its AppConfig.ready, so the
assignment app (which reads the total) never imports the apps below it that own the items:
follow-ups are registered by the assignment app itself, deals by the pipeline app when it
lands (`register_open_items("deals", label, count_open_deals)`).

A counter takes a list of user ids and returns {user_id: count} (missing ids count 0), in one
query for all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

Counter = Callable[[list[int]], dict[int, int]]


@dataclass(frozen=True)
class OpenItems:
    key: str
    label: Any
    count: Counter


_COUNTERS: dict[str, OpenItems] = {}


def register_open_items(key: str, label: Any, count: Counter) -> None:
    """Add (or replace) the counter of one kind of open item."""
    _COUNTERS[key] = OpenItems(key=key, label=label, count=count)


def unregister_open_items(key: str) -> None:
    """Forget a counter (tests)."""
    _COUNTERS.pop(key, None)


def open_item_kinds() -> list[OpenItems]:
    return list(_COUNTERS.values())


def open_items(user_ids: Iterable[int]) -> dict[int, int]:
    """Open items per user: the sum over every registered counter (0 for none)."""
    ids = sorted({int(i) for i in user_ids})
    totals = dict.fromkeys(ids, 0)
    if not ids:
        return totals
    for kind in _COUNTERS.values():
        for user_id, count in kind.count(ids).items():
            if user_id in totals:
                totals[user_id] += int(count)
    return totals
