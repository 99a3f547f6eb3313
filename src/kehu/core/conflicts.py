"""Running a bulk step again when another writer's row makes it fail on a unique constraint."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.db import IntegrityError, transaction

_T = TypeVar("_T")
# How often a bulk step meets a row another writer committed after its lookups before it
# gives up (each attempt's lookups see the rows committed before it).
CONFLICT_ATTEMPTS = 3


def atomic_retrying_conflicts(step: Callable[[], _T]) -> _T:
    """`step()` in one transaction; when it fails on a unique constraint (on PostgreSQL
    another writer can commit, say, the same mobile between a chunk's lookups and its
    inserts; SQLite serialises writers), everything it did is rolled back and it runs
    again. The step must be safe to repeat: it reads what it needs inside."""
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return step()
        except IntegrityError:
            if attempt == CONFLICT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")
