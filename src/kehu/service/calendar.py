"""Business time: working days and working seconds in a business calendar.

A calendar (kehu.service.models.BusinessCalendar) has working weekdays, working hours with an
optional lunch break, and dated exceptions: public holidays off and make-up working days
(调休上班) on. The PRC holidays come from `data/prc_holidays.json` (the State Council's yearly
notices) and stay editable by admins.

Other apps import the four functions here; each takes `calendar=None` (the default calendar),
a `BusinessCalendar`, its id, or a `Schedule` already loaded (for loops over many tickets):

    add_working_days(start: date, n: int, calendar=None) -> date
    is_working_day(day, calendar=None) -> bool
    business_seconds_between(start: datetime, end: datetime, calendar=None) -> int
    add_business_seconds(start: datetime, seconds: int, calendar=None) -> datetime

Datetimes must be timezone-aware; the calendar's zone (Asia/Shanghai by default) decides
which day and hour a moment falls on. Working time is counted on a precomputed running total
per day, so each call is a few arithmetic steps (the SLA recomputation counts on it).
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

DATA_FILE = Path(__file__).resolve().parent / "data" / "prc_holidays.json"
FIRST_DAY = dt.date(1990, 1, 1)
LAST_DAY = dt.date(2100, 12, 31)
DEFAULT_TIME_ZONE = "Asia/Shanghai"
DEFAULT_HOURS = (dt.time(9, 0), dt.time(12, 0), dt.time(13, 0), dt.time(18, 0))


def _seconds(value: dt.time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def working_periods(day_start: dt.time, lunch_start: dt.time | None, lunch_end: dt.time | None,
                    day_end: dt.time) -> tuple[tuple[int, int], ...]:
    """The working periods of a day as (start, end) seconds after midnight: one, or two around
    the lunch break. Raises ValueError for hours that do not make a working day."""
    start, end = _seconds(day_start), _seconds(day_end)
    if end <= start:
        raise ValueError("the working day ends before it starts")
    if lunch_start is None or lunch_end is None or lunch_start == lunch_end:
        return ((start, end),)
    a, b = _seconds(lunch_start), _seconds(lunch_end)
    if not start < a < b < end:
        raise ValueError("the lunch break lies outside the working day")
    return ((start, a), (b, end))


@dataclass(frozen=True, eq=False)
class Schedule:
    """A calendar loaded for counting: its zone, daily working periods, working weekdays,
    dated exceptions (date -> works that day) and the running total of working seconds."""

    calendar_id: int | None
    version: int
    tz: ZoneInfo
    periods: tuple[tuple[int, int], ...]
    workdays: frozenset[int]
    overrides: dict[dt.date, bool]
    cumulative: list[int]  # working seconds before FIRST_DAY + i, for i in 0..days

    @classmethod
    def build(cls, *, calendar_id: int | None = None, version: int = 0,
              time_zone: str = DEFAULT_TIME_ZONE, workdays=(0, 1, 2, 3, 4),
              hours: tuple = DEFAULT_HOURS,
              overrides: dict[dt.date, bool] | None = None) -> Schedule:
        periods = working_periods(*hours)
        overrides = dict(overrides or {})
        workdays = frozenset(int(d) for d in workdays)
        per_day = sum(end - start for start, end in periods)
        total, cumulative = 0, [0]
        day, one = FIRST_DAY, dt.timedelta(days=1)
        weekday = FIRST_DAY.weekday()
        for _index in range((LAST_DAY - FIRST_DAY).days + 1):
            works = overrides.get(day)
            if works is None:
                works = weekday in workdays
            if works:
                total += per_day
            cumulative.append(total)
            day += one
            weekday = (weekday + 1) % 7
        return cls(calendar_id=calendar_id, version=version, tz=ZoneInfo(time_zone),
                   periods=periods, workdays=workdays, overrides=overrides,
                   cumulative=cumulative)

    # Days -------------------------------------------------------------------------------

    def _index(self, day: dt.date) -> int:
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ValueError(f"{day} is outside the calendar's range "
                             f"({FIRST_DAY} to {LAST_DAY})")
        return (day - FIRST_DAY).days

    def local_date(self, day: dt.date | dt.datetime) -> dt.date:
        if isinstance(day, dt.datetime):
            return self._local(day).date()
        return day

    def is_working_day(self, day: dt.date | dt.datetime) -> bool:
        day = self.local_date(day)
        works = self.overrides.get(day)
        return day.weekday() in self.workdays if works is None else works

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The day `n` working days after `start` (before it when n < 0); start itself does
        not count, and n == 0 gives start."""
        start = self.local_date(start)
        step = 1 if n > 0 else -1
        remaining, day = abs(int(n)), start
        one = dt.timedelta(days=step)
        while remaining:
            day += one
            self._index(day)
            if self.is_working_day(day):
                remaining -= 1
        return day

    # Seconds ----------------------------------------------------------------------------

    def _local(self, moment: dt.datetime) -> dt.datetime:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError("business time needs a timezone-aware datetime")
        return moment.astimezone(self.tz)

    def position(self, moment: dt.datetime) -> int:
        """Working seconds from the start of the calendar's range to `moment`."""
        local = self._local(moment)
        index = self._index(local.date())
        base = self.cumulative[index]
        if self.cumulative[index + 1] == base:
            return base
        second = local.hour * 3600 + local.minute * 60 + local.second
        inside = 0
        for start, end in self.periods:
            if second <= start:
                break
            inside += min(second, end) - start
        return base + inside

    def seconds_between(self, start: dt.datetime, end: dt.datetime) -> int:
        return self.position(end) - self.position(start)

    def moment_at(self, position: int, *, earliest: bool = True) -> dt.datetime:
        """The moment at which `position` working seconds have passed: the earliest such
        moment (the end of a working period rather than the start of the next), or with
        earliest=False the latest."""
        cumulative = self.cumulative
        if not cumulative[0] <= position <= cumulative[-1]:
            raise ValueError("the moment is outside the calendar's range")
        if earliest:
            index = max(bisect.bisect_left(cumulative, position) - 1, 0)
        else:
            index = min(bisect.bisect_right(cumulative, position) - 1, len(cumulative) - 2)
        remaining = position - cumulative[index]
        second = self.periods[0][0]
        for start, end in self.periods:
            length = end - start
            if remaining < length or (earliest and remaining == length):
                second = start + remaining
                break
            remaining -= length
        day = FIRST_DAY + dt.timedelta(days=index)
        midnight = dt.datetime.combine(day, dt.time(0), tzinfo=self.tz)
        return midnight + dt.timedelta(seconds=second)

    def add_seconds(self, start: dt.datetime, seconds: int) -> dt.datetime:
        seconds = int(seconds)
        if seconds == 0:
            return start
        return self.moment_at(self.position(start) + seconds, earliest=seconds > 0)


# Loading ------------------------------------------------------------------------------------

_lock = threading.Lock()
_loaded: dict[int, Schedule] = {}


@cache
def builtin_prc_schedule() -> Schedule:
    """The default hours with the bundled PRC holidays, for a database without a calendar."""
    overrides = {}
    for data in prc_holiday_data()["years"].values():
        for day, _name in data["holidays"]:
            overrides[dt.date.fromisoformat(day)] = False
        for day, _name in data["workdays"]:
            overrides[dt.date.fromisoformat(day)] = True
    return Schedule.build(overrides=overrides)


@cache
def prc_holiday_data() -> dict[str, Any]:
    """The bundled PRC holidays and make-up working days by year (see the file's `about`)."""
    return json.loads(DATA_FILE.read_text(encoding="utf-8"))


def schedule_of(calendar: Any = None) -> Schedule:
    """The loaded Schedule of a calendar (None: the default one), cached until the calendar or
    its days change (one small query checks the version)."""
    if isinstance(calendar, Schedule):
        return calendar
    from kehu.service.models import BusinessCalendar

    rows = BusinessCalendar.objects.all()
    if calendar is None:
        rows = rows.filter(is_default=True)
    else:
        rows = rows.filter(pk=getattr(calendar, "pk", calendar))
    found = rows.values_list("pk", "version").first()
    if found is None:
        if calendar is None:
            return builtin_prc_schedule()
        raise LookupError(f"no business calendar {calendar!r}")
    pk, version = found
    cached = _loaded.get(pk)
    if cached is not None and cached.version == version:
        return cached
    schedule = load_schedule(pk)
    with _lock:
        _loaded[pk] = schedule
    return schedule


def load_schedule(calendar_id: int) -> Schedule:
    """Read a calendar and its days from the database into a Schedule (no cache)."""
    from kehu.service.models import BusinessCalendar, CalendarDay

    row = BusinessCalendar.objects.get(pk=calendar_id)
    overrides = {day: kind == CalendarDay.WORKDAY for day, kind in
                 CalendarDay.objects.filter(calendar_id=calendar_id).values_list("date", "kind")}
    return Schedule.build(calendar_id=row.pk, version=row.version, time_zone=row.time_zone,
                          workdays=row.workdays,
                          hours=(row.day_start, row.lunch_start, row.lunch_end, row.day_end),
                          overrides=overrides)


# The functions other apps import ----------------------------------------------------------


def add_working_days(start: dt.date, n: int, calendar=None) -> dt.date:
    """The date `n` working days after `start` (before it when n is negative); `start` itself
    is not counted and n == 0 returns it. A datetime counts from its local date."""
    return schedule_of(calendar).add_working_days(start, n)


def is_working_day(day: dt.date | dt.datetime, calendar=None) -> bool:
    """Whether people work that day: a working weekday that is not a holiday, or a make-up
    working day (调休上班)."""
    return schedule_of(calendar).is_working_day(day)


def business_seconds_between(start: dt.datetime, end: dt.datetime, calendar=None) -> int:
    """Working seconds from `start` to `end` (lunch breaks, nights, weekends and holidays do
    not count; make-up working days do); negative when end is before start."""
    return schedule_of(calendar).seconds_between(start, end)


def add_business_seconds(start: dt.datetime, seconds: int, calendar=None) -> dt.datetime:
    """The moment `seconds` working seconds after `start` (before it when negative), in the
    calendar's time zone. A due time falling at the end of a working period stays there
    (18:00 on Friday, not 09:00 on Monday)."""
    return schedule_of(calendar).add_seconds(start, seconds)
