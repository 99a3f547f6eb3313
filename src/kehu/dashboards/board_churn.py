"""流失预警: the customers at risk now (an at-risk RFM segment — 即将沉睡, 休眠, 有流失风险,
不能失去 — or a medium/high churn risk once kehu.insights has scored), what is at stake (the
12-month CLV where predicted, else the spend in the RFM window), by segment and by owner, and
the TOP_ROWS with most at stake with their owner, last contact and a one-click follow-up task
(insights:churn_task). The definitions are insights.selectors.at_risk_condition and
value_at_stake, also behind the customer list's `at_risk` filter each number opens.
"""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Count, F, Sum
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.customers.selectors import customer_queryset
from kehu.dashboards import charts
from kehu.dashboards.boards import Board, BoardData, Chart, Column, Figure, Table, register_board
from kehu.insights.models import CHURN_LEVELS
from kehu.insights.selectors import at_risk_condition, last_contact, value_at_stake
from kehu.scoring.labels import RFM_SEGMENTS

TOP_ROWS = 100
TOP_OWNERS = 10


def _url(**filters) -> str:
    return f"{reverse('customers:list')}?{urlencode({'at_risk': '1', **filters})}"


def at_risk_queryset(user):
    return customer_queryset(user=user).filter(at_risk_condition()).order_by()


def _owner_name(row) -> str:
    return row["owner__display_name"] or row["owner__username"] or _("No owner")


def build(*, user, period, params) -> BoardData:
    data = BoardData()
    at_risk = at_risk_queryset(user)
    totals = at_risk.aggregate(n=Count("pk"), stake=Sum(value_at_stake()))
    high = at_risk.filter(churn__level="high").count()
    data.figures += [
        Figure("at_risk", _("Customers at risk"), totals["n"], url=_url(), alert=bool(totals["n"])),
        Figure("value_at_stake", _("Value at stake"), float(totals["stake"] or 0), unit="¥",
               url=_url(), hint=_("12-month CLV where predicted, else spend in the RFM window")),
        Figure("high_risk", _("High churn risk"), high, url=_url(churn_level="high")),
    ]
    if not customer_queryset(user=user).filter(churn__isnull=False).exists():
        data.notes.append(_("Churn prediction has not run yet: customers at risk come from "
                            "their RFM segment only."))
    data.notes.append(_("As of now: the period does not apply to this board."))

    segments = dict(RFM_SEGMENTS)
    by_segment = (at_risk.values(segment=F("value__rfm_segment"))
                  .annotate(n=Count("pk"), stake=Sum(value_at_stake())).order_by("-n", "segment"))
    items = [r for r in by_segment if r["segment"]]
    if items:
        data.charts.append(Chart("segments", _("At risk by RFM segment"), charts.bar(
            [str(segments.get(r["segment"], r["segment"])) for r in items],
            [{"name": _("Customers"), "data": [charts.point(
                r["n"], name=str(segments.get(r["segment"], r["segment"])),
                url=_url(rfm_segment=r["segment"])) for r in items]}])))
    levels = dict(CHURN_LEVELS)
    by_level = [r for r in at_risk.values(level=F("churn__level")).annotate(n=Count("pk"))
                .order_by("level") if r["level"]]
    if by_level:
        data.charts.append(Chart("levels", _("At risk by churn risk level"), charts.pie(
            _("Churn risk level"), [charts.point(r["n"], name=str(levels.get(r["level"])),
                                                 url=_url(churn_level=r["level"]))
                                    for r in by_level])))
    by_owner = list(at_risk.values("owner_id", "owner__display_name", "owner__username")
                    .annotate(n=Count("pk"), stake=Sum(value_at_stake()))
                    .order_by(F("stake").desc(nulls_last=True), "owner_id")[:TOP_OWNERS])
    if by_owner:
        data.charts.append(Chart("owners", _("Value at stake by owner"), charts.bar(
            [_owner_name(r) for r in by_owner],
            [{"name": _("Value at stake"), "data": [charts.point(
                float(r["stake"] or 0), name=_owner_name(r),
                url=_url(owner=r["owner_id"]) if r["owner_id"] else "") for r in by_owner]}],
            horizontal=True)))

    can_task = user.access.can("interaction.add")
    rows = (at_risk.annotate(stake=value_at_stake(), contact=last_contact())
            .values("pk", "name", "owner_id", "owner__display_name", "owner__username",
                    "value__rfm_segment", "churn__churn_risk", "stake", "contact")
            .order_by(F("stake").desc(nulls_last=True), "pk")[:TOP_ROWS])
    table_rows = []
    for row in rows:
        risk = row["churn__churn_risk"]
        table_rows.append({
            "name": row["name"], "url": reverse("cards:card", args=[row["pk"]]),
            "owner": _owner_name(row) if row["owner_id"] else "—",
            "segment": str(segments.get(row["value__rfm_segment"], "")) or "—",
            "risk": round(100 * risk, 1) if risk is not None else None,
            "stake": row["stake"] if row["stake"] is not None else Decimal(0),
            "contact": row["contact"],
            "task": _("Create task"),
            "task_url": reverse("insights:churn_task", args=[row["pk"]]) if can_task else ""})
    columns = [Column("name", _("Customer")), Column("owner", _("Owner")),
               Column("segment", _("RFM segment")), Column("risk", _("Churn risk"), "percent"),
               Column("stake", _("Value at stake"), "money"),
               Column("contact", _("Last contact"), "date")]
    if can_task:
        columns.append(Column("task", _("Follow-up"), "action"))
    title = _("Most at stake (top %(n)d)") % {"n": TOP_ROWS}
    data.tables.append(Table("at_risk", title, columns, table_rows,
                             empty=_("No customer is at risk.")))
    return data


register_board(Board(
    key="churn", title=gettext_lazy("Churn warning"),
    description=gettext_lazy("Customers slipping away, what is at stake, and a follow-up "
                             "in one click"),
    permission="scoring.view", build=build, order=30))
