"""The shape of one customer-card timeline entry, shared by every layer that contributes one."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from kehu.core.errors import ValidationFailed


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


# Items at the same instant are ordered by kind, then id, so a page boundary never
# falls between two equal timestamps ambiguously.
KIND_RANK = {"interaction": 0, "event": 1, "order": 2, "ticket": 3}


def timeline_sort_key(item: TimelineItem) -> tuple[dt.datetime, int, int]:
    """Newest-first order of the timeline (sort with reverse=True)."""
    return item.at, KIND_RANK[item.kind], item.object_id


@dataclass(frozen=True)
class TimelineCursor:
    """Where the previous page ended: the last item's (time, kind, id)."""

    at: dt.datetime
    kind: str
    object_id: int

    @classmethod
    def after(cls, item: TimelineItem) -> TimelineCursor:
        return cls(at=item.at, kind=item.kind, object_id=item.object_id)

    def encode(self) -> str:
        return f"{self.at.isoformat()}|{self.kind}|{self.object_id}"

    @classmethod
    def decode(cls, text: str) -> TimelineCursor:
        """Parse an `encode()`d cursor; ValidationFailed on anything else."""
        try:
            at_text, kind, object_id = text.split("|")
            at = dt.datetime.fromisoformat(at_text)
            if kind not in KIND_RANK:
                raise ValueError(kind)
            cursor = cls(at=at if at.tzinfo else at.replace(tzinfo=dt.UTC), kind=kind,
                         object_id=int(object_id))
        except ValueError:
            raise ValidationFailed(_("Invalid timeline cursor."),
                                   details={"cursor": [_("Invalid timeline cursor.")]}) from None
        return cursor

    def older_q(self, *, kind: str, time_field: str) -> Q:
        """Rows of `kind` that come after this cursor in newest-first order."""
        rank, mine = KIND_RANK[kind], KIND_RANK[self.kind]
        if rank < mine:
            return Q(**{f"{time_field}__lte": self.at})
        if rank > mine:
            return Q(**{f"{time_field}__lt": self.at})
        return Q(**{f"{time_field}__lt": self.at}) | Q(**{time_field: self.at, "id__lt": self.object_id})
