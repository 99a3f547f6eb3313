"""Business time across lunch breaks, nights, weekends, PRC holidays and 调休 working days."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from kehu.service.calendar import (
    Schedule,
    add_business_seconds,
    add_working_days,
    builtin_prc_schedule,
    business_seconds_between,
    is_working_day,
    prc_holiday_data,
    schedule_of,
)

SH = ZoneInfo("Asia/Shanghai")
HOUR = 3600


def at(y, m, d, hh=0, mm=0, ss=0):
    return dt.datetime(y, m, d, hh, mm, ss, tzinfo=SH)


@pytest.fixture
def cal():
    return builtin_prc_schedule()


def test_working_days_follow_the_notices(cal):
    assert is_working_day(dt.date(2026, 1, 5), cal)          # Monday
    assert not is_working_day(dt.date(2026, 1, 10), cal)     # Saturday
    assert not is_working_day(dt.date(2026, 1, 2), cal)      # 元旦, a Friday off
    assert is_working_day(dt.date(2026, 1, 4), cal)          # Sunday worked (调休)
    assert not is_working_day(dt.date(2026, 2, 16), cal)     # 春节
    assert is_working_day(dt.date(2026, 2, 14), cal)         # Saturday worked
    assert is_working_day(dt.date(2026, 2, 28), cal)
    assert is_working_day(dt.date(2025, 9, 28), cal)         # Sunday worked before 国庆
    assert not is_working_day(dt.date(2025, 10, 8), cal)
    assert not is_working_day(dt.date(2027, 2, 9), cal)      # provisional 补假
    # A datetime counts by its local date: 23:30 UTC on Sunday 3 Jan is Monday 4 Jan in Shanghai
    assert is_working_day(dt.datetime(2026, 1, 3, 17, 0, tzinfo=dt.UTC), cal)


def test_every_day_of_2025_and_2026_matches_the_notices(cal):
    data = prc_holiday_data()["years"]
    for year in ("2025", "2026"):
        assert not data[year]["provisional"]
        holidays = {dt.date.fromisoformat(d) for d, _n in data[year]["holidays"]}
        workdays = {dt.date.fromisoformat(d) for d, _n in data[year]["workdays"]}
        assert not holidays & workdays
        assert all(d.weekday() >= 5 for d in workdays), "make-up days are weekend days"
    # The counts the notices give: 2025 has 28 days off in holiday blocks, 5 worked weekend
    # days; 2026 has 33 and 6.
    assert len(data["2025"]["holidays"]) == 28 and len(data["2025"]["workdays"]) == 5
    assert len(data["2026"]["holidays"]) == 33 and len(data["2026"]["workdays"]) == 6
    assert data["2027"]["provisional"]


def test_add_working_days_skips_holidays_and_counts_make_up_days(cal):
    assert add_working_days(dt.date(2026, 1, 5), 0, cal) == dt.date(2026, 1, 5)
    assert add_working_days(dt.date(2026, 1, 9), 1, cal) == dt.date(2026, 1, 12)  # Fri → Mon
    # 31 Dec 2025 (Wed) + 1: 1–3 Jan off, Sunday 4 Jan worked
    assert add_working_days(dt.date(2025, 12, 31), 1, cal) == dt.date(2026, 1, 4)
    # 13 Feb 2026 (Fri) + 1 is Saturday 14 Feb (worked), + 2 jumps the Spring Festival
    assert add_working_days(dt.date(2026, 2, 13), 1, cal) == dt.date(2026, 2, 14)
    assert add_working_days(dt.date(2026, 2, 13), 2, cal) == dt.date(2026, 2, 24)
    assert add_working_days(dt.date(2026, 2, 24), -1, cal) == dt.date(2026, 2, 14)
    # 15 working days after 30 Sep 2026: 8, 9, 10 (Saturday worked) Oct, then 12 more
    assert add_working_days(dt.date(2026, 9, 30), 15, cal) == dt.date(2026, 10, 27)


def test_seconds_skip_lunch_nights_and_weekends(cal):
    # 11:00 → 14:00 on a Monday: the 12–13 lunch break does not count
    assert business_seconds_between(at(2026, 3, 2, 11), at(2026, 3, 2, 14), cal) == 2 * HOUR
    # inside the lunch break nothing passes
    assert business_seconds_between(at(2026, 3, 2, 12, 10), at(2026, 3, 2, 12, 50), cal) == 0
    # Friday 17:00 → Monday 10:00: one hour Friday, one Monday
    assert business_seconds_between(at(2026, 3, 6, 17), at(2026, 3, 9, 10), cal) == 2 * HOUR
    # a whole week is 5 × 8 hours
    assert business_seconds_between(at(2026, 3, 2), at(2026, 3, 9), cal) == 40 * HOUR
    # reversed order is negative
    assert business_seconds_between(at(2026, 3, 2, 14), at(2026, 3, 2, 11), cal) == -2 * HOUR
    # aware datetimes in other zones are read in Shanghai time
    utc_start = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)     # 09:00 Shanghai
    assert business_seconds_between(utc_start, at(2026, 3, 2, 10), cal) == HOUR


def test_seconds_over_holidays_and_make_up_days(cal):
    # Thursday 30 Apr 2026 17:00 → Wednesday 6 May 10:00: 1–5 May off
    assert business_seconds_between(at(2026, 4, 30, 17), at(2026, 5, 6, 10), cal) == 2 * HOUR
    # Saturday 9 May 2026 is worked: 8 hours that day
    assert business_seconds_between(at(2026, 5, 9), at(2026, 5, 10), cal) == 8 * HOUR
    # ...while the Saturday after is not
    assert business_seconds_between(at(2026, 5, 16), at(2026, 5, 17), cal) == 0


def test_add_business_seconds(cal):
    # 11:30 + 1 h lands after lunch at 13:30
    assert add_business_seconds(at(2026, 3, 2, 11, 30), HOUR, cal) == at(2026, 3, 2, 13, 30)
    # exactly to the end of the day stays at 18:00 Friday, not Monday 09:00
    assert add_business_seconds(at(2026, 3, 6, 17), HOUR, cal) == at(2026, 3, 6, 18)
    assert add_business_seconds(at(2026, 3, 6, 17), HOUR + 1, cal) == at(2026, 3, 9, 9, 0, 1)
    # started at night: counts from the next morning
    assert add_business_seconds(at(2026, 3, 2, 22), 2 * HOUR, cal) == at(2026, 3, 3, 11)
    # across the Spring Festival: Fri 13 Feb 17:00 + 4 h: 1 h Fri, 8 h Sat 14 Feb worked
    assert add_business_seconds(at(2026, 2, 13, 17), 4 * HOUR, cal) == at(2026, 2, 14, 12)
    assert add_business_seconds(at(2026, 2, 13, 17), 10 * HOUR, cal) == at(2026, 2, 24, 10)
    # backwards
    assert add_business_seconds(at(2026, 3, 9, 10), -2 * HOUR, cal) == at(2026, 3, 6, 17)
    assert add_business_seconds(at(2026, 3, 2, 10), 0, cal) == at(2026, 3, 2, 10)
    # round trip
    start = at(2026, 9, 18, 16, 45)
    due = add_business_seconds(start, 30 * HOUR, cal)
    assert business_seconds_between(start, due, cal) == 30 * HOUR


def test_naive_datetimes_are_refused(cal):
    with pytest.raises(ValueError):
        business_seconds_between(dt.datetime(2026, 3, 2, 9), at(2026, 3, 2, 10), cal)


def test_no_lunch_break_and_seven_day_week():
    schedule = Schedule.build(workdays=range(7), hours=(dt.time(8), None, None, dt.time(20)))
    assert business_seconds_between(at(2026, 3, 7, 11), at(2026, 3, 7, 14), schedule) == 3 * HOUR


@pytest.mark.django_db
def test_default_calendar_from_the_database_is_editable(admin_user):
    from kehu.core.actor import Actor
    from kehu.core.models import DomainEvent
    from kehu.service.models import BusinessCalendar
    from kehu.service.services.calendars import (
        calendar_day_remove,
        calendar_day_set,
        calendar_update,
    )

    calendar = BusinessCalendar.objects.get(is_default=True)
    assert calendar.days.filter(date__year=2026).count() == 39
    actor = Actor(user=admin_user)
    monday = dt.date(2026, 3, 2)
    assert is_working_day(monday)
    calendar_day_set(actor=actor, calendar=calendar, date=monday, kind="holiday", name="公司假日")
    assert not is_working_day(monday)             # the cached schedule saw the new version
    assert add_working_days(dt.date(2026, 2, 27), 1) == dt.date(2026, 2, 28)
    calendar_day_remove(actor=actor, calendar=calendar, date=monday)
    assert is_working_day(monday)
    calendar.refresh_from_db()
    calendar_update(actor=actor, calendar=calendar, name=calendar.name, time_zone="Asia/Shanghai",
                    workdays=[0, 1, 2, 3, 4], day_start=dt.time(8, 30),
                    lunch_start=dt.time(11, 30), lunch_end=dt.time(13), day_end=dt.time(17, 30))
    assert business_seconds_between(at(2026, 3, 2), at(2026, 3, 3)) == 7.5 * HOUR
    types = list(DomainEvent.objects.filter(object_type="calendar").values_list("type", flat=True))
    assert types == ["calendar.day_set", "calendar.day_removed", "calendar.updated"]
    assert schedule_of(None).calendar_id == calendar.pk


@pytest.mark.django_db
def test_bad_hours_are_refused_and_nothing_changes(admin_user):
    from kehu.core.actor import Actor
    from kehu.core.errors import PermissionDenied, ValidationFailed
    from kehu.service.models import BusinessCalendar
    from kehu.service.services.calendars import calendar_day_set, calendar_update
    from tests.factories import UserFactory

    calendar = BusinessCalendar.objects.get(is_default=True)
    version = calendar.version
    with pytest.raises(ValidationFailed) as exc:
        calendar_update(actor=Actor(user=admin_user), calendar=calendar, name="x",
                        time_zone="Asia/Shanghai", workdays=[0, 1], day_start=dt.time(9),
                        lunch_start=dt.time(19), lunch_end=dt.time(20), day_end=dt.time(18))
    assert "lunch_start" in exc.value.details
    with pytest.raises(ValidationFailed) as exc:
        calendar_update(actor=Actor(user=admin_user), calendar=calendar, name="x",
                        time_zone="Mars/Base", workdays=[9], day_start=dt.time(9),
                        lunch_start=None, lunch_end=None, day_end=dt.time(18))
    assert {"time_zone", "workdays"} <= set(exc.value.details)
    agent = UserFactory(role_code="service_agent")
    with pytest.raises(PermissionDenied):
        calendar_day_set(actor=Actor(user=agent), calendar=calendar, date=dt.date(2026, 3, 2),
                         kind="holiday")
    calendar.refresh_from_db()
    assert calendar.version == version and calendar.name != "x"
    assert not calendar.days.filter(date=dt.date(2026, 3, 2)).exists()
