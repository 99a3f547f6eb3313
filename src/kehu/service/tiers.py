"""Where the service desk learns a customer's value tier (from scoring, a layer above it):
scoring registers a source in its AppConfig.ready(); without one every tier is blank."""

from __future__ import annotations

from collections.abc import Callable, Iterable

_SOURCES: list[Callable[[list[int]], dict[int, str]]] = []


def register_tier_source(source: Callable[[list[int]], dict[int, str]]) -> None:
    """`source(customer_ids) -> {customer_id: value tier code}` in one query."""
    if source not in _SOURCES:
        _SOURCES.append(source)


def tiers_of(customer_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(customer_ids))
    found: dict[int, str] = {}
    for source in _SOURCES:
        for start in range(0, len(ids), 5000):
            found.update(source(ids[start:start + 5000]))
    return found
