"""预测与目标: the sales forecast against the targets by month and quarter, attainment per rep
and team, and pipeline coverage.

The arithmetic is the pipeline's own (kehu.pipeline.forecast: weighted commit / best case /
pipeline by expected close month, won by close date; pipeline.selectors.attainment against a
target), over the deals in the viewer's scope. The target of the viewer's whole scope for a
month or quarter is the sum of the people's targets in it; where no person has one, the sum of
the targets of the outermost teams in scope (a team's target already covers its sub-teams).

Coverage = the open weighted pipeline expected to close in the target period ÷ what is left of
the target (target − won); above 1 the pipeline could fill the gap.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import Team
from kehu.dashboards import charts
from kehu.dashboards import summary_selectors as sel
from kehu.dashboards.boards import Board, BoardData, Chart, Column, Figure, Table, register_board
from kehu.dashboards.periods import Period
from kehu.pipeline.forecast import add_months, forecast_months, month_start, period_bounds, won_between
from kehu.pipeline.models import Target
from kehu.pipeline.selectors import attainment, deal_queryset, target_list, team_subtree

MAX_MONTHS = 24
TARGET_KINDS = {"quarter": gettext_lazy("Quarter"), "month": gettext_lazy("Month")}


def _target_period(kind: str, day: dt.date) -> tuple[int, int]:
    return day.year, (day.month if kind == Target.MONTH else (day.month - 1) // 3 + 1)


def scope_target(user, kind: str, year: int, period: int) -> Decimal | None:
    """The target of everything the viewer sees for one month or quarter (None: none set)."""
    rows = target_list(user).filter(period_kind=kind, year=year, period=period)
    people = rows.filter(user__isnull=False)
    if people.exists():
        return Decimal(people.aggregate(s=Sum("amount"))["s"])
    teams = dict(rows.filter(team__isnull=False).values_list("team_id", "amount"))
    if not teams:
        return None
    parents = dict(Team.objects.values_list("pk", "parent_id"))

    def outermost(pk: int) -> bool:
        seen, parent = set(), parents.get(pk)
        while parent and parent not in seen:
            if parent in teams:
                return False
            seen.add(parent)
            parent = parents.get(parent)
        return True

    return sum((Decimal(amount) for pk, amount in teams.items() if outermost(pk)), Decimal(0))


def _pipeline_in(deals, first: dt.date, after: dt.date) -> Decimal:
    months = (after.year - first.year) * 12 + after.month - first.month
    return sum((m.pipeline for m in forecast_months(deals, first, months)), Decimal(0))


def _coverage(pipeline: Decimal, target: Decimal | None, won: Decimal) -> float | None:
    if target is None or target <= won:
        return None
    return round(float(pipeline / (target - won)), 2)


def _rate(won: Decimal, target: Decimal | None) -> float | None:
    return round(float(100 * won / target), 1) if target else None


def month_label(year: int, month: int) -> str:
    """"12月" this year, "2025年12月" another (the year only when it is not this year)."""
    if year == timezone.localdate().year:
        return _("Month %(month)s") % {"month": month}
    return _("%(year)s-%(month)02d") % {"year": year, "month": month}


def quarter_label(year: int, number: int) -> str:
    if year == timezone.localdate().year:
        return _("Q%(n)s") % {"n": number}
    return _("%(year)s Q%(n)s") % {"year": year, "n": number}


def _kind(params) -> tuple[str, str]:
    wanted = (params.get("target") or "").strip()
    if not wanted:
        return Target.QUARTER, ""
    if wanted not in TARGET_KINDS:
        return Target.QUARTER, _("target: choose month or quarter; showing the quarter.")
    return wanted, ""


def _deals_url(**query) -> str:
    return f"{reverse('pipeline:deals')}?{urlencode(query)}"


def build(*, user, period: Period, params) -> BoardData:
    kind, error = _kind(params)
    data = BoardData(notes=[error] if error else [])
    deals = deal_queryset(user)
    # By month over the months the period touches.
    first = month_start(period.start)
    count = min(MAX_MONTHS, (period.end.year - first.year) * 12 + period.end.month - first.month + 1)
    months = forecast_months(deals, first, count)
    month_targets = [scope_target(user, Target.MONTH, m.month.year, m.month.month) for m in months]
    labels = [month_label(m.month.year, m.month.month) for m in months]
    option = charts.bar(labels, [
        {"name": _("Won"), "data": [float(m.won) for m in months]},
        {"name": _("Commit"), "data": [float(m.commit) for m in months]},
        {"name": _("Best case"), "data": [float(m.best_case) for m in months]},
        {"name": _("Weighted pipeline"), "data": [float(m.pipeline) for m in months]}])
    option["series"].append({"type": "line", "name": _("Target"),
                             "data": [float(t) if t is not None else None for t in month_targets]})
    option["legend"]["data"].append(_("Target"))
    data.charts.append(Chart("by_month", _("Forecast against target by month"), option))
    month_rows = [{"month": label, "target": float(t) if t is not None else None,
                   "won": float(m.won), "commit": float(m.commit),
                   "best_case": float(m.best_case), "pipeline": float(m.pipeline),
                   "attainment": _rate(m.won, t), "open_count": m.open_count}
                  for label, m, t in zip(labels, months, month_targets, strict=True)]
    data.tables.append(Table("months", _("By month"), [
        Column("month", _("Month")), Column("target", _("Target"), "money"),
        Column("won", _("Won"), "money"), Column("commit", _("Commit"), "money"),
        Column("best_case", _("Best case"), "money"),
        Column("pipeline", _("Weighted pipeline"), "money"),
        Column("attainment", _("Attainment"), "percent"),
        Column("open_count", _("Open deals"), "number")], month_rows))
    # By quarter over the quarters the period touches.
    quarter_rows = []
    quarter = dt.date(first.year, (first.month - 1) // 3 * 3 + 1, 1)
    while quarter <= period.end and len(quarter_rows) < MAX_MONTHS // 3:
        number = (quarter.month - 1) // 3 + 1
        q_first, q_after = period_bounds(Target.QUARTER, quarter.year, number)
        target = scope_target(user, Target.QUARTER, quarter.year, number)
        won = won_between(deals, q_first, q_after)
        pipeline = _pipeline_in(deals, q_first, q_after)
        quarter_rows.append({"quarter": quarter_label(quarter.year, number),
                             "target": float(target) if target is not None else None,
                             "won": float(won), "pipeline": float(pipeline),
                             "forecast": float(won + pipeline), "attainment": _rate(won, target),
                             "coverage": _coverage(pipeline, target, won)})
        quarter = add_months(quarter, 3)
    data.tables.append(Table("quarters", _("By quarter"), [
        Column("quarter", _("Quarter")), Column("target", _("Target"), "money"),
        Column("won", _("Won"), "money"), Column("pipeline", _("Weighted pipeline"), "money"),
        Column("forecast", _("Won + weighted pipeline"), "money"),
        Column("attainment", _("Attainment"), "percent"),
        Column("coverage", _("Coverage"), "number")], quarter_rows))
    # The target period (the month or quarter holding the period's last day).
    year, number = _target_period(kind, period.end)
    t_first, t_after = period_bounds(kind, year, number)
    target = scope_target(user, kind, year, number)
    won = won_between(deals, t_first, t_after)
    pipeline = _pipeline_in(deals, t_first, t_after)
    name = (quarter_label(year, number) if kind == Target.QUARTER
            else month_label(year, number))
    data.figures = [
        Figure("target", _("Target %(period)s") % {"period": name},
               float(target) if target is not None else None, unit="¥"),
        Figure("won", _("Won"), float(won), unit="¥"),
        Figure("attainment", _("Attainment"), _rate(won, target), unit="%",
               alert=target is not None and won < target),
        Figure("pipeline", _("Open weighted pipeline"), float(pipeline), unit="¥",
               url=_deals_url(status="open")),
        Figure("remaining", _("Left to the target"),
               float(max(target - won, Decimal(0))) if target is not None else None, unit="¥"),
        Figure("coverage", _("Pipeline coverage"), _coverage(pipeline, target, won),
               unit="×", hint=_("weighted pipeline ÷ what is left of the target")),
    ]
    rep_rows = []
    for person in sel.people(user):
        reached = attainment(user, period_kind=kind, year=year, period=number, owner_id=person.pk)
        mine = _pipeline_in(deals.filter(owner_id=person.pk), t_first, t_after)
        rep_rows.append({"name": sel.person_name(person), "id": person.pk,
                         "team": person.team.name if person.team_id else "",
                         "url": _deals_url(owner=person.pk, status="open"),
                         "target": float(reached.target) if reached.target is not None else None,
                         "won": float(reached.won), "attainment": _rate(reached.won,
                                                                         reached.target),
                         "pipeline": float(mine),
                         "coverage": _coverage(mine, reached.target, reached.won)})
    rep_rows.sort(key=lambda r: (r["attainment"] is None, -(r["attainment"] or 0), r["name"]))
    columns = [Column("target", _("Target"), "money"), Column("won", _("Won"), "money"),
               Column("attainment", _("Attainment"), "percent"),
               Column("pipeline", _("Open weighted pipeline"), "money"),
               Column("coverage", _("Coverage"), "number")]
    data.tables.append(Table("reps", _("Attainment by sales rep, %(period)s") % {"period": name},
                             [Column("name", _("Sales rep")), Column("team", _("Team")),
                              *columns], rep_rows, empty=_("No sales reps in view.")))
    team_rows = []
    for team in sel.teams(user):
        reached = attainment(user, period_kind=kind, year=year, period=number, team_id=team.pk)
        mine = _pipeline_in(deals.filter(team_id__in=team_subtree(team.pk)), t_first, t_after)
        team_rows.append({"name": team.name, "id": team.pk,
                          "url": _deals_url(team=team.pk, status="open"),
                          "target": float(reached.target) if reached.target is not None else None,
                          "won": float(reached.won), "attainment": _rate(reached.won,
                                                                          reached.target),
                          "pipeline": float(mine),
                          "coverage": _coverage(mine, reached.target, reached.won)})
    data.tables.append(Table("teams", _("Attainment by team, %(period)s") % {"period": name},
                             [Column("name", _("Team")), *columns], team_rows,
                             empty=_("No teams in view.")))
    shown = rep_rows[:20]
    data.charts.append(Chart("attainment", _("Won against target by sales rep"), charts.bar(
        [r["name"] for r in shown], [
            {"name": _("Won"), "data": [charts.point(r["won"], name=r["name"], url=r["url"])
                                        for r in shown]},
            {"name": _("Target"), "data": [charts.point(r["target"], name=r["name"])
                                           for r in shown]}],
        horizontal=True), height=max(200, 40 * len(shown) + 60)))
    return data


BOARD = register_board(Board(
    key="forecast", title=gettext_lazy("Forecast and targets"),
    description=gettext_lazy("The forecast against the targets by month and quarter, "
                             "attainment per rep and team, pipeline coverage"),
    permission="customer.view", build=build, order=60, default_period="quarter"))
