"""API: the duplicate review queue, merging, "not the same", and undoing merges."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Field, Query, Router, Schema, Status

from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Id, Input, Limit, Offset, Probability
from kehu.identity import selectors, services
from kehu.identity.models import DuplicateCandidate, Merge

router = Router(tags=["identity"])


class MemberOut(Schema):
    id: int
    name: str


class CandidateOut(Schema):
    id: int
    probability: float
    status: str
    found_by: str
    found_at: dt.datetime
    customers: list[MemberOut]
    explanation: list[dict[str, Any]]


class CandidatePageOut(Schema):
    items: list[CandidateOut]
    count: int


class MergeIn(Input):
    survivor_id: Id
    field_choices: dict[str, Id] = {}
    customer_ids: list[Id] | None = Field(None, max_length=1_000)  # a subset of the candidate's customers


class CustomersMergeIn(Input):
    survivor_id: Id
    customer_ids: list[Id] = Field(..., max_length=1_000)
    field_choices: dict[str, Id] = {}


class MergeOut(Schema):
    id: int
    survivor_id: int
    merged_ids: list[int]
    field_choices: dict[str, int]
    probability: float | None = None
    automatic: bool
    created_at: dt.datetime
    undone_at: dt.datetime | None = None


def _candidate(c: DuplicateCandidate) -> dict[str, Any]:
    members = sorted(c.members.all(), key=lambda m: m.customer_id)
    return {"id": c.pk, "probability": c.probability, "status": c.status,
            "found_by": c.found_by, "found_at": c.found_at,
            "customers": [{"id": m.customer_id, "name": m.customer.name} for m in members],
            "explanation": c.explanation}


def _merge(m: Merge) -> dict[str, Any]:
    return {"id": m.pk, "survivor_id": m.survivor_id,
            "merged_ids": sorted(s.customer_id for s in m.sources.all()),
            "field_choices": m.field_choices, "probability": m.probability,
            "automatic": m.automatic, "created_at": m.created_at, "undone_at": m.undone_at}


class CandidateFilter(Schema):
    status: str = DuplicateCandidate.PENDING
    min_probability: Probability = 0.0
    limit: Limit = 50
    offset: Offset = 0


@router.get("/duplicates", response={200: CandidatePageOut, **ERROR_RESPONSES},
            summary="Duplicate candidates awaiting review, surest first")
def list_duplicates(request, filters: Query[CandidateFilter]):
    qs = selectors.candidate_list(user=request.user, status=filters.status,
                                  min_probability=filters.min_probability)
    items = list(qs[filters.offset:filters.offset + filters.limit])
    return {"items": [_candidate(c) for c in items], "count": qs.count()}


@router.post("/duplicates/{candidate_id}/merge", response={201: MergeOut, **ERROR_RESPONSES},
             summary="Merge a candidate's customers into the survivor")
def merge_duplicate(request, candidate_id: Id, payload: MergeIn):
    candidate = selectors.candidate_get(user=request.user, candidate_id=candidate_id)
    merge = services.candidate_merge(actor=actor_of(request), candidate=candidate,
                                     survivor_id=payload.survivor_id,
                                     field_choices=payload.field_choices,
                                     member_ids=payload.customer_ids)
    return Status(201, _merge(merge))


@router.post("/duplicates/{candidate_id}/dismiss", response={200: CandidateOut, **ERROR_RESPONSES},
             summary="Not the same: never propose these customers together again")
def dismiss_duplicate(request, candidate_id: Id):
    candidate = selectors.candidate_get(user=request.user, candidate_id=candidate_id)
    return _candidate(services.candidate_dismiss(actor=actor_of(request), candidate=candidate))


@router.post("/customers/merge", response={201: MergeOut, **ERROR_RESPONSES},
             summary="Merge any customers into one survivor")
def merge_customers(request, payload: CustomersMergeIn):
    merge = services.customer_merge(actor=actor_of(request), survivor_id=payload.survivor_id,
                                    other_ids=payload.customer_ids,
                                    field_choices=payload.field_choices)
    return Status(201, _merge(merge))


@router.post("/merges/{merge_id}/undo", response={200: MergeOut, **ERROR_RESPONSES},
             summary="Undo a merge: restore every original customer exactly")
def undo_merge(request, merge_id: Id):
    found = selectors.merge_get(user=request.user, merge_id=merge_id)
    return _merge(services.customer_unmerge(actor=actor_of(request), merge_id=found.pk))
