"""Forecast arithmetic over a queryset of deals, shared by the selectors (pages, API) and the
weekly snapshot service. Nothing here checks permissions: callers pass a scoped queryset.

For each expected close month, over open deals:
- commit    = Σ amount × probability of deals in the commit category,
- best case = Σ amount × probability of commit and best-case deals,
- pipeline  = Σ amount × probability of every open deal,
each computed exactly (amounts summed per probability in the database, multiplied in
Decimal) and rounded to the cent once. `won` is the amount of deals won (closed) in the
month. Categories are cumulative, as sales forecasts are read: commit ≤ best case ≤ pipeline.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from kehu.pipeline.models import BEST_CASE, COMMIT, OPEN, WON
from kehu.pipeline.money import HUNDRED, money

ZERO = Decimal("0.00")


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def add_months(day: dt.date, n: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def period_bounds(period_kind: str, year: int, period: int) -> tuple[dt.date, dt.date]:
    """[first day, first day after) of a month or a quarter; a period outside its kind (month
    13, quarter 5) is refused as invalid input."""
    from django.utils.translation import gettext as _

    from kehu.core.errors import ValidationFailed

    last = 4 if period_kind == "quarter" else 12
    if not 1 <= period <= last:
        raise ValidationFailed(details={"period": [
            _("Give a period from 1 to %(last)s.") % {"last": last}]})
    if period_kind == "quarter":
        first = dt.date(year, (period - 1) * 3 + 1, 1)
        return first, add_months(first, 3)
    first = dt.date(year, period, 1)
    return first, add_months(first, 1)


def local_bounds(first: dt.date, after: dt.date) -> tuple[dt.datetime, dt.datetime]:
    zone = timezone.get_current_timezone()
    return (dt.datetime.combine(first, dt.time.min, tzinfo=zone),
            dt.datetime.combine(after, dt.time.min, tzinfo=zone))


@dataclass
class MonthForecast:
    month: dt.date
    commit: Decimal = ZERO
    best_case: Decimal = ZERO
    pipeline: Decimal = ZERO
    won: Decimal = ZERO
    open_count: int = 0
    open_amount: Decimal = ZERO
    _sums: dict = field(default_factory=dict, repr=False)


def forecast_months(deals: QuerySet, first: dt.date, months: int) -> list[MonthForecast]:
    """The forecast of `deals` for `months` close months from `first` (two queries)."""
    first = month_start(first)
    after = add_months(first, months)
    rows = {add_months(first, n): MonthForecast(month=add_months(first, n))
            for n in range(months)}
    grouped = (deals.filter(status=OPEN, expected_close_date__gte=first,
                            expected_close_date__lt=after)
               .annotate(m=TruncMonth("expected_close_date"))
               .values("m", "forecast_category", "probability")
               .annotate(total=Sum("amount"), n=Count("id")).order_by())
    exact: dict[dt.date, dict[str, Decimal]] = defaultdict(
        lambda: {"commit": ZERO, "best": ZERO, "all": ZERO})
    for row in grouped:
        month = row["m"]
        month = month.date() if isinstance(month, dt.datetime) else month
        if month not in rows:
            continue
        product = Decimal(row["total"] or 0) * row["probability"]
        bucket = exact[month]
        bucket["all"] += product
        if row["forecast_category"] in (COMMIT, BEST_CASE):
            bucket["best"] += product
        if row["forecast_category"] == COMMIT:
            bucket["commit"] += product
        rows[month].open_count += row["n"]
        rows[month].open_amount += money(row["total"] or 0)
    for month, bucket in exact.items():
        target = rows[month]
        target.commit = money(bucket["commit"] / HUNDRED)
        target.best_case = money(bucket["best"] / HUNDRED)
        target.pipeline = money(bucket["all"] / HUNDRED)
    since, until = local_bounds(first, after)
    zone = timezone.get_current_timezone()
    won = (deals.filter(status=WON, closed_at__gte=since, closed_at__lt=until)
           .annotate(m=TruncMonth("closed_at", tzinfo=zone)).values("m")
           .annotate(total=Sum("amount")).order_by())
    for row in won:
        month = row["m"]
        month = timezone.localtime(month).date() if isinstance(month, dt.datetime) else month
        if month in rows:
            rows[month].won = money(row["total"] or 0)
    return [rows[m] for m in sorted(rows)]


def won_between(deals: QuerySet, first: dt.date, after: dt.date) -> Decimal:
    since, until = local_bounds(first, after)
    total = deals.filter(status=WON, closed_at__gte=since, closed_at__lt=until).aggregate(
        s=Sum("amount"))["s"]
    return money(total or 0)
