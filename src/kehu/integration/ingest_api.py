"""Segment-compatible ingestion endpoints: POST /api/v1/track, identify, page, screen, alias,
group and batch. Bodies are read as Segment sends them (unknown fields are tolerated, as
Segment does); each event at most 32 KB, a batch at most 500 KB. Authenticated by an API key
with the `ingest` scope (or `write`), as a bearer token or as Segment's Basic auth (the key
as user name)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import IntegrityError
from django.http import JsonResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from kehu.core.actor import Actor
from kehu.core.errors import DomainError
from kehu.core.http import ERROR_RESPONSES, ErrorOut, actor_of
from kehu.core.schemas import Id
from kehu.integration import ingest, selectors, stitching

router = Router(tags=["ingestion"])

INGEST_ROUTES = frozenset({"track", "identify", "page", "screen", "alias", "group", "batch"})


class IngestOut(Schema):
    """What an accepted call answers: counts, and for a batch each refused item."""

    success: bool
    accepted: int
    duplicates: int
    errors: list[dict[str, Any]]
    review: list[dict[str, Any]] | None = None


# The bodies are read raw (Segment's, unknown fields tolerated), so they are documented here
# rather than validated by a schema; the answers are the ones _answer and _refusal give.
INGEST_RESPONSES = {200: IngestOut, **ERROR_RESPONSES, 413: ErrorOut, 429: ErrorOut}


def _body_doc(description: str) -> dict:
    """The raw body, documented (an open object) and marked so that the strict-body check knows
    it is open on purpose."""
    return {"x-kehu-open-body": True,
            "requestBody": {"required": True, "description": description, "content": {
                "application/json": {"schema": {"type": "object",
                                                "additionalProperties": True}}}}}


def body_write_key(request) -> str | None:
    """The `writeKey` of a JSON body within the batch limit (Segment's browser clients)."""
    if request.method != "POST" or not request.body or len(request.body) > ingest.BATCH_MAX_BYTES:
        return None
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None
    key = data.get("writeKey") if isinstance(data, dict) else None
    return key if isinstance(key, str) and key else None


def _answer(status: int, body: dict, **headers) -> JsonResponse:
    response = JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
    # Any site may send events (the key decides what they may do; no cookies are read).
    response["Access-Control-Allow-Origin"] = "*"
    for name, value in headers.items():
        response[name.replace("_", "-")] = str(value)
    return response


def _refusal(status: int, code: str, message, details=None) -> JsonResponse:
    return _answer(status, {"code": code, "message": str(message), "details": details or {}})


def _source(request) -> str:
    key = getattr(request, "kehu_api_key", None)
    return f"key:{key.pk}" if key is not None else f"user:{request.user.pk}"


def _body(request, limit: int):
    if len(request.body) > limit:
        code = "batch_too_large" if limit == ingest.BATCH_MAX_BYTES else "too_large"
        return None, _refusal(413, code, _("The body may be at most %d bytes.") % limit,
                              {"limit_bytes": limit})
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None, _refusal(400, "bad_request", _("The request body could not be read as JSON."))
    if not isinstance(data, dict):
        return None, _refusal(400, "bad_request", _("The request body must be a JSON object."))
    return data, None


def _run(request, items: list) -> JsonResponse:
    source = _source(request)
    try:
        ingest.rate_check(source=source, count=max(1, len(items)))
        actor = Actor.from_request(request)
        try:
            outcome = ingest.events_ingest(actor=actor, source=source, items=items)
        except IntegrityError:
            # The same messageIds arrived at once from a parallel retry and lost the race: its
            # writes were rolled back; once more, the ids the other call stored are replays.
            outcome = ingest.events_ingest(actor=actor, source=source, items=items)
    except ingest.RateLimited as exc:
        return _answer(429, {"code": exc.code, "message": str(exc.message),
                             "details": exc.details}, Retry_After=exc.retry_after)
    except DomainError as exc:
        return _refusal(exc.status, exc.code, exc.message, exc.details)
    return _answer(200, {"success": True, **outcome.as_dict()})


def _single(kind: str):
    def operation(request):
        data, refused = _body(request, ingest.EVENT_MAX_BYTES)
        if refused:
            return refused
        outcome = _run(request, [{**data, "type": kind}])
        if outcome.status_code == 200:
            body = json.loads(outcome.content)
            if body["errors"]:
                error = body["errors"][0]
                return _refusal(400, error["code"], error["message"],
                                {"messageId": error["messageId"]})
        return outcome

    operation.__name__ = f"ingest_{kind}"
    operation.__doc__ = (f"Segment `{kind}` call. 200 `{{success, accepted, duplicates, "
                         f"errors}}`; a refused call is 400 with its code.")
    return operation


for _kind in ("track", "identify", "page", "screen", "alias", "group"):
    router.post(f"/{_kind}", url_name=f"ingest_{_kind}", response=INGEST_RESPONSES,
                openapi_extra=_body_doc(f"A Segment `{_kind}` call (at most 32 KB)."),
                )(_single(_kind))


@router.post("/batch", url_name="ingest_batch", response=INGEST_RESPONSES,
             openapi_extra=_body_doc('{"batch": [{"type": "track", …}, …]}, at most 500 KB.'))
def ingest_batch(request):
    """Segment batch: `{"batch": [{"type": "track", …}, …]}` at most 500 KB. Each item is
    checked on its own: `{success, accepted, duplicates, errors: [{index, messageId, code,
    message}]}`; the others are stored. A top-level `context` fills items without one."""
    data, refused = _body(request, ingest.BATCH_MAX_BYTES)
    if refused:
        return refused
    items = data.get("batch")
    if not isinstance(items, list) or not items:
        return _refusal(400, "invalid_request", _("Send {\"batch\": [ … ]} with at least one "
                                                  "item."))
    if len(items) > ingest.BATCH_MAX_ITEMS:
        return _refusal(400, "invalid_request", _("At most %d items per batch.")
                        % ingest.BATCH_MAX_ITEMS)
    context = data.get("context")
    if isinstance(context, dict):
        items = [{**item, "context": item.get("context") or context}
                 if isinstance(item, dict) else item for item in items]
    return _run(request, items)


# Stitches: what identify and alias attached, and undoing one -----------------------------


class StitchOut(Schema):
    id: int
    visitor: str = Field(..., alias="visitor.key")
    customer_id: int
    reason: str
    events: int
    created_at: dt.datetime
    undone_at: dt.datetime | None

    @staticmethod
    def resolve_events(stitch) -> int:
        return len(stitch.event_ids)


class StitchFilter(Schema):
    customer_id: Id | None = None


@router.get("/stitches", response={200: list[StitchOut], **ERROR_RESPONSES},
            url_name="stitch_list")
def stitch_list(request, filters: Query[StitchFilter]):
    """The newest 100 visitor stitches of customers you may see (`customer_id` to narrow)."""
    return selectors.stitch_list(user=request.user, customer_id=filters.customer_id)


@router.post("/stitches/{stitch_id}/undo", response={200: StitchOut, **ERROR_RESPONSES},
             url_name="stitch_undo")
def stitch_undo(request, stitch_id: Id):
    """Undo a stitch (permission `customer.merge`): its events leave the customer and are the
    visitor's again."""
    selectors.stitch_get(user=request.user, stitch_id=stitch_id)
    return stitching.stitch_undo(actor=actor_of(request), stitch_id=stitch_id)
