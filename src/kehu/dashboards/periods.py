"""The period a board or report looks at: named spans (today, this week …) or from/to dates.

Bounded: a custom period spans at most MAX_DAYS, and dates outside 2000–2100 are refused, so
a hostile query string cannot ask for a century of daily buckets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MAX_DAYS = 3 * 366 + 1
EARLIEST = dt.date(2000, 1, 1)
LATEST = dt.date(2100, 12, 31)

PERIODS = {
    "today": _("Today"),
    "week": _("This week"),
    "month": _("This month"),
    "quarter": _("This quarter"),
    "year": _("This year"),
    "last_30": _("Last 30 days"),
    "last_90": _("Last 90 days"),
    "last_365": _("Last 365 days"),
    "custom": _("Custom"),
}
DEFAULT_PERIOD = "month"


class PeriodError(ValueError):
    """A period the user asked for cannot be used; the message names the field."""


@dataclass(frozen=True)
class Period:
    key: str
    start: dt.date  # inclusive
    end: dt.date  # inclusive

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def start_dt(self) -> dt.datetime:
        """The first instant of the period in the current time zone."""
        return timezone.make_aware(dt.datetime.combine(self.start, dt.time.min))

    def end_dt(self) -> dt.datetime:
        """The first instant after the period (exclusive bound for datetime columns)."""
        return timezone.make_aware(dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time.min))

    def previous(self) -> Period:
        """The span of equal length just before, for trends and comparisons."""
        end = self.start - dt.timedelta(days=1)
        return Period("custom", end - dt.timedelta(days=self.days - 1), end)

    @property
    def label(self) -> str:
        if self.key != "custom":
            return str(PERIODS[self.key])
        return f"{self.start.isoformat()} – {self.end.isoformat()}"

    def as_query(self) -> dict[str, str]:
        """Query parameters that give this period back (for links to lists and drill-downs)."""
        if self.key == "custom":
            return {"period": "custom", "from": self.start.isoformat(), "to": self.end.isoformat()}
        return {"period": self.key}


def named_period(key: str, today: dt.date | None = None) -> Period:
    today = today or timezone.localdate()
    if key == "today":
        return Period(key, today, today)
    if key == "week":
        return Period(key, today - dt.timedelta(days=today.weekday()), today)
    if key == "month":
        return Period(key, today.replace(day=1), today)
    if key == "quarter":
        return Period(key, today.replace(month=(today.month - 1) // 3 * 3 + 1, day=1), today)
    if key == "year":
        return Period(key, today.replace(month=1, day=1), today)
    if key.startswith("last_"):
        days = int(key.removeprefix("last_"))
        return Period(key, today - dt.timedelta(days=days - 1), today)
    raise PeriodError(_("period: unknown period “%(key)s”") % {"key": key})


def _date(params, name: str) -> dt.date:
    raw = (params.get(name) or "").strip()
    try:
        value = dt.date.fromisoformat(raw)
    except ValueError:
        raise PeriodError(_("%(field)s: “%(value)s” is not a date (YYYY-MM-DD)") % {
            "field": name, "value": raw[:20]}) from None
    if not EARLIEST <= value <= LATEST:
        raise PeriodError(_("%(field)s: the date must lie between 2000 and 2100") % {"field": name})
    return value


def parse_period(params, *, default: str = DEFAULT_PERIOD, today: dt.date | None = None) -> Period:
    """The period from query parameters `period` (a key of PERIODS) and, for custom, `from`/`to`."""
    key = (params.get("period") or "").strip() or default
    if key not in PERIODS:
        raise PeriodError(_("period: unknown period “%(key)s”") % {"key": key[:20]})
    if key != "custom":
        return named_period(key, today)
    start, end = _date(params, "from"), _date(params, "to")
    if end < start:
        raise PeriodError(_("to: the end date is before the start date"))
    if (end - start).days + 1 > MAX_DAYS:
        raise PeriodError(_("to: a period may span at most %(days)s days") % {"days": MAX_DAYS})
    return Period(key, start, end)
