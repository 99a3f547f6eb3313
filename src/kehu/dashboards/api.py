"""API: the boards a caller may open and one board's figures, charts and tables as JSON.

The same BoardData as the page; see dashboards/boards.py.
"""

from __future__ import annotations

from typing import Any, Literal

from ninja import Field, Path, Query, Router, Schema

from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.http import ERROR_RESPONSES
from kehu.dashboards.boards import boards_for, build_board, get_board
from kehu.dashboards.periods import PERIODS, PeriodError, parse_period

router = Router(tags=["dashboards"])

PeriodKey = Literal[tuple(PERIODS)]  # type: ignore[valid-type]


class BoardOut(Schema):
    key: str
    title: str
    description: str
    url: str


class PeriodOut(Schema):
    key: str
    start: str
    end: str


class BoardDataOut(Schema):
    key: str
    title: str
    period: PeriodOut
    figures: list[dict[str, Any]]
    charts: list[dict[str, Any]]
    tables: list[dict[str, Any]]
    notes: list[str]
    controls: list[dict[str, Any]] = []


class BoardQuery(Schema):
    period: PeriodKey | None = None
    from_: str | None = Field(None, alias="from", max_length=10)
    to: str | None = Field(None, max_length=10)
    team: int | None = Field(None, ge=1, le=2**31 - 1)
    owner: int | None = Field(None, ge=1, le=2**31 - 1)
    segment: int | None = Field(None, ge=1, le=2**31 - 1)
    pipeline: int | None = Field(None, ge=1, le=2**31 - 1)
    rank_by: str | None = Field(None, max_length=30, description="team board: the measure "
                                "the ranking sorts by")
    target: str | None = Field(None, max_length=10, description="forecast board: month or "
                               "quarter")


@router.get("/dashboards", response={200: list[BoardOut], **ERROR_RESPONSES},
            summary="The boards the caller may open")
def list_boards(request):
    from django.urls import reverse

    return [{"key": board.key, "title": str(board.title), "description": str(board.description),
             "url": reverse("dashboards:board", args=[board.key])}
            for board in boards_for(request.user)]


@router.get("/dashboards/{key}", response={200: BoardDataOut, **ERROR_RESPONSES},
            summary="One board's figures, charts and tables for a period, in the caller's scope")
def get_board_data(request, query: Query[BoardQuery], key: str = Path(..., max_length=40)):
    board = get_board(key)
    if board is None or not board.visible_to(request.user):
        raise NotFound()
    params = {name: str(value) for name, value in query.dict(by_alias=True).items()
              if value is not None}
    try:
        period = parse_period(params, default=board.default_period)
    except PeriodError as exc:
        raise ValidationFailed(details={"period": [str(exc)]}) from None
    data = build_board(board, user=request.user, period=period, params=params)
    return {"key": board.key, "title": str(board.title),
            "period": {"key": period.key, "start": period.start.isoformat(),
                       "end": period.end.isoformat()}, **data.as_json()}
