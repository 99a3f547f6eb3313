"""The board registry and the shape every board returns.

A board is a function of (user, period, params) that returns BoardData: headline figures,
ECharts options and tables. Every number is computed through the owning apps' selectors for
that user, so record scope and field masking are theirs, and every number that stands for a
set of records carries the URL of the list behind it (`url`), so clicking it drills down.

The same BoardData feeds the page (templates/dashboards/board.html), the API
(GET /api/v1/dashboards/{key}) and the tests, so the three cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from kehu.dashboards.periods import Period


@dataclass
class Figure:
    key: str
    label: str
    value: Any  # int, float, Decimal-as-float or None when not computable
    url: str = ""  # the list behind the number
    unit: str = ""  # "¥", "%", "天" …
    hint: str = ""  # a short explanation under the figure
    alert: bool = False  # worth acting on


@dataclass
class Chart:
    key: str
    title: str
    option: dict  # an ECharts option; data items may carry "url" for drill-down
    height: int = 320


@dataclass
class Column:
    key: str
    label: str
    kind: str = "text"  # text, number, money, percent, date; action: a POST button
    # (htmx) to the row's "<key>_url", labelled with the row's value


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[dict]  # values by column key; "url" opens the row, "<key>_url" opens a cell
    empty: str = ""


@dataclass
class Control:
    """A choice beside the period (which pipeline, which segment): a query parameter `key`."""

    key: str
    label: str
    options: list[tuple[str, str]]  # (value, label); ("", …) first for "none chosen"
    selected: str = ""


@dataclass
class BoardData:
    figures: list[Figure] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. "prediction has not run yet"
    controls: list[Control] = field(default_factory=list)

    def figure(self, key: str) -> Figure:
        return next(item for item in self.figures if item.key == key)

    def table(self, key: str) -> Table:
        return next(item for item in self.tables if item.key == key)

    def chart(self, key: str) -> Chart:
        return next(item for item in self.charts if item.key == key)

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Board:
    key: str
    title: Any  # lazy translation
    description: Any
    permission: str  # needed to open the board at all; rows are further scoped by the user
    build: Callable[..., BoardData]  # build(*, user, period, params) -> BoardData
    order: int = 100
    template: str = "dashboards/board.html"  # a board may extend it with its own blocks
    default_period: str = "month"
    extra_permissions: tuple[str, ...] = ()  # all needed besides `permission`

    def visible_to(self, user) -> bool:
        access = user.access
        return all(access.can(name) for name in (self.permission, *self.extra_permissions))


_BOARDS: dict[str, Board] = {}


def register_board(board: Board) -> Board:
    if board.key in _BOARDS and _BOARDS[board.key] is not board:
        raise ValueError(f"board {board.key!r} registered twice")
    _BOARDS[board.key] = board
    return board


def get_board(key: str) -> Board | None:
    return _BOARDS.get(key)


def all_boards() -> list[Board]:
    return sorted(_BOARDS.values(), key=lambda board: (board.order, board.key))


def boards_for(user) -> list[Board]:
    return [board for board in all_boards() if board.visible_to(user)]


def build_board(board: Board, *, user, period: Period, params=None) -> BoardData:
    return board.build(user=user, period=period, params=params or {})
