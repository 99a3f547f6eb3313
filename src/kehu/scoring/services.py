"""Every write of the value layer: scoring runs, scoring settings and lifecycle stages.

A scoring run is set-based: one grouped query over orders, one over interactions, one read
of the current values, the ranking in memory and multi-row upserts of the rows that changed.
See docs/rfm.md for the rules and the incremental approach.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import audit_record, diff
from kehu.core.errors import ValidationFailed
from kehu.core.jobs import job_open, job_report
from kehu.core.models import Job
from kehu.customers.models import Customer
from kehu.customers.services import customer_update
from kehu.interactions.models import Interaction
from kehu.scoring.models import (
    CustomerValue,
    CustomerValueChange,
    LifecycleStageChange,
    ScoringRun,
    ScoringSettings,
)
from kehu.scoring.rfm import TierRules, quintile_scores, rfm_segment_of, value_tier_of
from kehu.transactions.models import Order

# Orders that count as purchases. Returned and refunded orders are netted out: they count
# neither as a purchase nor as spend (and not for recency); pending and cancelled never did.
PURCHASE_STATUSES = ("paid", "shipped", "completed")
CHUNK = 2000
WRITE_SLICE = 20000  # value rows per write transaction
MOVE_SLICE = 10000  # lifecycle moves per write transaction
_VALUE_COLUMNS = ("last_order_at", "recency_days", "frequency", "monetary", "r_score",
                  "f_score", "m_score", "rfm_segment", "value_tier", "last_activity_at",
                  "window_days")


def scoring_settings_get() -> ScoringSettings:
    """The one settings row, created with the defaults on first use."""
    row, _created = ScoringSettings.objects.get_or_create(pk=1)
    return row


_SETTINGS_FIELDS = ("window_days", "high_min_score", "high_spend_threshold", "potential_min_r",
                    "potential_max_fm", "dormant_days", "lifecycle_rules_enabled",
                    "loyal_min_orders", "churn_days")


def scoring_settings_update(*, actor: Actor, changes: dict[str, Any]) -> ScoringSettings:
    """Change the scoring window, tier thresholds or lifecycle rules (audited). The next run
    is a full one, since every score may move."""
    actor.require("scoring.configure")
    unknown = sorted(set(changes) - set(_SETTINGS_FIELDS))
    if unknown:
        raise ValidationFailed(details={name: [_("Unknown setting.")] for name in unknown})
    with transaction.atomic():
        row = ScoringSettings.objects.select_for_update().get(pk=scoring_settings_get().pk)
        before = {name: _plain(getattr(row, name)) for name in _SETTINGS_FIELDS}
        for name, value in changes.items():
            setattr(row, name, value)
        try:
            row.full_clean()
        except Exception as exc:  # django ValidationError -> domain error with field names
            details = getattr(exc, "message_dict", None) or {"__all__": [str(exc)]}
            raise ValidationFailed(details=details) from None
        row.save(update_fields=[*changes, "updated_at"])
        after = {name: _plain(getattr(row, name)) for name in _SETTINGS_FIELDS}
        audit_record(actor=actor, action="scoring.settings", object_type="scoring_settings",
                     object_id=row.pk, object_repr="scoring settings",
                     changes=diff(before, after))
    return row


def _plain(value):
    return str(value) if isinstance(value, Decimal) else value


# Lifecycle ----------------------------------------------------------------------------


def lifecycle_set(*, actor: Actor, customer: Customer, stage: str, note: str = "",
                  expected_version: int | None = None) -> Customer:
    """Set a customer's lifecycle stage by hand through customer_update (scope, version check
    and audit), with a history row naming the user."""
    actor.require("customer.change")
    stages = dict(Customer.LIFECYCLE_STAGES)
    if stage not in stages:
        raise ValidationFailed(details={"lifecycle_stage": [_("Choose a valid stage.")]})
    if len(note) > 200:
        raise ValidationFailed(details={"note": [_("At most 200 characters.")]})
    with transaction.atomic():
        old = Customer.objects.select_for_update().filter(pk=customer.pk).values_list(
            "lifecycle_stage", flat=True).first()
        row = customer_update(actor=actor, customer=customer, expected_version=expected_version,
                              changes={"lifecycle_stage": stage})
        if old != stage:
            LifecycleStageChange.objects.create(
                customer=row, changed_at=timezone.now(), from_stage=old or "", to_stage=stage,
                by_user=actor.user, note=note)
    return row


def lifecycle_target(*, stage: str, last_order_day: date | None, orders_12m: int,
                     as_of: date, settings: ScoringSettings) -> tuple[str, str] | None:
    """The (stage, rule) the transition rules move a customer to, or None to leave it.

    No order for `churn_days` -> churned (from any stage but churned, once they have ordered);
    `loyal_min_orders` orders in the last 365 days -> loyal; any recent order -> customer
    (a lead, prospect or churned customer buying again). Loyal customers are never demoted
    to customer by a rule: that is a person's decision.
    """
    if last_order_day is None:
        return None
    if (as_of - last_order_day).days > settings.churn_days:
        return None if stage == "churned" else ("churned", "no_order")
    if orders_12m >= settings.loyal_min_orders and stage != "loyal":
        return ("loyal", "repeat_orders")
    if stage in ("lead", "prospect", "churned"):
        return ("customer", "first_order")
    return None


def _apply_lifecycle(stages: dict[int, str], facts: dict[int, _Facts], *, as_of: date,
                     now: datetime, settings: ScoringSettings) -> int:
    moves: dict[tuple[str, str, str], list[int]] = {}
    for pk, stage in stages.items():
        fact = facts.get(pk)
        target = lifecycle_target(
            stage=stage, last_order_day=fact.last_order_day if fact else None,
            orders_12m=fact.orders_12m if fact else 0, as_of=as_of, settings=settings)
        if target is not None:
            moves.setdefault((stage, *target), []).append(pk)
    changed = 0
    for (old, new, rule), ids in moves.items():
        for start in range(0, len(ids), MOVE_SLICE):
            chunk = ids[start:start + MOVE_SLICE]
            with transaction.atomic():
                # Only rows still in `old`, locked: a concurrent hand edit wins.
                moved = list(Customer.objects.select_for_update().filter(
                    pk__in=chunk, lifecycle_stage=old).values_list("pk", flat=True))
                Customer.objects.filter(pk__in=moved).update(
                    lifecycle_stage=new, version=F("version") + 1, updated_at=now)
                _insert(LifecycleStageChange,
                        ("customer", "changed_at", "from_stage", "to_stage", "rule", "note"),
                        [(pk, now, old, new, rule, "") for pk in moved])
            changed += len(moved)
    return changed


# Scoring ------------------------------------------------------------------------------
#
# The hot loop works on raw database values: rows are read with the SQL the ORM compiles
# (parameterised, portable) but without Django's per-value converters, which cost more than
# the database's own work at a million rows. Datetimes stay in their stored form (a string on
# SQLite, an aware datetime on PostgreSQL) and are parsed only to take their local date.


@dataclass
class _Facts:
    last_order: Any          # raw stored datetime of the last purchase
    last_order_day: date
    frequency: int
    monetary: Decimal
    orders_12m: int


_CENT = Decimal("0.01")


def _midnight(day: date) -> datetime:
    return datetime.combine(day, dtime.min, timezone.get_current_timezone())


def _raw(queryset) -> Iterator[tuple]:
    """The rows of a values_list queryset as the database driver returns them."""
    sql, params = queryset.query.get_compiler(using=queryset.db).as_sql()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(20000):
            yield from rows


def _dt(raw):
    """A raw datetime as a datetime: SQLite hands aggregates back as ISO strings (UTC) and
    columns as naive UTC datetimes; PostgreSQL as aware datetimes."""
    return datetime.fromisoformat(raw) if isinstance(raw, str) else raw


class _Clock:
    """Local dates of raw stored datetimes, in the current time zone."""

    def __init__(self) -> None:
        self.tz = timezone.get_current_timezone()

    def day(self, raw) -> date | None:
        if raw is None:
            return None
        if raw.tzinfo is None:
            raw = raw.replace(tzinfo=UTC)
        return raw.astimezone(self.tz).date()


def _money(raw) -> Decimal:
    if raw is None:
        return Decimal("0.00")
    if isinstance(raw, float):
        raw = repr(raw)
    return Decimal(raw).quantize(_CENT)


def _chunks(ids: list[int] | None):
    if ids is None:
        return [None]
    return [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]


def _order_facts(customer_ids: list[int] | None, *, as_of: date, window_days: int,
                 clock: _Clock) -> dict[int, _Facts]:
    """Per customer: last purchase, purchases and spend in the window, purchases in the last
    365 days. One grouped query (per chunk of ids when given)."""
    window_start = _midnight(as_of - timedelta(days=window_days))
    year_start = _midnight(as_of - timedelta(days=365))
    base = Order.objects.filter(status__in=PURCHASE_STATUSES,
                                customer__status=Customer.STATUS_ACTIVE).order_by()
    out: dict[int, _Facts] = {}
    for chunk in _chunks(customer_ids):
        qs = base if chunk is None else base.filter(customer_id__in=chunk)
        rows = qs.values("customer_id").annotate(
            last=Max("ordered_at"),
            f=Count("id", filter=Q(ordered_at__gte=window_start)),
            m=Sum("total_amount", filter=Q(ordered_at__gte=window_start)),
            y=Count("id", filter=Q(ordered_at__gte=year_start)),
        ).values_list("customer_id", "last", "f", "m", "y")
        for pk, last, f, m, y in _raw(rows):
            last = _dt(last)
            out[pk] = _Facts(last, clock.day(last), f or 0, _money(m), y or 0)
    return out


def _last_interactions(customer_ids: list[int] | None) -> dict[int, Any]:
    base = Interaction.objects.order_by()
    out: dict[int, Any] = {}
    for chunk in _chunks(customer_ids):
        qs = base if chunk is None else base.filter(customer_id__in=chunk)
        out.update((pk, _dt(last)) for pk, last in _raw(
            qs.values("customer_id").annotate(last=Max("occurred_at"))
            .values_list("customer_id", "last")))
    return out


def _changed_since(run: ScoringRun) -> set[int]:
    """Customers whose orders, interactions or own row changed since `run` started: new
    orders, order status changes (from the audit log), new interactions, new or edited
    customers."""
    since = run.started_at
    from kehu.core.models import AuditEntry

    ids = set(Order.objects.filter(created_at__gte=since).values_list("customer_id", flat=True))
    order_ids = [int(o) for o in AuditEntry.objects.filter(
        at__gte=since, object_type="order").values_list("object_id", flat=True) if o.isdigit()]
    for chunk in _chunks(order_ids):
        ids.update(Order.objects.filter(pk__in=chunk).values_list("customer_id", flat=True))
    ids.update(Interaction.objects.filter(created_at__gte=since)
               .values_list("customer_id", flat=True))
    # Strictly after: the run's own lifecycle moves carry its start time.
    ids.update(Customer.objects.filter(updated_at__gt=since).values_list("pk", flat=True))
    return ids


# A value row as a tuple in _VALUE_COLUMNS order, values in their stored (raw) form.
_LAST, _RECENCY, _FREQ, _MONEY, _R, _F, _M, _SEGMENT, _TIER, _ACTIVITY, _WINDOW = range(11)


def rfm_score(*, actor: Actor, full: bool = False, now: datetime | None = None,
              progress: Callable[[str], None] | None = None) -> ScoringRun:
    """Score every active customer: R/F/M, quintile scores, segment and tier; apply the
    lifecycle rules; keep history of segment/tier and stage changes; audit the run.

    Incremental unless `full`: only customers whose orders, interactions or row changed since
    the last run are re-aggregated; everyone else's figures come from their stored row, and
    the whole population is re-ranked in memory so moved quintile boundaries reach every row.
    A run falls back to full when the last run was on another day (recency and the window
    move with the date), when the settings changed since, or when there was no run.
    """
    actor.require("scoring.configure")
    job = job_open(kind="scoring_run", label=_("RFM scoring"), user=actor.user)
    job_report(job, status=Job.RUNNING)
    try:
        run = _rfm_score(actor=actor, full=full, now=now, progress=progress, job=job)
    except BaseException as exc:
        job_report(job, status=Job.FAILED, error=type(exc).__name__)
        raise
    job_report(job, status=Job.DONE, done=run.recomputed, total=run.recomputed,
               result={"mode": run.mode, "scored": run.scored, "changed": run.changed,
                       "lifecycle_changes": run.lifecycle_changes})
    return run


def _rfm_score(*, actor: Actor, full: bool, now: datetime | None,
               progress: Callable[[str], None] | None, job: Job) -> ScoringRun:
    started = time.perf_counter()
    now = now or timezone.now()
    as_of = timezone.localdate(now)
    settings = scoring_settings_get()
    say = progress or (lambda message: None)
    clock = _Clock()
    last = ScoringRun.objects.filter(finished_at__isnull=False).order_by("-started_at").first()
    if (not full and (last is None or last.as_of != as_of
                      or last.window_days != settings.window_days
                      or last.boundaries.get("settings") != settings.updated_at.isoformat())):
        full = True
    # Reads run outside a transaction and writes in short ones (a slice of rows each), so a
    # long run never holds SQLite's single write lock for long. A run that dies half-way
    # leaves correct rows behind; the next run finishes the job.
    run = ScoringRun.objects.create(mode="full" if full else "incremental", as_of=as_of,
                                    started_at=now, window_days=settings.window_days,
                                    triggered_by=actor.label[:200], job=job)
    customers = {pk: (created, stage) for pk, created, stage in _raw(
        Customer.objects.filter(status=Customer.STATUS_ACTIVE).order_by()
        .values_list("pk", "created_at", "lifecycle_stage"))}
    say(_("%(n)d customers") % {"n": len(customers)})
    job_report(job, total=len(customers))
    stored = {row[0]: row[1:] for row in _raw(
        CustomerValue.objects.order_by().values_list("customer_id", *_VALUE_COLUMNS))}
    if full:
        recompute = None
        facts = _order_facts(None, as_of=as_of, window_days=settings.window_days, clock=clock)
        interactions = _last_interactions(None)
    else:
        recompute = sorted(_changed_since(last) & customers.keys()
                           | (customers.keys() - stored.keys()))
        facts = _order_facts(recompute, as_of=as_of, window_days=settings.window_days,
                             clock=clock)
        interactions = _last_interactions(recompute)
    say(_("orders aggregated"))
    rows, boundaries = _score_all(customers, stored, facts, interactions, recompute,
                                  as_of=as_of, settings=settings, clock=clock)
    changes = _write(rows, stored, now=now)
    say(_("scores written"))
    lifecycle = 0
    if settings.lifecycle_rules_enabled:
        targets = customers.keys() if recompute is None else recompute
        lifecycle = _apply_lifecycle({pk: customers[pk][1] for pk in targets}, facts,
                                     as_of=as_of, now=now, settings=settings)
    removed = 0
    if full:
        for chunk in _chunks(list(stored.keys() - customers.keys())):
            removed += CustomerValue.objects.filter(customer_id__in=chunk).delete()[0]
    run.boundaries = {**boundaries, "settings": settings.updated_at.isoformat()}
    run.scored = boundaries["population"]
    run.recomputed = len(customers) if recompute is None else len(recompute)
    run.changed = changes["rows"] + removed
    run.segment_changes = changes["history"]
    run.lifecycle_changes = lifecycle
    run.finished_at = timezone.now()
    run.duration_ms = int((time.perf_counter() - started) * 1000)
    with transaction.atomic():
        run.save()
        audit_record(actor=actor, action="scoring.run", object_type="scoring_run",
                     object_id=run.pk, object_repr=f"{run.mode} {as_of.isoformat()}",
                     changes={"mode": {"before": None, "after": run.mode},
                              "customers": {"before": None, "after": len(customers)},
                              "rows_changed": {"before": None, "after": run.changed},
                              "lifecycle_changes": {"before": None, "after": lifecycle}})
    return run


def _score_all(customers, stored, facts, interactions, recompute, *, as_of: date,
               settings: ScoringSettings, clock: _Clock) -> tuple[dict[int, tuple], dict]:
    """Every customer's new row (raw values, _VALUE_COLUMNS order) and the boundaries."""
    recompute_set = None if recompute is None else set(recompute)
    # pk -> (last order raw, its local day, frequency, monetary, last activity raw)
    figures: dict[int, tuple] = {}
    for pk in customers:
        if recompute_set is None or pk in recompute_set:
            fact = facts.get(pk)
            interaction = interactions.get(pk)
            if fact is None:
                figures[pk] = (None, None, 0, Decimal("0.00"), interaction)
                continue
            activity = fact.last_order
            if interaction is not None and interaction > activity:
                activity = interaction
            figures[pk] = (fact.last_order, fact.last_order_day, fact.frequency,
                           fact.monetary, activity)
        else:
            old = stored[pk]
            figures[pk] = (old[_LAST], clock.day(old[_LAST]), old[_FREQ], _money(old[_MONEY]),
                           old[_ACTIVITY])
    scored = [pk for pk, fig in figures.items() if fig[2] > 0]
    recency = {pk: (as_of - fig[1]).days for pk, fig in figures.items() if fig[1] is not None}
    r_scores, r_bounds = quintile_scores([-recency[pk] for pk in scored])
    f_scores, f_bounds = quintile_scores([figures[pk][2] for pk in scored])
    m_scores, m_bounds = quintile_scores([figures[pk][3] for pk in scored])
    scores = {pk: (r, f, m) for pk, r, f, m in zip(scored, r_scores, f_scores, m_scores,
                                                     strict=True)}
    rules = TierRules(high_min_score=settings.high_min_score,
                      high_spend_threshold=settings.high_spend_threshold,
                      potential_min_r=settings.potential_min_r,
                      potential_max_fm=settings.potential_max_fm)
    dormant_before = as_of - timedelta(days=settings.dormant_days)
    boundaries = {
        "recency_days": [None if b is None else -b for b in r_bounds],
        "frequency": f_bounds, "monetary": [None if b is None else str(b) for b in m_bounds],
        "window_start": (as_of - timedelta(days=settings.window_days)).isoformat(),
        "population": len(scored)}
    window = settings.window_days
    out: dict[int, tuple] = {}
    for pk, (last_order, _day, frequency, monetary, activity) in figures.items():
        # A customer with no purchase or interaction yet is judged from when they were added.
        latest = clock.day(activity if activity is not None else customers[pk][0])
        dormant = latest is None or latest < dormant_before
        score = scores.get(pk)
        if score is None:
            r = f = m = None
            segment = ""
        else:
            r, f, m = score
            segment = rfm_segment_of(r, f)
        out[pk] = (
            last_order, recency.get(pk), frequency, monetary, r, f, m, segment,
            value_tier_of(scores=score, monetary=monetary, dormant=dormant, rules=rules,
                          purchased=last_order is not None),
            activity, window)
    return out, boundaries


def _same(old: tuple, new: tuple) -> bool:
    if old == new:
        return True
    return all(a == b or (i == _MONEY and _money(a) == b) for i, (a, b) in
               enumerate(zip(old, new, strict=True)))


def _write(rows: dict[int, tuple], stored: dict[int, tuple], *, now: datetime
           ) -> dict[str, int]:
    """Upsert the rows that changed and record segment/tier moves of existing rows."""
    changed = [(pk, row) for pk, row in rows.items()
               if pk not in stored or not _same(stored[pk], row)]
    moves = 0
    for start in range(0, len(changed), WRITE_SLICE):
        part = changed[start:start + WRITE_SLICE]
        history = []
        for pk, row in part:
            old = stored.get(pk)
            if old is not None and (old[_SEGMENT], old[_TIER]) != (row[_SEGMENT], row[_TIER]):
                history.append((pk, now, old[_SEGMENT], row[_SEGMENT], old[_TIER], row[_TIER]))
        with transaction.atomic():  # a slice's rows and their history together
            _upsert(part, now=now)
            _insert(CustomerValueChange, ("customer", "changed_at", "old_segment",
                                          "new_segment", "old_tier", "new_tier"), history)
        moves += len(history)
    return {"rows": len(changed), "history": moves}


def _insert(model, fields: tuple[str, ...], rows: list[tuple]) -> None:
    """Multi-row INSERT of history rows (fixed SQL, names from _meta, values as parameters):
    the ORM's bulk_create spends more time building objects than the database inserting."""
    if not rows:
        return
    ops = connection.ops
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    times = [i for i, f in enumerate(columns) if f.get_internal_type() == "DateTimeField"]
    quoted = ", ".join(ops.quote_name(f.column) for f in columns)
    head = f"INSERT INTO {ops.quote_name(meta.db_table)} ({quoted}) VALUES "  # noqa: S608
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    batch = max(1, 30000 // len(fields)) if connection.vendor == "sqlite" else 5000
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            part = rows[start:start + batch]
            params: list[Any] = []
            for row in part:
                values = list(row)
                for i in times:
                    values[i] = ops.adapt_datetimefield_value(values[i])
                params.extend(values)
            cursor.execute(head + ", ".join([one] * len(part)), params)


def _upsert(changed: list[tuple[int, tuple]], *, now: datetime) -> None:
    """Multi-row INSERT … ON CONFLICT DO UPDATE (SQLite 3.24+ and PostgreSQL): fixed SQL,
    table and column names from _meta, every value a parameter."""
    meta = CustomerValue._meta
    columns = ["customer", *_VALUE_COLUMNS, "scored_at"]
    quoted = [connection.ops.quote_name(meta.get_field(c).column) for c in columns]
    updates = ", ".join(f"{q} = excluded.{q}" for q in quoted[1:])
    ops = connection.ops
    adapt = ops.adapt_datetimefield_value
    scored_at = adapt(now)
    per_row = len(columns)
    batch = max(1, 30000 // per_row) if connection.vendor == "sqlite" else 2000
    table = ops.quote_name(meta.db_table)
    head = f"INSERT INTO {table} ({', '.join(quoted)}) VALUES "  # noqa: S608
    tail = f" ON CONFLICT ({quoted[0]}) DO UPDATE SET {updates}"
    one = "(" + ", ".join(["%s"] * per_row) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(changed), batch):
            part = changed[start:start + batch]
            params: list[Any] = []
            for pk, row in part:
                params.append(pk)
                params.extend(row)
                params[-11] = adapt(params[-11])  # last_order_at
                params[-2] = adapt(params[-2])    # last_activity_at
                params.append(scored_at)
            cursor.execute(head + ", ".join([one] * len(part)) + tail, params)


def rfm_score_counts(run: ScoringRun) -> dict[str, int]:
    """Figures of a run for the CLI and API."""
    return {"scored": run.scored, "recomputed": run.recomputed, "changed": run.changed,
            "segment_changes": run.segment_changes, "lifecycle_changes": run.lifecycle_changes,
            "duration_ms": run.duration_ms}

