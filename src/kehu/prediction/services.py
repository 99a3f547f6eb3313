"""Every write of the prediction layer: a scoring run fits the customer-base model on the
company's own purchases (validated on a holdout), scores every buyer and stores the rows.

Purchases are `Order.PURCHASE_STATUSES` orders of active customers (the one definition shared
with RFM and segments), one transaction per customer and local day. Reading is set-based
(one SQL statement, numpy arrays); writing is multi-row upserts in short transactions. See
docs/prediction.md.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from itertools import repeat
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import ValidationFailed
from kehu.core.events import Related, emit_many, record_change
from kehu.core.jobs import job_open, job_report
from kehu.core.models import Job
from kehu.customers.models import Customer
from kehu.prediction import btyd
from kehu.prediction.fitting import EPOCH, FitReport, fit_transactions, validation_json
from kehu.prediction.models import CustomerPrediction, ModelFit
from kehu.transactions.models import Order

WRITE_SLICE = 20000
VALIDATION_SAMPLE = 200_000  # customers the holdout validation is fitted on, at most
UNIT_DAYS = 7.0  # the models work in weeks, as the paper does
HORIZON_DAYS = 90


def _setting(name: str, default):
    """A Django setting KEHU_PREDICTION_<name>, else the environment variable of that name."""
    key = f"KEHU_PREDICTION_{name}"
    value = getattr(settings, key, None)
    return value if value is not None else os.environ.get(key, default)


def thresholds() -> dict[str, Any]:
    """What a fit needs, and how it scores (Django settings KEHU_PREDICTION_*)."""
    return {"min_repeat_customers": int(_setting("MIN_REPEAT_CUSTOMERS", 100)),
            "min_history_days": int(_setting("MIN_HISTORY_DAYS", 120)),
            "monthly_discount": float(_setting("MONTHLY_DISCOUNT", 0.01)),
            "refit_days": int(_setting("REFIT_DAYS", 7)),
            "model": str(_setting("MODEL", "bgnbd"))}


def p_alive_band(p: float | None) -> str:
    """high / medium / low: a move between bands is a material change (an event)."""
    if p is None:
        return ""
    return "high" if p >= 0.7 else "medium" if p >= 0.3 else "low"


# Reading purchases ------------------------------------------------------------------------


def _purchases_sql() -> tuple[str, list]:
    """customer id, epoch seconds, amount of every purchase. Fixed SQL (names from _meta,
    values as parameters); the epoch is taken by the database (the driver's per-row datetime
    parsing costs more than the query at millions of rows). On SQLite the unary `+` keeps the
    status index out: a full scan in table order reads millions of orders several times
    faster than index lookups. Inactive customers are dropped afterwards (load_purchases)."""
    qn = connection.ops.quote_name
    o = Order._meta
    ordered = qn(o.get_field("ordered_at").column)
    amount = qn(o.get_field("total_amount").column)
    status = qn(o.get_field("status").column)
    if connection.vendor == "postgresql":
        epoch = f"CAST(EXTRACT(EPOCH FROM {ordered}) AS BIGINT)"
        money = f"CAST({amount} AS DOUBLE PRECISION)"
    else:
        epoch = f"CAST(strftime('%%s', {ordered}) AS INTEGER)"
        money = f"CAST({amount} AS REAL)"
        status = f"+{status}"
    statuses = list(Order.PURCHASE_STATUSES)
    sql = (f"SELECT {qn(o.get_field('customer').column)}, {epoch}, {money} "  # noqa: S608
           f"FROM {qn(o.db_table)} WHERE {status} IN ({', '.join(['%s'] * len(statuses))})")
    return sql, statuses


def _local_days(seconds: np.ndarray) -> np.ndarray:
    """Local calendar day numbers of UTC epoch seconds (the offset looked up once per hour)."""
    if seconds.shape[0] == 0:
        return seconds
    tz = timezone.get_current_timezone()
    hours, inverse = np.unique(seconds // 3600, return_inverse=True)
    offsets = np.array([datetime.fromtimestamp(int(h) * 3600, UTC).astimezone(tz)
                        .utcoffset().total_seconds() for h in hours], dtype=np.int64)
    return (seconds + offsets[inverse]) // 86400


def load_purchases(*, until: date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer ids, local day numbers, amounts) of every purchase up to `until`."""
    sql, params = _purchases_sql()
    chunks = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(100000):
            chunks.append(np.array(rows, dtype=np.float64).reshape(-1, 3))
    if not chunks:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    table = np.concatenate(chunks)
    customer = table[:, 0].astype(np.int64)
    days = _local_days(table[:, 1].astype(np.int64))
    amount = np.nan_to_num(table[:, 2])
    active = np.fromiter(Customer.objects.filter(status=Customer.STATUS_ACTIVE).order_by()
                         .values_list("pk", flat=True).iterator(chunk_size=100000),
                         dtype=np.int64)
    keep = np.isin(customer, active) & (days <= (until - EPOCH).days)
    return customer[keep], days[keep], amount[keep]


# Data sufficiency -------------------------------------------------------------------------


def sufficiency(ids: np.ndarray, days: np.ndarray, *, as_of: int) -> tuple[bool, str, dict]:
    """Whether the purchases support a fit, a sentence saying why not, and the counts."""
    limits = thresholds()
    if ids.shape[0] == 0:
        return False, _("No purchases yet: predictions need order history."), {
            "customers": 0, "repeat_customers": 0, "history_days": 0}
    low = int(days.min())
    span = int(days.max()) - low + 1
    pairs = np.unique(ids.astype(np.int64) * span + (days - low))  # one per customer and day
    per_customer = np.unique(pairs // span, return_counts=True)[1]
    repeaters = int((per_customer > 1).sum())
    history = int(as_of - days.min())
    counts = {"customers": int(per_customer.shape[0]), "repeat_customers": repeaters,
              "history_days": history}
    if repeaters < limits["min_repeat_customers"]:
        return False, _(
            "Too little data to predict: %(n)d customers bought more than once (at least "
            "%(min)d are needed).") % {"n": repeaters, "min": limits["min_repeat_customers"]}, \
            counts
    if history < limits["min_history_days"]:
        return False, _(
            "Too short a history to predict: orders cover %(n)d days (at least %(min)d are "
            "needed).") % {"n": history, "min": limits["min_history_days"]}, counts
    return True, "", counts


def holdout_days_for(history_days: int) -> int:
    """The holdout of the validation fit: a third of the history, 4 to 26 weeks."""
    return int(min(182, max(28, history_days // 3)))


# Scoring ----------------------------------------------------------------------------------


def clv_score_request(*, actor: Actor, model: str = "") -> Job:
    """Queue a refit and rescoring (the caller hands the job id to the Huey task)."""
    actor.require("scoring.configure")
    model = model or thresholds()["model"]
    if model not in dict(ModelFit.MODELS):
        raise ValidationFailed(details={"model": [_("Choose bgnbd or pareto.")]})
    return job_open(kind="prediction_fit", label=_("Customer-base model fit"), user=actor.user)


def clv_score(*, actor: Actor, full: bool = False, model: str = "", now: datetime | None = None,
              progress: Callable[[str], None] | None = None,
              job: Job | int | None = None) -> ModelFit:
    """Fit (or reuse a recent fit) and score every buyer: P(alive), expected purchases in 90
    days, expected order value, 12-month CLV.

    A refit happens with `full`, when the model changes, or when the last fit is older than
    KEHU_PREDICTION_REFIT_DAYS; otherwise the last parameters score today's histories. Each
    refit also fits on a calibration period and checks it against the held-out rest. Too
    little data: the fit row says so and no customer is scored.
    """
    actor.require("scoring.configure")
    model = model or thresholds()["model"]
    if model not in dict(ModelFit.MODELS):
        raise ValidationFailed(details={"model": [_("Choose bgnbd or pareto.")]})
    if job is None:
        job = job_open(kind="prediction_fit", label=_("Customer-base model fit"),
                       user=actor.user)
    job = job_report(job, status=Job.RUNNING)
    try:
        fit = _clv_score(actor=actor, full=full, model=model, now=now,
                         say=progress or (lambda message: None), job=job)
    except BaseException as exc:
        job_report(job, status=Job.FAILED, error=f"{type(exc).__name__}: {exc}"[:400])
        raise
    job_report(job, status=Job.DONE, done=fit.scored, total=fit.scored,
               result={"fit": fit.pk, "status": fit.status, "scored": fit.scored,
                       "changed": fit.changed, "message": fit.message})
    return fit


def _clv_score(*, actor: Actor, full: bool, model: str, now: datetime | None,
               say: Callable[[str], None], job: Job | None) -> ModelFit:
    started = time.perf_counter()
    now = now or timezone.now()
    as_of = timezone.localdate(now)
    as_of_day = (as_of - EPOCH).days
    limits = thresholds()
    ids, days, amounts = load_purchases(until=as_of)
    say(_("%(n)d purchases read") % {"n": ids.shape[0]})
    fit = ModelFit(model=model, as_of=as_of, created_at=now, unit_days=UNIT_DAYS,
                   monthly_discount=limits["monthly_discount"], job=job if job else None,
                   triggered_by=actor.label[:200], transactions=int(ids.shape[0]))
    ok, message, counts = sufficiency(ids, days, as_of=as_of_day)
    fit.customers, fit.repeat_customers = counts["customers"], counts["repeat_customers"]
    if not ok:
        fit.status, fit.message, fit.refitted = ModelFit.INSUFFICIENT, message, False
        return _finish(actor, fit, started)
    last = (ModelFit.objects.filter(status=ModelFit.FITTED, model=model, refitted=True)
            .order_by("-created_at", "-id").first())
    refit = (full or last is None
             or (as_of - last.as_of).days >= limits["refit_days"])
    try:
        if refit:
            report = fit_transactions(ids, days, amounts, calibration_end=as_of_day,
                                      model=model, unit_days=UNIT_DAYS)
            fitted, gg, summary = report.model, report.gamma_gamma, report.summary
            fit.params, fit.log_likelihood = fitted.params(), fitted.log_likelihood
            fit.gamma_gamma = ({**gg.params(), "log_likelihood": gg.log_likelihood, "n": gg.n}
                               if gg else {"error": report.gamma_gamma_error})
            say(_("model fitted"))
            fit.validation = _validate(ids, days, amounts, model=model, as_of_day=as_of_day,
                                       history=counts["history_days"])
            say(_("holdout validated"))
        else:
            summary = btyd.summarize(ids, days, amounts, calibration_end=as_of_day,
                                     unit_days=UNIT_DAYS)
            fitted = btyd.model_from(model, last.params)
            gg = (btyd.GammaGamma(last.gamma_gamma["p"], last.gamma_gamma["q"],
                                  last.gamma_gamma["v"]) if "p" in last.gamma_gamma else None)
            fit.params, fit.log_likelihood = last.params, last.log_likelihood
            fit.gamma_gamma, fit.validation = last.gamma_gamma, last.validation
            fit.refitted = False
    except (btyd.FitError, FloatingPointError, ValueError) as exc:
        fit.status, fit.message = ModelFit.FAILED, _("The model could not be fitted: %(e)s") % {
            "e": exc}
        return _finish(actor, fit, started)
    if not all(math.isfinite(v) and v > 0 for v in fitted.params().values()):
        fit.status, fit.message = ModelFit.FAILED, _(
            "The fit did not converge to usable parameters.")
        return _finish(actor, fit, started)
    fit.holdout_correlation = fit.validation.get("correlation")
    with transaction.atomic():
        fit.save()
    rows = _score_rows(summary, fitted, gg, fit=fit, now=now)
    say(_("%(n)d customers scored") % {"n": len(rows)})
    fit.scored = len(rows)
    fit.changed = _write(rows, actor=actor, now=now, full=True)
    return _finish(actor, fit, started)


def _validate(ids, days, amounts, *, model: str, as_of_day: int, history: int) -> dict:
    """Fit on all but the last weeks and compare with what happened in them."""
    holdout = holdout_days_for(history)
    calibration_end = as_of_day - holdout
    buyers = np.unique(ids)
    if buyers.shape[0] > VALIDATION_SAMPLE:  # a fixed sample of customers says as much
        step = math.ceil(buyers.shape[0] / VALIDATION_SAMPLE)
        sample = ids % step == 0
        ids, days, amounts = ids[sample], days[sample], amounts[sample]
    cal = days <= calibration_end
    ok, message, counts = sufficiency(ids[cal], days[cal], as_of=calibration_end)
    if not ok:
        return {"message": _("No holdout validation: %(reason)s") % {"reason": message}}
    try:
        report: FitReport = fit_transactions(ids, days, amounts, calibration_end=calibration_end,
                                             holdout_end=as_of_day, model=model,
                                             unit_days=UNIT_DAYS)
    except btyd.FitError as exc:
        return {"message": str(exc)}
    return validation_json(report)


_COLUMNS = ("customer", "p_alive", "expected_purchases_90d", "expected_avg_value", "clv_12m",
            "purchases", "first_purchase_on", "last_purchase_on", "fit", "scored_at")


def _score_rows(s: btyd.Summary, m: btyd.Model, gg: btyd.GammaGamma | None, *, fit: ModelFit,
                now: datetime) -> list[tuple]:
    """One row per buyer, values rounded as stored (in _COLUMNS order, raw values)."""
    scores = btyd.score(m, gg, s, horizon=HORIZON_DAYS / UNIT_DAYS, months=12,
                        monthly_discount=fit.monthly_discount)
    alive = np.round(np.clip(np.nan_to_num(scores["p_alive"], nan=0.0), 0, 1), 4)
    expected = np.round(np.nan_to_num(scores["expected"], nan=0.0), 4)
    value, clv = scores["value"], scores["clv"]
    first = s.first_day
    last = first + s.t_x_days

    def money(values: np.ndarray) -> list:
        return [None if v != v or v in (math.inf, -math.inf) else v  # NaN: no value model
                for v in np.round(values, 2).tolist()]

    return list(zip(s.ids.astype(np.int64).tolist(), alive.tolist(), expected.tolist(),
                    money(value), money(clv), (s.x + 1).tolist(), first.tolist(),
                    last.tolist(), repeat(fit.pk), strict=False))


def _stored() -> dict[int, float]:
    with connection.cursor() as cursor:
        qn = connection.ops.quote_name
        meta = CustomerPrediction._meta
        cursor.execute(f"SELECT {qn(meta.pk.column)}, "  # noqa: S608 - names from _meta
                       f"{qn(meta.get_field('p_alive').column)} FROM {qn(meta.db_table)}")
        return dict(cursor.fetchall())


def _write(rows: list[tuple], *, actor: Actor, now: datetime, full: bool) -> int:
    """Replace the stored rows slice by slice (rows sorted by customer): each slice deletes
    the stored rows in its customer range and inserts its own, in one transaction, so rows
    of customers no longer scored go too and no reader sees a half-written slice. Deleting
    and inserting is several times faster than updating on SQLite, and nearly every row
    moves each day (T grows). Per-customer `prediction.changed` events only when P(alive)
    moved to another band."""
    stored = _stored()
    changed = 0
    with _page_cache():
        changed += _write_slices(rows, stored, actor=actor, now=now, full=full)
    if full:
        changed += len(stored.keys() - {row[0] for row in rows})
    return changed


@contextmanager
def _page_cache(mib: int = 128):
    """On SQLite, a larger page cache while the rows are rewritten: the P(alive) and CLV
    indexes take their entries in random order, and with the default 2 MB cache each one
    is a page read and write. Restored afterwards."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = {-1024 * int(mib)}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def _write_slices(rows: list[tuple], stored: dict[int, float], *, actor: Actor,
                  now: datetime, full: bool) -> int:
    changed = 0
    bounds = [rows[start][0] for start in range(0, len(rows), WRITE_SLICE)][1:]
    for number, start in enumerate(range(0, max(len(rows), 1), WRITE_SLICE)):
        part = rows[start:start + WRITE_SLICE]
        events = []
        for row in part:
            before = stored.get(row[0])
            if before is None or abs(before - row[1]) >= 5e-5:
                changed += 1
            if before is not None and p_alive_band(before) != p_alive_band(row[1]):
                events.append(Related(
                    type="prediction.changed", object_type="customer", object_id=row[0],
                    changes={"p_alive": {"before": round(before, 4), "after": row[1]},
                             "band": {"before": p_alive_band(before),
                                      "after": p_alive_band(row[1])}}))
        stale = CustomerPrediction.objects.all()
        if number > 0:
            stale = stale.filter(customer_id__gte=bounds[number - 1])
        if number < len(bounds):
            stale = stale.filter(customer_id__lt=bounds[number])
        with transaction.atomic():
            if full:
                stale.delete()  # one DELETE: no cascades or signals hang off these rows
            _upsert(part, now=now)
            emit_many(actor=actor, events=events)
    return changed


def _upsert(rows: list[tuple], *, now: datetime) -> None:
    """Multi-row INSERT … ON CONFLICT DO UPDATE (SQLite 3.24+ and PostgreSQL)."""
    if not rows:
        return
    ops = connection.ops
    meta = CustomerPrediction._meta
    quoted = [ops.quote_name(meta.get_field(c).column) for c in _COLUMNS]
    updates = ", ".join(f"{q} = excluded.{q}" for q in quoted[1:])
    scored_at = ops.adapt_datetimefield_value(now)
    dates: dict[int, Any] = {}

    def day(number: int):
        if number not in dates:
            dates[number] = ops.adapt_datefield_value(EPOCH + timedelta(days=number))
        return dates[number]

    per_row = len(_COLUMNS)
    batch = max(1, 30000 // per_row) if connection.vendor == "sqlite" else 2000
    head = (f"INSERT INTO {ops.quote_name(meta.db_table)} ({', '.join(quoted)}) "  # noqa: S608
            "VALUES ")
    tail = f" ON CONFLICT ({quoted[0]}) DO UPDATE SET {updates}"
    one = "(" + ", ".join(["%s"] * per_row) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            part = rows[start:start + batch]
            params: list[Any] = []
            for pk, alive, expected, value, clv, purchases, first, last, fit_id in part:
                params.extend((pk, alive, expected, value, clv, purchases, day(first),
                               day(last), fit_id, scored_at))
            cursor.execute(head + ", ".join([one] * len(part)) + tail, params)


def _finish(actor: Actor, fit: ModelFit, started: float) -> ModelFit:
    fit.duration_ms = int((time.perf_counter() - started) * 1000)
    with transaction.atomic():
        fit.save()
        record_change(actor=actor, action="prediction.score", event="prediction.scored",
                      object_type="prediction_fit", object_id=fit.pk,
                      object_repr=f"{fit.model} {fit.as_of.isoformat()}",
                      changes={"model": {"before": None, "after": fit.model},
                               "status": {"before": None, "after": fit.status},
                               "customers_scored": {"before": None, "after": fit.scored},
                               "rows_changed": {"before": None, "after": fit.changed}})
    return fit
