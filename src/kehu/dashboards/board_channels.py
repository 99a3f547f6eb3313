"""今日新增与渠道: new customers (leads) today and this week by source channel and by owner;
for the period, each channel's conversion — new → became a customer → first order — and the
revenue of its customers' purchases.

Read from the daily summaries in the viewer's scope. "Became a customer" is a lifecycle stage
in summary_selectors.CONVERTED_STAGES now; "first order" is having at least one purchase order
(Order.PURCHASE_STATUSES) now; both count the customers created in the period. Revenue is the
amount of purchase orders placed in the period, by the buying customer's source.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Q, Sum
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.accounts.models import User
from kehu.customers.labels import SOURCE_CHANNELS
from kehu.dashboards import charts
from kehu.dashboards import summary_selectors as sel
from kehu.dashboards.boards import Board, BoardData, Chart, Column, Figure, Table, register_board
from kehu.dashboards.periods import Period, named_period

MAX_OWNERS = 30  # bars of the by-owner chart


def source_label(code: str) -> str:
    if not code:
        return _("No source")
    return str(dict(SOURCE_CHANNELS).get(code, code))


def source_url(period: Period, code: str, **extra) -> str:
    return sel.customers_url(period, **({"source": code} if code else {"no_source": "1"}),
                             **extra)


def _by_source(user, period: Period) -> dict[str, dict]:
    rows: dict[str, dict] = defaultdict(lambda: {"new": 0, "converted": 0, "ordered": 0,
                                                 "orders": 0, "revenue": Decimal(0)})
    for source, n, converted, ordered in (
            sel.customer_summary(user, period).values("source").annotate(
                n=Sum("customers"),
                c=Sum("customers", filter=Q(lifecycle_stage__in=sel.CONVERTED_STAGES)),
                o=Sum("customers", filter=Q(ordered=True)))
            .values_list("source", "n", "c", "o")):
        row = rows[source]
        row["new"], row["converted"], row["ordered"] = n, converted or 0, ordered or 0
    for source, n, amount in (sel.order_summary(user, period).values("source")
                              .annotate(n=Sum("orders"), a=Sum("amount"))
                              .values_list("source", "n", "a")):
        rows[source]["orders"], rows[source]["revenue"] = n, Decimal(amount or 0)
    return rows


def _new_by(user, period: Period, field: str) -> dict:
    return dict(sel.customer_summary(user, period).values(field).annotate(n=Sum("customers"))
                .values_list(field, "n"))


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def build(*, user, period: Period, params) -> BoardData:
    today, week = named_period("today"), named_period("week")
    data = BoardData()
    by_today, by_week = _new_by(user, today, "source"), _new_by(user, week, "source")
    channels = _by_source(user, period)
    totals = {key: sum(row[key] for row in channels.values())
              for key in ("new", "converted", "ordered", "orders")}
    revenue = sum((row["revenue"] for row in channels.values()), Decimal(0))
    data.figures = [
        Figure("new_today", _("New today"), sum(by_today.values()),
               url=sel.customers_url(today)),
        Figure("new_week", _("New this week"), sum(by_week.values()),
               url=sel.customers_url(week)),
        Figure("new_period", _("New in the period"), totals["new"],
               url=sel.customers_url(period)),
        Figure("converted", _("Became customers"), totals["converted"],
               url=sel.customers_url(period, reached="customer"),
               hint=_("%(rate)s of the new") % {"rate": f"{_rate(totals['converted'], totals['new']) or 0:.1f}%"}),
        Figure("ordered", _("Placed a first order"), totals["ordered"],
               url=sel.customers_url(period, reached="order")),
        Figure("revenue", _("Revenue"), float(revenue), unit="¥",
               hint=_("%(orders)s orders in the period") % {"orders": totals["orders"]}),
    ]
    # Today and this week by source.
    sources = sorted(set(by_today) | set(by_week), key=lambda s: (-by_week.get(s, 0), s))
    data.charts.append(Chart("new_by_source", _("New by source"), charts.bar(
        [source_label(s) for s in sources],
        [{"name": _("Today"), "data": [charts.point(by_today.get(s, 0), name=source_label(s),
                                                    url=source_url(today, s)) for s in sources]},
         {"name": _("This week"), "data": [charts.point(by_week.get(s, 0), name=source_label(s),
                                                        url=source_url(week, s))
                                           for s in sources]}])))
    # This week by owner.
    by_owner = _new_by(user, week, "owner_id")
    owners = sorted(by_owner, key=lambda pk: -by_owner[pk])[:MAX_OWNERS]
    names = {u.pk: sel.person_name(u) for u in User.objects.filter(pk__in=owners)}
    labels = [names.get(pk) or _("No owner") for pk in owners]
    data.charts.append(Chart("new_by_owner", _("New this week by owner"), charts.bar(
        labels, [{"name": _("This week"), "data": [
            charts.point(by_owner[pk], name=label,
                         url=sel.customers_url(week, owner=pk) if pk else "")
            for pk, label in zip(owners, labels, strict=True)]}], horizontal=True),
        height=max(200, 28 * len(owners) + 60)))
    # Conversion by channel for the period.
    order = sorted(channels, key=lambda s: (-channels[s]["new"], -channels[s]["revenue"], s))
    data.charts.append(Chart("funnel", _("From new to first order"), charts.funnel(
        _("Customers"), [
            charts.point(totals["new"], name=_("New"), url=sel.customers_url(period)),
            charts.point(totals["converted"], name=_("Became customers"),
                         url=sel.customers_url(period, reached="customer")),
            charts.point(totals["ordered"], name=_("Placed a first order"),
                         url=sel.customers_url(period, reached="order"))])))
    data.charts.append(Chart("revenue", _("Revenue by channel"), charts.bar(
        [source_label(s) for s in order],
        [{"name": _("Revenue"), "data": [charts.point(float(channels[s]["revenue"]),
                                                      name=source_label(s)) for s in order]}])))
    rows = []
    for source in order:
        row = channels[source]
        rows.append({
            "source": source_label(source), "code": source, "new": row["new"],
            "new_url": source_url(period, source) if row["new"] else "",
            "converted": row["converted"],
            "converted_url": source_url(period, source, reached="customer") if row["converted"]
            else "",
            "ordered": row["ordered"],
            "ordered_url": source_url(period, source, reached="order") if row["ordered"] else "",
            "conversion": _rate(row["converted"], row["new"]),
            "order_rate": _rate(row["ordered"], row["new"]),
            "orders": row["orders"], "revenue": float(row["revenue"])})
    data.tables.append(Table("channels", _("Conversion by channel"), [
        Column("source", _("Source")), Column("new", _("New"), "number"),
        Column("converted", _("Became customers"), "number"),
        Column("ordered", _("Placed a first order"), "number"),
        Column("conversion", _("New → customer"), "percent"),
        Column("order_rate", _("New → first order"), "percent"),
        Column("orders", _("Orders"), "number"), Column("revenue", _("Revenue"), "money")],
        rows, empty=_("No new customers or orders in this period.")))
    return data


BOARD = register_board(Board(
    key="channels", title=gettext_lazy("New today and channels"),
    description=gettext_lazy("New leads today and this week by source and owner; conversion "
                             "and revenue by channel"),
    permission="customer.view", build=build, order=50, default_period="month"))
