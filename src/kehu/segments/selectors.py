"""Reads of segments: previews of unsaved definitions, saved segments and their members.

Every customer set here is `customers.selectors.customer_queryset(user)` (the caller's live,
in-scope customers) intersected with the compiled definition: a segment can never show a
customer its reader could not open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core import signing
from django.db.models import Prefetch, Q, QuerySet
from django.utils.translation import gettext as _

from kehu.core.errors import NotFound, ValidationFailed
from kehu.customers.models import Customer, CustomerTag
from kehu.customers.selectors import customer_present, customer_queryset
from kehu.segments.compiler import compile_tree, context_for
from kehu.segments.definition import Catalogue, validate
from kehu.segments.models import Segment, SegmentMembership, SegmentSizeSnapshot

SAMPLE_SIZE = 10
MAX_LIMIT = 200
_CURSOR_SALT = "kehu.segments.members"


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[dict[str, Any]]
    definition: dict[str, Any]


def definition_condition(*, user, definition: Any, now: datetime | None = None) -> Q:
    """The definition validated (for this caller) and compiled to a Q over Customer."""
    catalogue = Catalogue.load()
    tree = validate(definition, access=user.access, catalogue=catalogue)
    return compile_tree(tree, fields=catalogue.fields, ctx=context_for(user, now))


def segment_queryset(*, user, definition: Any, now: datetime | None = None
                     ) -> QuerySet[Customer]:
    """Live customers in the user's scope matching the definition (needs segment.view)."""
    user.access.require("segment.view")
    condition = definition_condition(user=user, definition=definition, now=now)
    return customer_queryset(user=user).filter(condition)


def segment_preview(*, user, definition: Any, sample: int = SAMPLE_SIZE) -> Preview:
    """Count and the newest `sample` matching customers, presented (masked) for the user."""
    qs = segment_queryset(user=user, definition=definition)
    count = qs.count()
    rows = list(qs.select_related("owner", "team").prefetch_related(_tags())
                .order_by("-created_at", "-pk")[:sample]) if count else []
    return Preview(count=count, sample=[customer_present(user, c, detail=False) for c in rows],
                   definition=validate(definition, access=user.access))


def _tags():
    return Prefetch("tag_links", queryset=CustomerTag.objects.select_related("tag")
                    .order_by("tag__name"))


def segment_list(*, user) -> QuerySet[Segment]:
    """Every saved segment (segments are shared; their members are always scoped)."""
    user.access.require("segment.view")
    return Segment.objects.select_related("owner", "tag").order_by("name", "id")


def segment_get(*, user, segment_id: int) -> Segment:
    segment = segment_list(user=user).filter(pk=segment_id).first()
    if segment is None:
        raise NotFound()
    return segment


def segment_members_queryset(*, user, segment: Segment) -> QuerySet[Customer]:
    """The segment's materialised members that this user may see, newest first."""
    user.access.require("segment.view")
    members = SegmentMembership.objects.filter(segment=segment).values("customer_id")
    return customer_queryset(user=user).filter(pk__in=members).order_by("-pk")


def segment_member_ids(segment_id: int) -> QuerySet:
    """Ids of a segment's materialised members, as a subquery (the customer list's `segment`
    filter applies it to rows the list has already scoped)."""
    return SegmentMembership.objects.filter(segment_id=segment_id).values("customer_id")


def segment_members_page(*, user, segment: Segment, cursor: str | None = None,
                         limit: int = 50) -> tuple[list[Customer], str | None]:
    """One keyset page of members (by id, descending) and the cursor of the next page."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    qs = segment_members_queryset(user=user, segment=segment)
    if cursor:
        try:
            segment_id, last_id = signing.loads(cursor, salt=_CURSOR_SALT)
        except signing.BadSignature:
            segment_id, last_id = None, None
        if segment_id != segment.pk:
            raise ValidationFailed(details={"cursor": [_("This page link is no longer valid.")]})
        qs = qs.filter(pk__lt=last_id)
    rows = list(qs.select_related("owner", "team").prefetch_related(_tags())[:limit + 1])
    items = rows[:limit]
    following = signing.dumps([segment.pk, items[-1].pk], salt=_CURSOR_SALT) \
        if len(rows) > limit else None
    return items, following


def segment_visible_size(*, user, segment: Segment) -> int:
    return segment_members_queryset(user=user, segment=segment).count()


def segment_history(*, user, segment: Segment, limit: int = 365) -> list[SegmentSizeSnapshot]:
    """The last `limit` computations, oldest first (for the size-over-time chart)."""
    user.access.require("segment.view")
    rows = list(SegmentSizeSnapshot.objects.filter(segment=segment).order_by("-at", "-id")
                [:limit])
    return rows[::-1]


def segments_due() -> QuerySet[Segment]:
    """Segments the periodic job recomputes: every dynamic one, and any never computed (a
    static one saved without computing, or repaired by a migration)."""
    return Segment.objects.filter(Q(dynamic=True) | Q(computed_at__isnull=True)).select_related(
        "owner").order_by("pk")
