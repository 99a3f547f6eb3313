"""销售漏斗: the lifecycle funnel of the customers added in the period and the stage funnel of
the deals opened in it (one pipeline, chosen with ?pipeline=ID), each step with its count,
amount, step-to-step conversion and drop-off, and the median days spent in it.

A step counts what *reached* it (the furthest stage in the record's history, lost stages left
out): scoring.selectors.lifecycle_reached_rank and pipeline.selectors.reached_position are the
one definitions, also behind the customer list's `lifecycle_reached` filter and the deal
list's `reached_stage` filter that each step opens. Counts come from one GROUP BY per funnel;
medians from the latest MEDIAN_SAMPLE finished stays.
"""

from __future__ import annotations

import statistics
from decimal import Decimal
from urllib.parse import urlencode

from django.db.models import Count, Sum
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from kehu.customers.models import Customer
from kehu.customers.selectors import customer_queryset
from kehu.dashboards import charts
from kehu.dashboards.boards import Board, BoardData, Chart, Column, Control, Figure, Table, register_board
from kehu.pipeline import selectors as pipeline
from kehu.scoring.selectors import LIFECYCLE_FUNNEL, lifecycle_reached_rank, lifecycle_stays

MEDIAN_SAMPLE = 20_000


def _pct(part, whole) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _steps(names: list[tuple[str, str, int]], counts: dict[int, tuple[int, Decimal]],
           medians: dict[str, float | None], urls: dict[str, str]) -> list[dict]:
    """One row per step: what reached it (reached rank ≥ the step's), its amount, conversion
    from the step before, drop-off and median days in it."""
    rows, before = [], None
    for key, label, rank in names:
        n = sum(c for r, (c, _a) in counts.items() if r is not None and r >= rank)
        amount = sum((a or Decimal(0) for r, (_c, a) in counts.items()
                      if r is not None and r >= rank), Decimal(0))
        conversion = _pct(n, before) if before is not None else None
        rows.append({"key": key, "step": label, "count": n, "amount": amount,
                     "conversion": conversion,
                     "drop_off": round(100.0 - conversion, 1) if conversion is not None else None,
                     "median_days": medians.get(key), "url": urls[key], "count_url": urls[key]})
        before = n
    return rows


def _by_reached(queryset, reached, amount_field: str) -> dict[int, tuple[int, Decimal]]:
    rows = (queryset.order_by().annotate(reached=reached).values("reached")
            .annotate(n=Count("pk"), amount=Sum(amount_field)))
    return {row["reached"]: (row["n"], row["amount"]) for row in rows}


def lifecycle_funnel(*, user, period) -> list[dict]:
    cohort = customer_queryset(user=user).filter(created_at__gte=period.start_dt(),
                                                 created_at__lt=period.end_dt())
    counts = _by_reached(cohort, lifecycle_reached_rank(), "value__monetary")
    stays: dict[str, list[float]] = {}
    for stage, days in lifecycle_stays(cohort, limit=MEDIAN_SAMPLE):
        stays.setdefault(stage, []).append(days)
    labels = dict(Customer.LIFECYCLE_STAGES)
    base = reverse("customers:list")
    urls = {stage: f"{base}?" + urlencode({
        "lifecycle_reached": stage, "created_from": period.start.isoformat(),
        "created_to": period.end.isoformat()}) for stage in LIFECYCLE_FUNNEL}
    return _steps([(stage, str(labels[stage]), rank) for rank, stage in enumerate(LIFECYCLE_FUNNEL)],
                  counts, {k: _median(v) for k, v in stays.items()}, urls)


def deal_funnel(*, user, period, pipeline_row) -> list[dict]:
    stages = [s for s in pipeline_row.stages.all() if s.kind != "lost"]
    cohort = pipeline.deal_queryset(user).filter(
        pipeline_id=pipeline_row.pk, created_at__gte=period.start_dt(),
        created_at__lt=period.end_dt())
    counts = _by_reached(cohort, pipeline.reached_position(), "amount")
    stays: dict[str, list[float]] = {}
    for stage_id, days in pipeline.stage_stays(cohort, limit=MEDIAN_SAMPLE):
        stays.setdefault(str(stage_id), []).append(days)
    base = reverse("pipeline:deals")
    urls = {str(s.pk): f"{base}?" + urlencode({
        "pipeline": pipeline_row.pk, "reached_stage": s.pk,
        "created_from": period.start.isoformat(), "created_to": period.end.isoformat()})
        for s in stages}
    return _steps([(str(s.pk), s.name, s.position) for s in stages], counts,
                  {k: _median(v) for k, v in stays.items()}, urls)


def _chart(key: str, title: str, steps: list[dict]) -> Chart:
    return Chart(key, title, charts.funnel(title, [
        charts.point(step["count"], name=step["step"], url=step["url"]) for step in steps]))


def _table(key: str, title: str, steps: list[dict]) -> Table:
    return Table(key, title, [
        Column("step", _("Step")), Column("count", _("Reached"), "number"),
        Column("amount", _("Amount"), "money"), Column("conversion", _("Conversion"), "percent"),
        Column("drop_off", _("Drop-off"), "percent"),
        Column("median_days", _("Median days in step"), "number")],
        [{k: v for k, v in step.items() if k != "key"} for step in steps])


def _chosen_pipeline(user, params):
    rows = list(pipeline.pipeline_list(user))
    raw = str(params.get("pipeline") or "")
    wanted = int(raw) if raw.isascii() and raw.isdigit() else None
    chosen = (next((p for p in rows if p.pk == wanted), None)
              or next((p for p in rows if p.is_default), None) or (rows[0] if rows else None))
    return rows, chosen


def build(*, user, period, params) -> BoardData:
    data = BoardData()
    life = lifecycle_funnel(user=user, period=period)
    added, became = life[0], life[LIFECYCLE_FUNNEL.index("customer")]
    data.figures += [
        Figure("new_customers", _("Customers added"), added["count"], url=added["url"]),
        Figure("became_customers", _("Became customers"), became["count"], url=became["url"]),
        Figure("lead_conversion", _("Lead → customer"), _pct(became["count"], added["count"]),
               unit="%", hint=_("of the customers added in the period")),
    ]
    data.charts.append(_chart("lifecycle", _("Lifecycle funnel"), life))
    data.tables.append(_table("lifecycle", _("Lifecycle steps"), life))
    pipelines, chosen = _chosen_pipeline(user, params)
    if chosen is None:
        data.notes.append(_("No pipeline yet: the deal funnel appears once one is set up."))
        return data
    if len(pipelines) > 1:
        data.controls.append(Control("pipeline", _("Pipeline"),
                                     [(str(p.pk), p.name) for p in pipelines], str(chosen.pk)))
    deals = deal_funnel(user=user, period=period, pipeline_row=chosen)
    if deals:
        opened, won = deals[0], deals[-1]
        data.figures += [
            Figure("deals_opened", _("Deals opened"), opened["count"], url=opened["url"]),
            Figure("deals_won", _("Deals won"), won["count"], url=won["url"]),
            Figure("won_amount", _("Won amount"), float(won["amount"]), unit="¥",
                   url=won["url"]),
            Figure("win_rate", _("Win rate"), _pct(won["count"], opened["count"]), unit="%",
                   hint=_("of the deals opened in the period")),
        ]
        title = _("Deal funnel · %(pipeline)s") % {"pipeline": chosen.name}
        data.charts.append(_chart("deals", title, deals))
        data.tables.append(_table("deals", _("Deal stages"), deals))
    return data


register_board(Board(
    key="funnel", title=gettext_lazy("Sales funnel"),
    description=gettext_lazy("Lifecycle and deal stages of what was added in the period: "
                             "conversion, drop-off and days per step"),
    permission="customer.view", build=build, order=10))
