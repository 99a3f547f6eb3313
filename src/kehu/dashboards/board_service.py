"""服务看板 (the service board): open tickets, SLA breaches and satisfaction (CSAT) over a
period, in the viewer's scope. Every number comes from kehu.service.selectors.service_stats
(tickets of the customers the user may see); the queue figures open the queue behind them."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.dashboards import charts
from kehu.dashboards.boards import Board, BoardData, Chart, Column, Figure, Table, register_board
from kehu.service.selectors import service_stats


def _queue(name: str) -> str:
    return f"{reverse('service:queue')}?{urlencode({'queue': name})}"


def bucket_of(day: dt.date, days: int) -> dt.date:
    """The first day of the bucket a day falls in: days for a period up to two months, weeks
    (from Monday) up to a year, months beyond."""
    if days <= 62:
        return day
    if days <= 366:
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def bucket_label(start: dt.date, days: int) -> str:
    if days > 366:
        return f"{start.year}-{start.month:02d}"
    return start.isoformat()


def bucketed(rows: list[dict], period, keys: tuple[str, ...]) -> list[dict]:
    """Per-day rows summed into the period's buckets, every bucket present (zeros too)."""
    out: dict[dt.date, dict] = {}
    day = period.start
    while day <= period.end:
        out.setdefault(bucket_of(day, period.days), {key: 0 for key in keys})
        day += dt.timedelta(days=1)
    for row in rows:
        entry = out.get(bucket_of(row["day"], period.days))
        if entry is not None:
            for key in keys:
                entry[key] += row[key]
    return [{"start": start, **out[start]} for start in sorted(out)]


def build(*, user, period, params) -> BoardData:
    stats = service_stats(user, start=period.start, end=period.end)
    figures = [
        Figure("open", _("Open tickets"), stats.open, _queue("open")),
        Figure("unassigned", _("Unassigned"), stats.unassigned, _queue("unassigned"),
               alert=bool(stats.unassigned)),
        Figure("breaching", _("Breaching soon"), stats.breaching, _queue("breaching"),
               alert=bool(stats.breaching)),
        Figure("breached", _("SLA breached"), stats.breached, _queue("breached"),
               alert=bool(stats.breached)),
        Figure("opened", _("Opened in the period"), stats.opened),
        Figure("resolved", _("Resolved in the period"), stats.resolved),
        Figure("breached_in_period", _("Breached, of those opened"), stats.breached_in_period,
               hint=_("%(n)s with an SLA") % {"n": stats.with_sla}),
        Figure("average_rating", _("Average rating (1–5)"), stats.average_rating,
               hint=_("%(n)s ratings") % {"n": stats.ratings}),
        Figure("csat", _("CSAT"), stats.csat, unit="%",
               hint=_("Share of ratings 4 or 5")),
    ]
    buckets = bucketed(stats.days, period, ("opened", "resolved", "breached", "ratings",
                                            "good", "rating_sum"))
    labels = [bucket_label(b["start"], period.days) for b in buckets]
    volume = charts.bar(labels, [
        {"name": _("Tickets opened"), "data": [b["opened"] for b in buckets]},
        {"name": _("Tickets resolved"), "data": [b["resolved"] for b in buckets]},
        {"name": _("SLA breached"), "data": [b["breached"] for b in buckets]}])
    volume["yAxis"]["minInterval"] = 1  # whole tickets
    satisfaction = charts.line(labels, [
        {"name": _("CSAT (%)"), "data": [round(100 * b["good"] / b["ratings"], 1)
                                          if b["ratings"] else None for b in buckets]},
        {"name": _("Average rating × 20"), "data": [round(20 * b["rating_sum"] / b["ratings"], 1)
                                                     if b["ratings"] else None
                                                     for b in buckets]}])
    satisfaction["yAxis"] = {"type": "value", "min": 0, "max": 100}
    agents = Table("agents", _("Open tickets by assignee"), [
        Column("name", _("Assignee")), Column("open", _("Open"), "number"),
        Column("breached", _("SLA breached"), "number")],
        [{"name": row["name"] or _("Unassigned"), "open": row["open"],
          "breached": row["breached"]} for row in stats.by_agent],
        empty=_("No open tickets."))
    notes = [] if stats.ratings else [_("No satisfaction ratings in this period yet.")]
    return BoardData(figures=figures, charts=[
        Chart("volume", _("Tickets opened, resolved and breached"), volume),
        Chart("csat", _("Customer satisfaction trend"), satisfaction)],
        tables=[agents], notes=notes)


register_board(Board(
    key="service", title=gettext_lazy("Service board"),
    description=gettext_lazy("Open tickets, SLA breaches and customer satisfaction"),
    permission="ticket.manage", build=build, order=70, default_period="last_30"))
