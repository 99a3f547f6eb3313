"""The shape of one customer-card timeline entry, shared by every layer that contributes one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TimelineItem:
    """One entry of the card's timeline: an interaction, event, order or ticket.

    Each app builds its own items from its rows; the card merges them by `at`.
    """

    kind: str  # "interaction" | "event" | "order" | "ticket"
    at: dt.datetime
    title: str
    body: str
    meta: dict[str, Any] = field(default_factory=dict)
    object_id: int = 0
