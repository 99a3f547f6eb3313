"""Writes to business calendars: working hours, holidays and make-up working days.

Each change bumps the calendar's version (loaded schedules are cached by it), is audited and
emits a `calendar.*` event; SLA due times of open tickets are recomputed by the caller's
follow-up (`sla_recompute`), since a calendar change moves them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import available_timezones

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import record_change
from kehu.core.validation import full_clean
from kehu.service.calendar import prc_holiday_data, working_periods
from kehu.service.models import BusinessCalendar, CalendarDay
from kehu.service.services.sla import sla_recompute_later


def _snapshot(calendar: BusinessCalendar) -> dict[str, Any]:
    return {"name": calendar.name, "time_zone": calendar.time_zone,
            "workdays": list(calendar.workdays), "day_start": calendar.day_start,
            "lunch_start": calendar.lunch_start, "lunch_end": calendar.lunch_end,
            "day_end": calendar.day_end, "is_default": calendar.is_default}


def _check(errors: dict, *, name: str, time_zone: str, workdays: Any, day_start, lunch_start,
           lunch_end, day_end) -> list[int]:
    if not (name or "").strip():
        errors["name"] = [_("Give the calendar a name.")]
    if time_zone not in available_timezones():
        errors["time_zone"] = [_("“%s” is not a time zone.") % time_zone]
    days: list[int] = []
    if not isinstance(workdays, list | tuple | set) or not workdays or any(
            isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in workdays):
        errors["workdays"] = [_("Working weekdays are numbers from 0 (Monday) to 6 (Sunday).")]
    else:
        days = sorted(set(workdays))
    if any(not isinstance(t, dt.time) for t in (day_start, day_end)):
        errors["day_start"] = [_("Give the hours work starts and ends.")]
    elif (lunch_start is None) != (lunch_end is None):
        errors["lunch_start"] = [_("Give both ends of the lunch break, or neither.")]
    else:
        try:
            working_periods(day_start, lunch_start, lunch_end, day_end)
        except ValueError:
            field = "day_end" if day_end <= day_start else "lunch_start"
            errors[field] = [_("Work must end after it starts, and the lunch break must lie "
                               "within the working day.")]
    return days


def calendar_create(*, actor: Actor, name: str, time_zone: str = "Asia/Shanghai",
                    workdays=(0, 1, 2, 3, 4), day_start: dt.time = dt.time(9),
                    lunch_start: dt.time | None = dt.time(12),
                    lunch_end: dt.time | None = dt.time(13), day_end: dt.time = dt.time(18),
                    ) -> BusinessCalendar:
    """Add a business calendar (another region's hours, a 7×24 desk) for SLA policies to use."""
    actor.require("service.configure")
    errors: dict[str, list[str]] = {}
    days = _check(errors, name=name, time_zone=time_zone, workdays=list(workdays),
                  day_start=day_start, lunch_start=lunch_start, lunch_end=lunch_end,
                  day_end=day_end)
    if not errors and BusinessCalendar.objects.filter(name=name.strip()).exists():
        errors["name"] = [_("Another calendar already has this name.")]
    if errors:
        raise ValidationFailed(details=errors)
    calendar = BusinessCalendar(name=name.strip(), time_zone=time_zone, workdays=days,
                                day_start=day_start, lunch_start=lunch_start,
                                lunch_end=lunch_end, day_end=day_end,
                                is_default=not BusinessCalendar.objects.exists())
    full_clean(calendar)
    with transaction.atomic():
        calendar.save()
        record_change(actor=actor, action="calendar.create", event="calendar.created",
                      object_type="calendar", object_id=calendar.pk, object_repr=calendar.name,
                      changes=diff({}, _snapshot(calendar)))
    return calendar


def calendar_update(*, actor: Actor, calendar: BusinessCalendar, name: str, time_zone: str,
                    workdays, day_start: dt.time, lunch_start: dt.time | None,
                    lunch_end: dt.time | None, day_end: dt.time,
                    is_default: bool | None = None) -> BusinessCalendar:
    """Change a calendar's hours, week or name; making it the default unmarks the old one."""
    actor.require("service.configure")
    errors: dict[str, list[str]] = {}
    days = _check(errors, name=name, time_zone=time_zone, workdays=list(workdays or []),
                  day_start=day_start, lunch_start=lunch_start, lunch_end=lunch_end,
                  day_end=day_end)
    if not errors and BusinessCalendar.objects.filter(name=name.strip()).exclude(
            pk=calendar.pk).exists():
        errors["name"] = [_("Another calendar already has this name.")]
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        current = BusinessCalendar.objects.select_for_update().filter(pk=calendar.pk).first()
        if current is None:
            raise NotFound()
        before = _snapshot(current)
        if is_default is False and current.is_default:
            raise ValidationFailed(details={"is_default": [
                _("Make another calendar the default instead.")]})
        if is_default and not current.is_default:
            BusinessCalendar.objects.filter(is_default=True).update(is_default=False)
            current.is_default = True
        current.name, current.time_zone, current.workdays = name.strip(), time_zone, days
        current.day_start, current.lunch_start = day_start, lunch_start
        current.lunch_end, current.day_end = lunch_end, day_end
        current.version += 1
        full_clean(current)
        current.save(update_fields=["name", "time_zone", "workdays", "day_start", "lunch_start",
                                    "lunch_end", "day_end", "is_default", "version",
                                    "updated_at"])
        record_change(actor=actor, action="calendar.update", event="calendar.updated",
                      object_type="calendar", object_id=current.pk, object_repr=current.name,
                      changes=diff(before, _snapshot(current)))
        sla_recompute_later(actor)
    return current


def _locked(calendar: BusinessCalendar) -> BusinessCalendar:
    current = BusinessCalendar.objects.select_for_update().filter(pk=calendar.pk).first()
    if current is None:
        raise NotFound()
    return current


def calendar_day_set(*, actor: Actor, calendar: BusinessCalendar, date: dt.date, kind: str,
                     name: str = "") -> CalendarDay:
    """Mark one date a public holiday or a make-up working day (replacing what it was)."""
    actor.require("service.configure")
    errors: dict[str, list[str]] = {}
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        errors["date"] = [_("Give a date.")]
    if kind not in {code for code, _label in CalendarDay.KINDS}:
        errors["kind"] = [_("“%s” is not a valid choice.") % kind]
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        current = _locked(calendar)
        row = CalendarDay.objects.filter(calendar=current, date=date).first()
        before = {"kind": row.kind, "name": row.name} if row else {}
        if row is None:
            row = CalendarDay(calendar=current, date=date)
        row.kind, row.name = kind, (name or "").strip()[:80]
        row.source, row.provisional = _("Entered by %s") % actor.label[:150], False
        full_clean(row, exclude=["calendar"])
        try:
            with transaction.atomic():
                row.save()
        except IntegrityError as exc:
            raise ValidationFailed(details={"date": [_("This date changed meanwhile; try again.")]}) \
                from exc
        BusinessCalendar.objects.filter(pk=current.pk).update(version=F("version") + 1)
        record_change(actor=actor, action="calendar.day_set", event="calendar.day_set",
                      object_type="calendar", object_id=current.pk, object_repr=current.name,
                      changes={"date": date.isoformat(),
                               **diff(before, {"kind": row.kind, "name": row.name})})
        sla_recompute_later(actor)
    return row


def calendar_day_remove(*, actor: Actor, calendar: BusinessCalendar, date: dt.date) -> None:
    """Make a date an ordinary day of the week again."""
    actor.require("service.configure")
    with transaction.atomic():
        current = _locked(calendar)
        row = CalendarDay.objects.filter(calendar=current, date=date).first()
        if row is None:
            raise NotFound()
        before = {"kind": row.kind, "name": row.name}
        row.delete()
        BusinessCalendar.objects.filter(pk=current.pk).update(version=F("version") + 1)
        record_change(actor=actor, action="calendar.day_remove", event="calendar.day_removed",
                      object_type="calendar", object_id=current.pk, object_repr=current.name,
                      changes={"date": date.isoformat(), **diff(before, {})})
        sla_recompute_later(actor)


def calendar_load_prc(*, actor: Actor, calendar: BusinessCalendar, years: list[int]) -> int:
    """Replace a calendar's days in `years` with the bundled PRC holidays and make-up working
    days (data/prc_holidays.json); returns how many days were written."""
    actor.require("service.configure")
    data = prc_holiday_data()["years"]
    missing = [y for y in years if str(y) not in data]
    if not years or missing:
        raise ValidationFailed(details={"years": [
            _("Bundled years: %s.") % ", ".join(sorted(data))]})
    with transaction.atomic():
        current = _locked(calendar)
        rows = []
        for year in sorted(set(years)):
            spec = data[str(year)]
            for kind, key in ((CalendarDay.HOLIDAY, "holidays"), (CalendarDay.WORKDAY, "workdays")):
                rows += [CalendarDay(calendar=current, date=dt.date.fromisoformat(day),
                                     kind=kind, name=name, source=spec["source"][:200],
                                     provisional=spec["provisional"])
                         for day, name in spec[key]]
        removed = CalendarDay.objects.filter(calendar=current, date__year__in=years).delete()[0]
        CalendarDay.objects.bulk_create(rows)
        BusinessCalendar.objects.filter(pk=current.pk).update(version=F("version") + 1)
        record_change(actor=actor, action="calendar.load", event="calendar.holidays_loaded",
                      object_type="calendar", object_id=current.pk, object_repr=current.name,
                      changes={"years": sorted(set(years)), "removed": removed,
                               "written": len(rows)})
        sla_recompute_later(actor)
    return len(rows)
