"""Every write of insights: churn model fits and churn scoring, purchase-signal detection,
the product associations behind recommendations, their settings, and the follow-up task a
next best action creates. Runs are set-based and audited once; per-customer changes are
domain events (`churn.risk_changed`, `signal.detected`) written with their rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import Related, emit_many, record_change
from kehu.core.jobs import job_open, job_report
from kehu.core.models import Job
from kehu.customers.models import Customer
from kehu.insights import churn as model
from kehu.insights.behaviour import Book, book_load
from kehu.insights.models import (
    ChurnModelFit,
    ChurnSettings,
    CustomerChurn,
    CustomerSignals,
    ProductAssociation,
    ProductPopularity,
    SignalRule,
)
from kehu.insights.prediction import p_alive_of
from kehu.insights.recommend import associations, popularity
from kehu.insights.signals import RuleConfig, signal_kind, signal_kinds
from kehu.transactions.models import Order, OrderLine

SLICE = 5000
EVENT_LOOKBACK = dt.timedelta(days=61)


def _clean(row) -> None:
    try:
        row.full_clean()
    except Exception as exc:  # django ValidationError -> domain error naming the fields
        details = getattr(exc, "message_dict", None) or {"__all__": [str(exc)]}
        raise ValidationFailed(details=details) from None


# Settings ---------------------------------------------------------------------------------

def churn_settings_get() -> ChurnSettings:
    """The one settings row, created with the defaults on first use."""
    row, _created = ChurnSettings.objects.get_or_create(pk=1)
    return row


SETTINGS_FIELDS = ("window_days", "model_kind", "min_labelled", "min_each_class",
                   "medium_threshold", "high_threshold")


def churn_settings_update(*, actor: Actor, changes: dict[str, Any]) -> ChurnSettings:
    """Change what counts as churn, the model or the level cut-offs (audited); the next
    nightly fit uses them."""
    actor.require("scoring.configure")
    unknown = sorted(set(changes) - set(SETTINGS_FIELDS))
    if unknown:
        raise ValidationFailed(details={name: [_("Unknown setting.")] for name in unknown})
    with transaction.atomic():
        row = ChurnSettings.objects.select_for_update().get(pk=churn_settings_get().pk)
        before = {name: getattr(row, name) for name in SETTINGS_FIELDS}
        for name, value in changes.items():
            setattr(row, name, value)
        _clean(row)
        if row.medium_threshold >= row.high_threshold:
            raise ValidationFailed(details={"high_threshold": [
                _("High risk must start above medium risk.")]})
        row.save(update_fields=[*changes, "updated_at"])
        after = {name: getattr(row, name) for name in SETTINGS_FIELDS}
        record_change(actor=actor, action="churn.settings", event="churn.settings_changed",
                      object_type="churn_settings", object_id=row.pk,
                      object_repr="churn settings", changes=diff(before, after))
    return row


def signal_rules_ensure() -> list[SignalRule]:
    """A rule row for every registered signal kind (defaults from the kind), kind order."""
    existing = {r.kind: r for r in SignalRule.objects.all()}
    missing = [SignalRule(kind=k.key, min_count=k.default_min_count, days=k.default_days)
               for k in signal_kinds() if k.key not in existing]
    if missing:
        SignalRule.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {r.kind: r for r in SignalRule.objects.all()}
    return [existing[k.key] for k in signal_kinds() if k.key in existing]


def signal_rule_update(*, actor: Actor, kind: str, changes: dict[str, Any]) -> SignalRule:
    """Switch a signal on or off or change its count and window (audited)."""
    actor.require("scoring.configure")
    if signal_kind(kind) is None:
        raise NotFound()
    unknown = sorted(set(changes) - {"enabled", "min_count", "days"})
    if unknown:
        raise ValidationFailed(details={name: [_("Unknown setting.")] for name in unknown})
    signal_rules_ensure()
    with transaction.atomic():
        row = SignalRule.objects.select_for_update().get(kind=kind)
        before = {n: getattr(row, n) for n in ("enabled", "min_count", "days")}
        for name, value in changes.items():
            setattr(row, name, value)
        _clean(row)
        row.save(update_fields=[*changes, "updated_at"])
        record_change(actor=actor, action="signal_rule.update", event="signal.rule_changed",
                      object_type="signal_rule", object_id=row.pk, object_repr=kind,
                      changes=diff(before, {n: getattr(row, n)
                                            for n in ("enabled", "min_count", "days")}))
    return row


# Churn ------------------------------------------------------------------------------------

def _run(kind: str, label: str, actor: Actor, work):
    job = job_open(kind=kind, label=label, user=actor.user)
    job_report(job, status=Job.RUNNING)
    try:
        result, summary = work(job)
    except BaseException as exc:
        job_report(job, status=Job.FAILED, error=type(exc).__name__)
        raise
    job_report(job, status=Job.DONE, result=summary)
    return result


def _labelled(book: Book, cutoff: dt.datetime, window_days: int):
    rows, labels = [], []
    for pk in book.created:
        row = model.features_of(book, pk, cutoff)
        if row is None:
            continue
        rows.append(row)
        labels.append(1 if model.churned_after(book, pk, timezone.localtime(cutoff).date(),
                                                window_days) else 0)
    return rows, np.array(labels, dtype=int)


def churn_fit(*, actor: Actor, now: dt.datetime | None = None,
              score: bool = True) -> ChurnModelFit:
    """Fit the supervised churn model on the company's own history: features as of a cut-off
    `window_days` ago, label = no purchase since. Backtests it on a held-out 30% against the
    RFM baseline, keeps the fit (or why there was too little data), then scores the book."""
    actor.require("scoring.configure")
    now = now or timezone.now()

    def work(job):
        fit, book, fitted = _fit(actor=actor, now=now, job=job)
        summary = {"enough_data": fit.enough_data, "labelled": fit.labelled,
                   "auc": fit.metrics.get("auc")}
        if score:
            counts = _score(actor=actor, now=now, book=book, fitted=fitted, fit=fit)
            summary.update(counts)
        return fit, summary
    return _run("churn_fit", _("Churn model fit"), actor, work)


def _fit(*, actor: Actor, now: dt.datetime, job: Job | None):
    settings = churn_settings_get()
    cutoff = now - dt.timedelta(days=settings.window_days)
    book = book_load(events_since=cutoff - EVENT_LOOKBACK)
    rows, y = _labelled(book, cutoff, settings.window_days)
    churned = int(y.sum()) if len(y) else 0
    enough = (len(rows) >= settings.min_labelled and churned >= settings.min_each_class
              and len(rows) - churned >= settings.min_each_class)
    metrics: dict[str, Any] = {}
    params: dict[str, Any] = {}
    fitted = None
    message = ""
    if enough:
        x = model.matrix(rows)
        metrics = model.backtest(settings.model_kind, x, y, model.rfm_baseline(rows))
        fitted = model.fit(settings.model_kind, x, y)
        params = {**fitted.params, "features": model.NAMES}
    else:
        params = {"requirements": {"min_labelled": settings.min_labelled,
                                   "min_each_class": settings.min_each_class}}
        message = (f"too little history: {len(rows)} labelled, {churned} churned; needs "
                   f"{settings.min_labelled} with {settings.min_each_class} of each class")
    with transaction.atomic():
        fit = ChurnModelFit.objects.create(
            fitted_at=now, model_kind=settings.model_kind, window_days=settings.window_days,
            cutoff=timezone.localtime(cutoff).date(), labelled=len(rows), churned=churned, enough_data=enough,
            message=message[:300], metrics=metrics, params=params, job=job,
            triggered_by=actor.label[:200])
        record_change(actor=actor, action="churn.run", event="churn.model_fitted",
                      object_type="churn_model_fit", object_id=fit.pk,
                      object_repr=f"{fit.model_kind} {fit.cutoff.isoformat()}",
                      changes={"enough_data": {"before": None, "after": enough},
                               "labelled": {"before": None, "after": len(rows)},
                               "auc": {"before": None, "after": metrics.get("auc")}})
    return fit, book, fitted


def churn_score(*, actor: Actor, now: dt.datetime | None = None) -> dict[str, int]:
    """Score every purchasing customer with the last good fit (refitting a boosted model,
    which is not stored), else 1 − P(alive), else recency against the churn window."""
    actor.require("scoring.configure")
    now = now or timezone.now()

    def work(job):
        counts = _score(actor=actor, now=now, book=None, fitted=None, fit=None)
        return counts, counts
    return _run("churn_score", _("Churn scoring"), actor, work)


def _stored_model(book: Book, now: dt.datetime) -> tuple[ChurnModelFit | None, Any]:
    fit = ChurnModelFit.objects.filter(enough_data=True).first()
    if fit is None:
        return None, None
    if fit.model_kind == "logistic":
        return fit, model.Fitted("logistic", fit.params)
    cutoff = now - dt.timedelta(days=fit.window_days)
    rows, y = _labelled(book, cutoff, fit.window_days)
    if len(set(y.tolist())) < 2:
        return None, None
    return fit, model.fit("gbm", model.matrix(rows), y)


def _score(*, actor: Actor, now: dt.datetime, book: Book | None, fitted, fit) -> dict[str, int]:
    settings = churn_settings_get()
    if book is None:
        book = book_load(events_since=now - EVENT_LOOKBACK
                         - dt.timedelta(days=settings.window_days))
    if fitted is None:
        fit, fitted = _stored_model(book, now)
    ids, rows = [], []
    for pk in book.created:
        row = model.features_of(book, pk, now)
        if row is not None:
            ids.append(pk)
            rows.append(row)
    results: dict[int, tuple[float, str, list]] = {}
    if rows and fitted is not None:
        x = model.matrix(rows)
        risks = fitted.predict(x)
        weights = fitted.attributions(x)
        for i, pk in enumerate(ids):
            results[pk] = (float(risks[i]), fitted.kind, model.top_factors(rows[i], weights[i]))
    else:
        alive = p_alive_of(ids)
        for pk, row in zip(ids, rows, strict=True):
            p = alive.get(pk)
            if p is not None:
                results[pk] = (1.0 - p, "p_alive", model.heuristic_factors(
                    row, window_days=settings.window_days, p_alive=p))
            else:
                results[pk] = (model.recency_risk(row["recency_days"], settings.window_days),
                               "recency", model.heuristic_factors(
                                   row, window_days=settings.window_days))
    stored = {pk: (level, risk) for pk, level, risk in
              CustomerChurn.objects.values_list("customer_id", "level", "churn_risk")}
    changed = 0
    items = sorted(results.items())
    for start in range(0, len(items), SLICE):
        part = items[start:start + SLICE]
        objs, events = [], []
        for pk, (risk, kind, factors) in part:
            risk = min(1.0, max(0.0, round(risk, 4)))
            level = settings.level_of(risk)
            objs.append((pk, risk, level, factors, kind))
            old = stored.get(pk)
            if old is None or old[0] != level:
                events.append(Related(
                    type="churn.risk_changed", object_type="customer", object_id=pk,
                    changes={"level": {"before": old[0] if old else None, "after": level},
                             "churn_risk": {"before": old[1] if old else None, "after": risk},
                             "model": kind}))
        with transaction.atomic():
            _upsert_churn(objs, now=now)
            emit_many(actor=actor, events=events)
        changed += len(events)
    gone = sorted(stored.keys() - results.keys())
    for start in range(0, len(gone), SLICE):
        CustomerChurn.objects.filter(customer_id__in=gone[start:start + SLICE]).delete()
    by_model: dict[str, int] = {}
    for _risk, kind, _f in results.values():
        by_model[kind] = by_model.get(kind, 0) + 1
    with transaction.atomic():
        record_change(actor=actor, action="churn.recompute", event="churn.scored",
                      object_type="churn_model_fit", object_id=fit.pk if fit else "",
                      object_repr=timezone.localdate(now).isoformat(),
                      changes={"scored": {"before": None, "after": len(results)},
                               "level_changes": {"before": None, "after": changed},
                               "removed": {"before": None, "after": len(gone)},
                               "models": {"before": None, "after": by_model}})
    return {"scored": len(results), "level_changes": changed, "removed": len(gone)}


def _upsert_churn(rows: list[tuple], *, now: dt.datetime) -> None:
    """Multi-row INSERT … ON CONFLICT DO UPDATE (SQLite 3.24+ and PostgreSQL): fixed SQL,
    names from _meta, every value a parameter (the ORM's bulk upsert builds an object per row,
    which costs more than the database's work at a million rows)."""
    if not rows:
        return
    meta = CustomerChurn._meta
    ops = connection.ops
    names = ["customer", "churn_risk", "level", "factors", "model", "scored_at"]
    quoted = [ops.quote_name(meta.get_field(n).column) for n in names]
    factors_field = meta.get_field("factors")
    updates = ", ".join(f"{q} = excluded.{q}" for q in quoted[1:])
    head = (f"INSERT INTO {ops.quote_name(meta.db_table)} ({', '.join(quoted)}) "  # noqa: S608
            "VALUES ")
    tail = f" ON CONFLICT ({quoted[0]}) DO UPDATE SET {updates}"
    one = "(" + ", ".join(["%s"] * len(names)) + ")"
    scored_at = ops.adapt_datetimefield_value(now)
    batch = 4000 if connection.vendor == "sqlite" else 2000
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            part = rows[start:start + batch]
            params: list[Any] = []
            for pk, risk, level, factors, kind in part:
                params += [pk, risk, level,
                           factors_field.get_db_prep_value(factors, connection), kind,
                           scored_at]
            cursor.execute(head + ", ".join([one] * len(part)) + tail, params)


# Signals ----------------------------------------------------------------------------------

def signals_detect(*, actor: Actor, now: dt.datetime | None = None) -> dict[str, int]:
    """Run every enabled signal rule over recent behaviour; store each customer's active
    signals and emit `signal.detected` for each signal a customer did not have before."""
    actor.require("scoring.configure")
    now = now or timezone.now()

    def work(job):
        counts = _detect(actor=actor, now=now)
        return counts, counts
    return _run("signals_detect", _("Purchase signals"), actor, work)


def _detect(*, actor: Actor, now: dt.datetime) -> dict[str, int]:
    rules = [r for r in signal_rules_ensure() if r.enabled]
    longest = max((r.days for r in rules), default=1)
    # The behavioural kinds read web events: only customers with some are loaded.
    book = book_load(events_since=now - dt.timedelta(days=longest + 1),
                     only_active_online=True)
    found: dict[int, dict[str, dict]] = {}
    for rule in rules:
        kind = signal_kind(rule.kind)
        hits = kind.detect(as_of=now, rule=RuleConfig(rule.min_count, rule.days), book=book)
        for pk, details in hits.items():
            found.setdefault(pk, {})[rule.kind] = details
    # Detectors that read their own tables may name customers outside the book.
    outside = sorted(found.keys() - book.created.keys())
    for start in range(0, len(outside), SLICE):
        part = outside[start:start + SLICE]
        live = set(Customer.objects.filter(pk__in=part, status=Customer.STATUS_ACTIVE)
                   .values_list("pk", flat=True))
        for pk in set(part) - live:
            del found[pk]
    stored = {pk: (kinds, details) for pk, kinds, details in
              CustomerSignals.objects.values_list("customer_id", "kinds", "details")}
    objs, events = [], []
    for pk, signals in sorted(found.items()):
        kinds = sorted(signals)
        old = stored.get(pk)
        if old is not None and old[0] == kinds and old[1] == signals:
            continue
        objs.append(CustomerSignals(customer_id=pk, kinds=kinds, details=signals,
                                    detected_at=now))
        before = set(old[0]) if old else set()
        for key in kinds:
            if key not in before:
                events.append(Related(type="signal.detected", object_type="customer",
                                      object_id=pk,
                                      changes={"signal": {"before": None, "after": key},
                                               "details": signals[key]}))
    gone = sorted(stored.keys() - found.keys())
    with transaction.atomic():
        CustomerSignals.objects.bulk_create(
            objs, update_conflicts=True, unique_fields=["customer"],
            update_fields=["kinds", "details", "detected_at"], batch_size=1000)
        CustomerSignals.objects.filter(customer_id__in=gone).delete()
        emit_many(actor=actor, events=events)
        record_change(actor=actor, action="signals.run", event="signal.run_finished",
                      object_type="signal_rule", object_repr=timezone.localdate(now).isoformat(),
                      changes={"customers": {"before": None, "after": len(found)},
                               "new_signals": {"before": None, "after": len(events)},
                               "cleared": {"before": None, "after": len(gone)}})
    return {"customers": len(found), "new_signals": len(events), "cleared": len(gone)}


# Recommendations --------------------------------------------------------------------------

def purchase_baskets(*, since: dt.datetime | None = None) -> dict[int, set[int]]:
    """Products each active customer has bought (purchase orders only)."""
    lines = OrderLine.objects.filter(order__status__in=Order.PURCHASE_STATUSES,
                                     order__customer__status=Customer.STATUS_ACTIVE)
    if since is not None:
        lines = lines.filter(order__ordered_at__gte=since)
    baskets: dict[int, set[int]] = {}
    for customer, product in lines.order_by().values_list("order__customer_id",
                                                          "product_id").iterator(
                                                              chunk_size=20000):
        baskets.setdefault(customer, set()).add(product)
    return baskets


def recommendations_build(*, actor: Actor, now: dt.datetime | None = None) -> dict[str, int]:
    """Rebuild the co-purchase associations (every purchase ever) and product popularity
    (distinct buyers in the last year)."""
    actor.require("scoring.configure")
    now = now or timezone.now()

    def work(job):
        baskets = purchase_baskets()
        rows = associations(baskets)
        popular = popularity(purchase_baskets(since=now - dt.timedelta(days=365)))
        with transaction.atomic():
            ProductAssociation.objects.all().delete()
            ProductAssociation.objects.bulk_create(
                [ProductAssociation(product_id=r.product, related_id=r.related,
                                    together=r.together, lift=round(r.lift, 4),
                                    cosine=round(r.cosine, 4), built_at=now) for r in rows],
                batch_size=2000)
            ProductPopularity.objects.all().delete()
            ProductPopularity.objects.bulk_create(
                [ProductPopularity(product_id=p, buyers=n, built_at=now) for p, n in popular],
                batch_size=2000)
            record_change(actor=actor, action="recommendations.refresh",
                          event="recommendations.built", object_type="product_association",
                          object_repr=timezone.localdate(now).isoformat(),
                          changes={"associations": {"before": None, "after": len(rows)},
                                   "products": {"before": None, "after": len(popular)},
                                   "customers": {"before": None, "after": len(baskets)}})
        counts = {"associations": len(rows), "products": len(popular),
                  "customers": len(baskets)}
        return counts, counts
    return _run("recommendations_build", _("Product recommendations"), actor, work)


# Next best action ---------------------------------------------------------------------------

def next_action_task_create(*, actor: Actor, customer: Customer, code: str, user=None):
    """Turn one of the customer's current next best actions into a follow-up task (the
    interactions service checks scope and records it)."""
    from kehu.insights.nba import next_actions
    from kehu.interactions.services import follow_up_create

    actor.require("scoring.view")
    action = next((a for a in next_actions(user=user or actor.user, customer=customer)
                   if a["code"] == code), None)
    if action is None:
        raise ValidationFailed(details={"code": [
            _("This action is no longer suggested for this customer.")]})
    due = timezone.localdate() + dt.timedelta(days=action["due_in_days"])
    return follow_up_create(actor=actor, customer=customer, title=action["title"][:200],
                            due_date=due)


def churn_follow_up_create(*, actor: Actor, customer: Customer):
    """The churn-warning list's and the churn board's one click: a retention call for
    tomorrow, for the owner. A customer without a churn score but in an at-risk RFM segment
    (selectors.AT_RISK_SEGMENTS) gets a win-back call named after the segment."""
    from kehu.interactions.services import follow_up_create
    from kehu.scoring.labels import RFM_SEGMENTS

    row = CustomerChurn.objects.filter(customer_id=customer.pk).first()
    if row is not None:
        title = _("Retention call: %(name)s (churn risk %(pct)d%%)") % {
            "name": customer.name, "pct": round(row.churn_risk * 100)}
    else:
        from kehu.insights.selectors import AT_RISK_SEGMENTS
        from kehu.scoring.selectors import card_value

        value = card_value(user=actor.user, customer=customer) if actor.user else None
        segment = (value or {}).get("rfm_segment")
        if segment not in AT_RISK_SEGMENTS:
            raise ValidationFailed(details={"customer": [_("This customer has no churn risk.")]})
        title = _("Win-back call: %(name)s (%(segment)s)") % {
            "name": customer.name, "segment": dict(RFM_SEGMENTS)[segment]}
    return follow_up_create(actor=actor, customer=customer, title=title[:200],
                            due_date=timezone.localdate() + dt.timedelta(days=1))
