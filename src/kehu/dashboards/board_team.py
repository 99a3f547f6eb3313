"""团队绩效: per sales rep and per team for a period — follow-ups logged, customers contacted,
overdue follow-ups, new customers, lead → customer conversion, deals won and their amount,
average order value, tickets resolved (count, hours) and satisfaction; a ranking by a chosen
measure (?rank_by=) and a weekly trend against the previous period.

Every number is read in the viewer's record scope: the daily summaries restricted by the
customers' owner and team (summary_selectors), deals through the pipeline's selectors,
follow-ups through the interactions' and tickets through the transactions'. A rep's row
counts what the rep did (logged, owns, won, resolved) among the records the viewer may see.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.customers.selectors import rows_of_visible_customers
from kehu.dashboards import charts
from kehu.dashboards import summary_selectors as sel
from kehu.dashboards.boards import Board, BoardData, Chart, Column, Figure, Table, register_board
from kehu.dashboards.periods import Period
from kehu.interactions.models import Interaction
from kehu.interactions.selectors import follow_up_tab
from kehu.pipeline.models import WON
from kehu.pipeline.selectors import deal_queryset
from kehu.transactions.selectors import ticket_list

# measure key -> (label, column kind); the ranking may sort by any of them
MEASURES = {
    "follow_ups": (gettext_lazy("Follow-ups logged"), "number"),
    "contacted": (gettext_lazy("Customers contacted"), "number"),
    "overdue": (gettext_lazy("Overdue follow-ups"), "number"),
    "new_customers": (gettext_lazy("New customers"), "number"),
    "conversion": (gettext_lazy("Lead → customer"), "percent"),
    "deals_won": (gettext_lazy("Deals won"), "number"),
    "won_amount": (gettext_lazy("Amount won"), "money"),
    "aov": (gettext_lazy("Average order value"), "money"),
    "tickets_resolved": (gettext_lazy("Tickets resolved"), "number"),
    "resolution_hours": (gettext_lazy("Hours to resolve"), "number"),
    "csat": (gettext_lazy("Satisfaction"), "number"),
}
DEFAULT_RANK = "follow_ups"
SUMS = ("follow_ups", "contacted", "overdue", "new_customers", "converted", "deals_won",
        "won_amount", "orders", "revenue", "tickets_resolved", "resolution_seconds",
        "rated", "rating_total")


def _blank() -> dict:
    return {key: 0 for key in SUMS}


def _finish(row: dict) -> dict:
    """The derived measures of a row of sums."""
    row["conversion"] = (round(100 * row["converted"] / row["new_customers"], 1)
                         if row["new_customers"] else None)
    row["aov"] = round(float(row["revenue"]) / row["orders"], 2) if row["orders"] else None
    row["resolution_hours"] = (round(row["resolution_seconds"] / 3600 / row["tickets_resolved"],
                                     1) if row["tickets_resolved"] else None)
    row["csat"] = round(row["rating_total"] / row["rated"], 2) if row["rated"] else None
    row["won_amount"] = float(row["won_amount"])
    row["revenue"] = float(row["revenue"])
    return row


def _sums_by(user, period: Period, ids: list[int]) -> dict[int, dict]:
    """Per person id: the sums of every measure, in the user's scope."""
    rows: dict[int, dict] = defaultdict(_blank)
    since, until = period.start_dt(), period.end_dt()
    for actor_id, n in (sel.interaction_summary(user, period).filter(actor_id__in=ids)
                        .values("actor_id").annotate(n=Sum("interactions"))
                        .values_list("actor_id", "n")):
        rows[actor_id]["follow_ups"] = n
    contacted = (rows_of_visible_customers(user=user, queryset=Interaction.objects.all())
                 .filter(actor_id__in=ids, occurred_at__gte=since, occurred_at__lt=until)
                 .values("actor_id").annotate(n=Count("customer_id", distinct=True))
                 .values_list("actor_id", "n"))
    for actor_id, n in contacted:
        rows[actor_id]["contacted"] = n
    for assignee_id, n in (follow_up_tab(user, tab="overdue", mine=False).filter(
            assignee_id__in=ids).order_by().values("assignee_id").annotate(n=Count("id"))
            .values_list("assignee_id", "n")):
        rows[assignee_id]["overdue"] = n
    for owner_id, n, converted in (sel.customer_summary(user, period).filter(owner_id__in=ids)
                                   .values("owner_id").annotate(
            n=Sum("customers"),
            c=Sum("customers", filter=Q(lifecycle_stage__in=sel.CONVERTED_STAGES)))
            .values_list("owner_id", "n", "c")):
        rows[owner_id]["new_customers"] = n
        rows[owner_id]["converted"] = converted or 0
    for owner_id, n, amount in (sel.order_summary(user, period).filter(owner_id__in=ids)
                                .values("owner_id").annotate(n=Sum("orders"), a=Sum("amount"))
                                .values_list("owner_id", "n", "a")):
        rows[owner_id]["orders"] = n
        rows[owner_id]["revenue"] = Decimal(amount or 0)
    for owner_id, n, amount in (deal_queryset(user).filter(
            owner_id__in=ids, status=WON, closed_at__gte=since, closed_at__lt=until)
            .values("owner_id").annotate(n=Count("id"), a=Sum("amount"))
            .values_list("owner_id", "n", "a")):
        rows[owner_id]["deals_won"] = n
        rows[owner_id]["won_amount"] = Decimal(amount or 0)
    tickets = ticket_list(user).filter(assignee_id__in=ids, resolved_at__gte=since,
                                       resolved_at__lt=until).order_by()
    for assignee_id, opened, resolved, rating in tickets.values_list(
            "assignee_id", "opened_at", "resolved_at", "satisfaction"):
        row = rows[assignee_id]
        row["tickets_resolved"] += 1
        row["resolution_seconds"] += max(0.0, (resolved - opened).total_seconds())
        if rating:
            row["rated"] += 1
            row["rating_total"] += rating
    return rows


def _totals(user, period: Period) -> dict:
    """The same measures over the whole scope (every record the viewer may see)."""
    row = _blank()
    since, until = period.start_dt(), period.end_dt()
    row["follow_ups"] = sel.interaction_summary(user, period).aggregate(
        n=Sum("interactions"))["n"] or 0
    row["contacted"] = (rows_of_visible_customers(user=user, queryset=Interaction.objects.all())
                        .filter(occurred_at__gte=since, occurred_at__lt=until)
                        .values("customer_id").distinct().count())
    row["overdue"] = follow_up_tab(user, tab="overdue", mine=False).count()
    found = sel.customer_summary(user, period).aggregate(
        n=Sum("customers"), c=Sum("customers", filter=Q(lifecycle_stage__in=sel.CONVERTED_STAGES)))
    row["new_customers"], row["converted"] = found["n"] or 0, found["c"] or 0
    found = sel.order_summary(user, period).aggregate(n=Sum("orders"), a=Sum("amount"))
    row["orders"], row["revenue"] = found["n"] or 0, Decimal(found["a"] or 0)
    found = deal_queryset(user).filter(status=WON, closed_at__gte=since,
                                       closed_at__lt=until).aggregate(n=Count("id"), a=Sum("amount"))
    row["deals_won"], row["won_amount"] = found["n"] or 0, Decimal(found["a"] or 0)
    for opened, resolved, rating in ticket_list(user).filter(
            resolved_at__gte=since, resolved_at__lt=until).order_by().values_list(
            "opened_at", "resolved_at", "satisfaction"):
        row["tickets_resolved"] += 1
        row["resolution_seconds"] += max(0.0, (resolved - opened).total_seconds())
        if rating:
            row["rated"] += 1
            row["rating_total"] += rating
    return _finish(row)


def _weekly(user, period: Period) -> tuple[list[int], list[int]]:
    """Follow-ups and new customers per week of the period (week 1 starts on its first day)."""
    weeks = (period.days + 6) // 7
    follow_ups, new = [0] * weeks, [0] * weeks
    for day, n in (sel.interaction_summary(user, period).values("day")
                   .annotate(n=Sum("interactions")).values_list("day", "n")):
        follow_ups[(day - period.start).days // 7] += n
    for day, n in (sel.customer_summary(user, period).values("day")
                   .annotate(n=Sum("customers")).values_list("day", "n")):
        new[(day - period.start).days // 7] += n
    return follow_ups, new


def _rank_by(params) -> tuple[str, str]:
    wanted = (params.get("rank_by") or "").strip()
    if not wanted:
        return DEFAULT_RANK, ""
    if wanted not in MEASURES:
        return DEFAULT_RANK, _("rank_by: unknown measure “%(key)s”; ranked by %(label)s.") % {
            "key": wanted[:30], "label": MEASURES[DEFAULT_RANK][0]}
    return wanted, ""


def _tasks_url(person_id: int) -> str:
    return f"{reverse('interactions:follow_ups')}?{urlencode({'show': 'all', 'assignee': person_id, 'tab': 'overdue'})}"


def build(*, user, period: Period, params) -> BoardData:
    rank_by, error = _rank_by(params)
    persons = sel.people(user)
    by_id = {person.pk: person for person in persons}
    sums = _sums_by(user, period, list(by_id))
    data = BoardData(notes=[error] if error else [])
    total = _totals(user, period)
    all_url = sel.customers_url(period)
    data.figures = [
        Figure("follow_ups", _("Follow-ups logged"), total["follow_ups"]),
        Figure("contacted", _("Customers contacted"), total["contacted"]),
        Figure("overdue", _("Overdue follow-ups"), total["overdue"], alert=total["overdue"] > 0,
               url=f"{reverse('interactions:follow_ups')}?show=all&tab=overdue"),
        Figure("new_customers", _("New customers"), total["new_customers"], url=all_url),
        Figure("conversion", _("Lead → customer"), total["conversion"], unit="%",
               url=sel.customers_url(period, reached="customer"),
               hint=_("%(converted)s of %(new)s new customers became customers") % {
                   "converted": total["converted"], "new": total["new_customers"]}),
        Figure("deals_won", _("Deals won"), total["deals_won"]),
        Figure("won_amount", _("Amount won"), total["won_amount"], unit="¥"),
        Figure("aov", _("Average order value"), total["aov"], unit="¥",
               hint=_("%(orders)s orders") % {"orders": total["orders"]}),
        Figure("tickets_resolved", _("Tickets resolved"), total["tickets_resolved"]),
        Figure("resolution_hours", _("Hours to resolve"), total["resolution_hours"]),
        Figure("csat", _("Satisfaction"), total["csat"], hint=_("average of 1–5")),
    ]
    reps = []
    for person in persons:
        row = _finish(dict(sums.get(person.pk) or _blank()))
        reps.append({"person": person, **row})
    reps.sort(key=lambda r: (r[rank_by] is None, -(r[rank_by] or 0), r["person"].username))
    columns = [Column("rank", "#", "number"), Column("name", _("Sales rep")),
               Column("team", _("Team")),
               *[Column(key, str(label), kind) for key, (label, kind) in MEASURES.items()]]
    rows = []
    for n, row in enumerate(reps, 1):
        person = row.pop("person")
        rows.append({"rank": n, "name": sel.person_name(person), "id": person.pk,
                     "team": person.team.name if person.team_id else "",
                     "name_url": sel.customers_url(owner=person.pk),
                     "new_customers_url": sel.customers_url(period, owner=person.pk),
                     "overdue_url": _tasks_url(person.pk),
                     **{key: row[key] for key in MEASURES}})
    data.tables.append(Table("reps", _("Ranking by %(measure)s") % {
        "measure": MEASURES[rank_by][0]}, columns, rows, empty=_("No sales reps in view.")))
    # Teams: the sums of their members (a member counts in their own team).
    team_sums: dict[int, dict] = defaultdict(_blank)
    for person in persons:
        if person.team_id:
            for key in SUMS:
                team_sums[person.team_id][key] += (sums.get(person.pk) or _blank())[key]
    team_rows = []
    for team in sel.teams(user):
        if team.pk not in team_sums:
            continue
        row = _finish(dict(team_sums[team.pk]))
        team_rows.append({"name": team.name, "id": team.pk,
                          "url": sel.customers_url(team=team.pk),
                          **{key: row[key] for key in MEASURES}})
    team_rows.sort(key=lambda r: (r[rank_by] is None, -(r[rank_by] or 0), r["name"]))
    data.tables.append(Table("teams", _("Teams"), [Column("name", _("Team")), *[
        Column(key, str(label), kind) for key, (label, kind) in MEASURES.items()]], team_rows,
        empty=_("No teams in view.")))
    # The ranking as bars; a bar opens the rep's customers.
    label, kind = MEASURES[rank_by]
    shown = [r for r in rows if r[rank_by] is not None][:20]
    data.charts.append(Chart("ranking", _("Ranking by %(measure)s") % {"measure": label},
                             charts.bar([r["name"] for r in shown], [{"name": str(label), "data": [
                                 charts.point(r[rank_by], name=r["name"], url=r["name_url"])
                                 for r in shown]}], horizontal=True),
                             height=max(200, 28 * len(shown) + 60)))
    # Weekly trend against the previous period.
    now_follow, now_new = _weekly(user, period)
    before_follow, before_new = _weekly(user, period.previous())
    weeks = [_("Week %(n)s") % {"n": n + 1} for n in range(len(now_follow))]
    data.charts.append(Chart("trend", _("Weekly trend against the previous period"), charts.line(
        weeks, [{"name": _("Follow-ups logged"), "data": now_follow},
                {"name": _("Follow-ups logged, previous period"), "data": before_follow},
                {"name": _("New customers"), "data": now_new},
                {"name": _("New customers, previous period"), "data": before_new}])))
    return data


BOARD = register_board(Board(
    key="team", title=gettext_lazy("Team performance"),
    description=gettext_lazy("Follow-ups, conversion, deals, orders and service per sales rep "
                             "and team"),
    permission="customer.view", build=build, order=40, default_period="month"))
