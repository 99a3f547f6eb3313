"""API: saved segments (CRUD, refresh), previews of unsaved definitions and members.

Definitions are the JSON language of docs/segments.md; an invalid one answers 422 with each
bad node's path in `details` (e.g. `definition.conditions[2].value`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Query, Router, Schema, Status

from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Flag, Id, Input, Limit
from kehu.customers.api import CustomerRowOut
from kehu.customers.selectors import customer_present
from kehu.segments import selectors, services

router = Router(tags=["segments"])


class DefinitionIn(Input):
    definition: dict[str, Any] = Field(..., description="A group node; see docs/segments.md.")


class SegmentIn(DefinitionIn):
    name: str
    description: str = ""
    dynamic: Flag = True
    tag: str | None = Field(None, description="Make it a rule-based tag with this name.")


class PreviewOut(Schema):
    count: int
    sample: list[CustomerRowOut]


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    definition: dict[str, Any]
    dynamic: bool
    owner: dict[str, Any] | None
    tag: str | None
    size: int | None = Field(None, description="Members as of the last computation "
                                               "(the owner's view).")
    computed_at: datetime | None
    created_at: datetime
    updated_at: datetime


class MembersOut(Schema):
    items: list[CustomerRowOut]
    next_cursor: str | None


class MembersQuery(Schema):
    cursor: str | None = None
    limit: Limit = 50


def _out(segment) -> dict[str, Any]:
    return {"id": segment.pk, "name": segment.name, "description": segment.description,
            "definition": segment.definition, "dynamic": segment.dynamic,
            "owner": {"id": segment.owner.pk, "name": str(segment.owner)}
            if segment.owner_id else None,
            "tag": segment.tag.name if segment.tag_id else None, "size": segment.size,
            "computed_at": segment.computed_at, "created_at": segment.created_at,
            "updated_at": segment.updated_at}


@router.post("/segments/preview", response={200: PreviewOut, **ERROR_RESPONSES},
             summary="Count and sample an unsaved definition")
def preview(request, payload: DefinitionIn):
    """Needs `segment.view`; counts only customers in the caller's record scope."""
    result = selectors.segment_preview(user=request.user, definition=payload.definition)
    return {"count": result.count, "sample": result.sample}


@router.get("/segments", response={200: list[SegmentOut], **ERROR_RESPONSES},
            summary="List saved segments")
def list_segments(request):
    return [_out(s) for s in selectors.segment_list(user=request.user)]


@router.post("/segments", response={201: SegmentOut, **ERROR_RESPONSES},
             summary="Save a segment (members computed at once)")
def create_segment(request, payload: SegmentIn):
    segment = services.segment_create(
        actor=actor_of(request), name=payload.name, description=payload.description,
        definition=payload.definition, dynamic=payload.dynamic, tag_name=payload.tag)
    return Status(201, _out(selectors.segment_get(user=request.user, segment_id=segment.pk)))


@router.get("/segments/{segment_id}", response={200: SegmentOut, **ERROR_RESPONSES},
            summary="Read a segment")
def get_segment(request, segment_id: Id):
    return _out(selectors.segment_get(user=request.user, segment_id=segment_id))


@router.put("/segments/{segment_id}", response={200: SegmentOut, **ERROR_RESPONSES},
            summary="Replace a segment's definition and settings")
def update_segment(request, segment_id: Id, payload: SegmentIn):
    segment = selectors.segment_get(user=request.user, segment_id=segment_id)
    services.segment_update(actor=actor_of(request), segment=segment, name=payload.name,
                            description=payload.description, definition=payload.definition,
                            dynamic=payload.dynamic, tag_name=payload.tag)
    return _out(selectors.segment_get(user=request.user, segment_id=segment_id))


@router.delete("/segments/{segment_id}", response={204: None, **ERROR_RESPONSES},
               summary="Delete a segment")
def delete_segment(request, segment_id: Id):
    segment = selectors.segment_get(user=request.user, segment_id=segment_id)
    services.segment_delete(actor=actor_of(request), segment=segment)
    return Status(204, None)


@router.post("/segments/{segment_id}/refresh", response={200: SegmentOut, **ERROR_RESPONSES},
             summary="Recompute a segment's members now")
def refresh_segment(request, segment_id: Id):
    segment = selectors.segment_get(user=request.user, segment_id=segment_id)
    services.segment_refresh(actor=actor_of(request), segment=segment)
    return _out(selectors.segment_get(user=request.user, segment_id=segment_id))


@router.get("/segments/{segment_id}/members", response={200: MembersOut, **ERROR_RESPONSES},
            summary="Members of a segment (keyset paged)")
def members(request, segment_id: Id, query: Query[MembersQuery]):
    """The members as of the last computation that the caller may see, newest id first;
    pass `next_cursor` back as `cursor` for the next page."""
    segment = selectors.segment_get(user=request.user, segment_id=segment_id)
    items, following = selectors.segment_members_page(user=request.user, segment=segment,
                                                      cursor=query.cursor, limit=query.limit)
    return {"items": [customer_present(request.user, c, detail=False) for c in items],
            "next_cursor": following}
