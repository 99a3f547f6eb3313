"""数据质量看板 (the data steward's quality board): today's figures over the customers the
viewer sees (kehu.quality.selectors.quality_summary) and the quality trend over the period
from the nightly snapshots (quality_trend: whole-base figures, for viewers who see everyone)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.dashboards import charts
from kehu.dashboards.boards import Board, BoardData, Chart, Column, Figure, Table, register_board
from kehu.quality.selectors import quality_summary, quality_trend


def _customers(**params) -> str:
    return f"{reverse('customers:list')}?{urlencode(params)}"


def _duplicates_url() -> str:
    try:
        return reverse("identity:queue")
    except NoReverseMatch:
        return ""


def build(*, user, period, params) -> BoardData:
    summary = quality_summary(user=user)
    points = quality_trend(user=user, start=period.start, end=period.end)
    figures = [
        Figure("average", _("Average score"), summary.average_score, reverse("quality:dashboard"),
               hint=_("%(scored)s of %(total)s customers scored") % {
                   "scored": summary.scored, "total": summary.customers}),
        Figure("low", _("Score below 50"), summary.bands["low"], _customers(quality_below=50),
               alert=bool(summary.bands["low"])),
        Figure("stale", _("No contact in %(days)s days") % {"days": summary.stale_days},
               summary.stale_customers, _customers(stale_days=summary.stale_days)),
    ]
    if summary.pending_duplicates is not None:
        figures.append(Figure("duplicates", _("Pending duplicates"), summary.pending_duplicates,
                              _duplicates_url(), alert=bool(summary.pending_duplicates)))
    days = [p["day"].isoformat() for p in points]
    scores = charts.line(days, [
        {"name": _("Average score"), "data": [p["average_score"] for p in points]},
        {"name": _("Completeness"), "data": [p["completeness"] for p in points]},
        {"name": _("Validity"), "data": [p["validity"] for p in points]},
        {"name": _("Freshness"), "data": [p["freshness"] for p in points]}])
    scores["yAxis"] = {"type": "value", "min": 0, "max": 100}
    problems = charts.line(days, [
        {"name": _("Customers with invalid values"),
         "data": [p["invalid_customers"] for p in points]},
        {"name": _("Customers without contact"), "data": [p["stale_customers"] for p in points]},
        {"name": _("Pending duplicates"), "data": [p["pending_duplicates"] for p in points]}])
    bands = charts.pie(_("Customers"), [
        charts.point(summary.bands["low"], name=_("Below 50"), url=_customers(quality_below=50)),
        charts.point(summary.bands["medium"], name=_("50 to 79")),
        charts.point(summary.bands["high"], name=_("80 and above"))])
    worst = Table("worst_fields", _("Worst fields"), [
        Column("label", _("Field")), Column("percent", _("Filled"), "percent"),
        Column("missing", _("Missing"), "number")],
        [{"label": f.label, "percent": f.percent, "missing": f.missing}
         for f in summary.completeness if f.missing][:10],
        empty=_("Every weighted field is filled."))
    notes = []
    if user.access.scope != "all":
        notes.append(_("The trend covers every customer, so it is shown only to those who "
                       "see every customer."))
    elif not points:
        notes.append(_("No daily snapshots in this period yet: the nightly job records one "
                       "each day (kehu quality snapshot)."))
    chart_list = [Chart("bands", _("Customers by score"), bands)]
    if points:
        chart_list = [Chart("trend", _("Quality trend"), scores),
                      Chart("problems", _("Problems over time"), problems), *chart_list]
    return BoardData(figures=figures, charts=chart_list, tables=[worst], notes=notes)


register_board(Board(
    key="quality", title=gettext_lazy("Data quality board"),
    description=gettext_lazy("Quality score over time, invalid values, stale customers and "
                             "duplicates"),
    permission="quality.view", build=build, order=80, default_period="last_90"))
