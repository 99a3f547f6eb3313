"""The bounded input types every API schema uses, and the base of every request body.

One set of types, so that no number, date or page size reaches the database unbounded (an id
of 10**20 overflowed SQLite and PostgreSQL as a 500), a boolean is never taken for a number,
and a body with a field the API does not know is refused naming it (integrators see typos).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Annotated, Any

from django.utils.translation import gettext_lazy as _
from ninja import Schema
from ninja.pagination import LimitOffsetPagination
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

MAX_ID = 2**63 - 1  # a 64-bit primary key (BigAutoField), the largest both databases hold
MAX_OFFSET = 2**31 - 1
MAX_PAGE = 200
MAX_DAYS = 36_500  # a hundred years
EARLIEST = dt.date(1900, 1, 1)  # no date input, birthdays included, is earlier
LATEST = dt.date(2999, 12, 31)

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _number(value: Any) -> Any:
    """true/false are not numbers (JSON has both; Python would take True for 1)."""
    if isinstance(value, bool):
        raise ValueError(str(_("A number is expected, not true or false.")))
    return value


def _flag(value: Any) -> Any:
    """A number is not a yes/no (pydantic would take 1 for true); query strings stay text."""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        raise ValueError(str(_("true or false is expected, not a number.")))
    return value


def _in_range(day: dt.date) -> None:
    if not EARLIEST <= day <= LATEST:
        raise ValueError(str(_("Give a date between %(first)s and %(last)s.")
                             % {"first": EARLIEST.isoformat(), "last": LATEST.isoformat()}))


def _date(value: Any) -> Any:
    """An ISO date (YYYY-MM-DD) in 1900..2999; numbers (`0`, Unix time) are not dates."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        _in_range(value)
        return value
    if not isinstance(value, str) or not _ISO_DATE.match(value.strip()):
        raise ValueError(str(_("Give a date as YYYY-MM-DD.")))
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(str(_("Give a date as YYYY-MM-DD."))) from None
    _in_range(day)
    return day


def _datetime(value: Any) -> Any:
    """An ISO 8601 date and time in 1900..2999 (so that no offset overflows the calendar)."""
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str) and _ISO_DATETIME.match(value.strip()):
        try:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(str(_("Give a date and time in ISO 8601, e.g. "
                                   "2026-05-01T09:30:00+08:00."))) from None
    else:
        raise ValueError(str(_("Give a date and time in ISO 8601, e.g. "
                               "2026-05-01T09:30:00+08:00.")))
    _in_range(parsed.date())
    return parsed


# Numbers --------------------------------------------------------------------------------

Id = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(_number)]
"""A primary key: 1 .. 2**63-1."""

Offset = Annotated[int, Field(ge=0, le=MAX_OFFSET), BeforeValidator(_number)]
Limit = Annotated[int, Field(ge=1, le=MAX_PAGE), BeforeValidator(_number)]
Days = Annotated[int, Field(ge=1, le=MAX_DAYS), BeforeValidator(_number)]
Position = Annotated[int, Field(ge=0, le=32_767), BeforeValidator(_number)]
"""A display order (PositiveSmallIntegerField)."""

Weight = Annotated[int, Field(ge=0, le=1_000), BeforeValidator(_number)]
Score = Annotated[int, Field(ge=0, le=100), BeforeValidator(_number)]
"""A 0-100 score (data quality)."""

Rating = Annotated[int, Field(ge=1, le=5), BeforeValidator(_number)]
Probability = Annotated[float, Field(ge=0.0, le=1.0), BeforeValidator(_number)]
Money = Annotated[Decimal, Field(ge=0, max_digits=12, decimal_places=2), BeforeValidator(_number)]
Quantity = Annotated[Decimal, Field(gt=0, max_digits=12, decimal_places=2), BeforeValidator(_number)]
Flag = Annotated[bool, BeforeValidator(_flag)]

# Dates ----------------------------------------------------------------------------------

Day = Annotated[dt.date, BeforeValidator(_date)]
"""A calendar date, YYYY-MM-DD, 1900-01-01 .. 2999-12-31."""

Moment = Annotated[dt.datetime, BeforeValidator(_datetime)]
"""A date and time, ISO 8601, in 1900 .. 2999."""

_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d)?$")


def _clock(value: Any) -> Any:
    """A wall-clock time of day, HH:MM or HH:MM:SS, without a zone (business hours)."""
    if isinstance(value, dt.time):
        return value.replace(tzinfo=None, microsecond=0)
    if not isinstance(value, str) or not _CLOCK.match(value.strip()):
        raise ValueError(str(_("Give a time of day as HH:MM.")))
    return dt.time.fromisoformat(value.strip())


ClockTime = Annotated[
    dt.time, BeforeValidator(_clock),
    PlainSerializer(lambda value: value.isoformat(timespec="seconds"), return_type=str,
                    when_used="json"),
    WithJsonSchema({"type": "string", "pattern": _CLOCK.pattern, "example": "09:00"}),
]
"""A time of day, HH:MM[:SS], no zone. (JSON Schema's `format: time` is RFC 3339's, which
requires an offset that a business calendar's hours do not have.)"""

# Text -------------------------------------------------------------------------------------

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable_text(value: Any) -> str | None:
    """The path of the first string in `value` (nested lists and objects too) that no database
    can store: a NUL character (PostgreSQL refuses it) or a lone surrogate (not UTF-8).
    Iterative, so that a deeply nested body cannot exhaust the stack."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                return path
            continue
        if isinstance(item, dict):
            children = list(item.items())
        elif isinstance(item, list):
            children = list(enumerate(item))
        else:
            continue
        for key, child in reversed(children):
            where = f"{path}.{key}".lstrip(".")
            if isinstance(key, str) and _UNSTORABLE.search(key):
                return where
            stack.append((where, child))
    return None


def unstorable_message(path: str) -> str:
    return str(_("%(field)s holds a character that cannot be stored (NUL or a lone "
                 "surrogate).") % {"field": path or _("The body")})


# Bodies and pages -----------------------------------------------------------------------


class Input(Schema):
    """The base of every request body: a JSON object, and only with fields the API knows."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _an_object(cls, data: Any, handler):
        # ninja validates bodies from attributes too, so `[null, null]` would pass as an empty
        # object and a PATCH would answer 200 having changed nothing.
        if not isinstance(data, dict | Schema):
            raise ValueError(str(_("A JSON object is expected.")))
        if isinstance(data, dict) and (bad := unstorable_text(data)) is not None:
            raise ValueError(unstorable_message(bad))
        return handler(data)


class Page(LimitOffsetPagination):
    """`limit` (1..200, default 100) and `offset` (0..2**31-1) on every offset-paged list."""

    class Input(Schema):
        limit: Limit = 100
        offset: Offset = 0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_limit=MAX_PAGE, **kwargs)
