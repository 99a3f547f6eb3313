"""Every write of the value layer: scoring runs, scoring settings and lifecycle stages.

A scoring run is set-based: one grouped query over orders, one over interactions, one read
of the current values, the ranking in memory and multi-row upserts of the rows that changed.
See docs/rfm.md for the rules and the incremental approach.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
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
LIFECYCLE_RULES = {
    "first_order": "customer",
    "repeat_orders": "loyal",
    "no_order": "churned",
}
CHUNK = 2000
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
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            # Only rows still in `old`: a concurrent hand edit wins.
            moved = list(Customer.objects.filter(pk__in=chunk, lifecycle_stage=old)
                         .values_list("pk", flat=True))
            Customer.objects.filter(pk__in=moved).update(
                lifecycle_stage=new, version=F("version") + 1, updated_at=now)
            LifecycleStageChange.objects.bulk_create([
                LifecycleStageChange(customer_id=pk, changed_at=now, from_stage=old,
                                     to_stage=new, rule=rule) for pk in moved])
            changed += len(moved)
    return changed


# Scoring ------------------------------------------------------------------------------


@dataclass
class _Facts:
    last_order_at: datetime | None
    last_order_day: date | None
    frequency: int
    monetary: Decimal
    orders_12m: int


def _midnight(day: date) -> datetime:
    return datetime.combine(day, dtime.min, timezone.get_current_timezone())


def _order_facts(customer_ids: list[int] | None, *, as_of: date, window_days: int
                 ) -> dict[int, _Facts]:
    """Per customer: last purchase, purchases and spend in the window, purchases in the last
    365 days. One grouped query (per chunk of ids when given)."""
    window_start = _midnight(as_of - timedelta(days=window_days))
    year_start = _midnight(as_of - timedelta(days=365))
    base = Order.objects.filter(status__in=PURCHASE_STATUSES,
                                customer__status=Customer.STATUS_ACTIVE)
    out: dict[int, _Facts] = {}
    chunks = ([None] if customer_ids is None
              else [customer_ids[i:i + CHUNK] for i in range(0, len(customer_ids), CHUNK)])
    for chunk in chunks:
        qs = base if chunk is None else base.filter(customer_id__in=chunk)
        rows = (qs.order_by().values("customer_id").annotate(
            last=Max("ordered_at"),
            f=Count("id", filter=Q(ordered_at__gte=window_start)),
            m=Sum("total_amount", filter=Q(ordered_at__gte=window_start)),
            y=Count("id", filter=Q(ordered_at__gte=year_start)),
        ).values_list("customer_id", "last", "f", "m", "y"))
        for pk, last, f, m, y in rows.iterator(chunk_size=20000):
            out[pk] = _Facts(last, timezone.localdate(last) if last else None, f or 0,
                             Decimal(m or 0).quantize(Decimal("0.01")), y or 0)
    return out


def _last_interactions(customer_ids: list[int] | None) -> dict[int, datetime]:
    base = Interaction.objects.order_by()
    out: dict[int, datetime] = {}
    chunks = ([None] if customer_ids is None
              else [customer_ids[i:i + CHUNK] for i in range(0, len(customer_ids), CHUNK)])
    for chunk in chunks:
        qs = base if chunk is None else base.filter(customer_id__in=chunk)
        out.update(qs.values("customer_id").annotate(last=Max("occurred_at"))
                   .values_list("customer_id", "last").iterator(chunk_size=20000))
    return out


@dataclass(frozen=True)
class _Row:
    """A customer's value row as plain values, comparable with what is stored."""

    last_order_at: datetime | None
    recency_days: int | None
    frequency: int
    monetary: Decimal
    r_score: int | None
    f_score: int | None
    m_score: int | None
    rfm_segment: str
    value_tier: str
    last_activity_at: datetime | None
    window_days: int


def _changed_since(run: ScoringRun) -> set[int]:
    """Customers whose orders, interactions or own row changed since `run` started: new
    orders, order status changes (from the audit log), new interactions, new or edited
    customers."""
    since = run.started_at
    from kehu.core.models import AuditEntry

    ids = set(Order.objects.filter(created_at__gte=since).values_list("customer_id", flat=True))
    order_ids = [int(o) for o in AuditEntry.objects.filter(
        at__gte=since, object_type="order").values_list("object_id", flat=True) if o.isdigit()]
    for start in range(0, len(order_ids), CHUNK):
        ids.update(Order.objects.filter(pk__in=order_ids[start:start + CHUNK])
                   .values_list("customer_id", flat=True))
    ids.update(Interaction.objects.filter(created_at__gte=since)
               .values_list("customer_id", flat=True))
    # Strictly after: the run's own lifecycle moves carry its start time.
    ids.update(Customer.objects.filter(updated_at__gt=since).values_list("pk", flat=True))
    return ids


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
    started = time.perf_counter()
    now = now or timezone.now()
    as_of = timezone.localdate(now)
    settings = scoring_settings_get()
    say = progress or (lambda message: None)
    last = ScoringRun.objects.filter(finished_at__isnull=False).order_by("-started_at").first()
    if (not full and (last is None or last.as_of != as_of
                      or last.window_days != settings.window_days
                      or last.boundaries.get("settings") != settings.updated_at.isoformat())):
        full = True
    with transaction.atomic():
        run = ScoringRun.objects.create(mode="full" if full else "incremental", as_of=as_of,
                                        started_at=now, window_days=settings.window_days,
                                        triggered_by=actor.label[:200])
        customers = {pk: (created, stage) for pk, created, stage in Customer.objects.filter(
            status=Customer.STATUS_ACTIVE).values_list("pk", "created_at", "lifecycle_stage")
            .iterator(chunk_size=20000)}
        say(_("%(n)d customers") % {"n": len(customers)})
        stored = {row[0]: _Row(*row[1:]) for row in CustomerValue.objects.values_list(
            "customer_id", *_VALUE_COLUMNS).iterator(chunk_size=20000)}
        if full:
            recompute = None
            facts = _order_facts(None, as_of=as_of, window_days=settings.window_days)
            interactions = _last_interactions(None)
        else:
            recompute = sorted(_changed_since(last) & customers.keys()
                               | (customers.keys() - stored.keys()))
            facts = _order_facts(recompute, as_of=as_of, window_days=settings.window_days)
            interactions = _last_interactions(recompute)
        say(_("orders aggregated"))
        rows = _score_all(customers, stored, facts, interactions, recompute, as_of=as_of,
                          settings=settings)
        run.boundaries = {**rows.pop(None), "settings": settings.updated_at.isoformat()}
        changes = _write(rows, stored, customers, now=now)
        say(_("scores written"))
        lifecycle = 0
        if settings.lifecycle_rules_enabled:
            targets = customers.keys() if recompute is None else recompute
            lifecycle = _apply_lifecycle(
                {pk: customers[pk][1] for pk in targets},
                facts, as_of=as_of, now=now,
                settings=settings)
        removed = 0
        if full:
            gone = list(set(stored) - customers.keys())
            for start in range(0, len(gone), CHUNK):
                removed += CustomerValue.objects.filter(
                    customer_id__in=gone[start:start + CHUNK]).delete()[0]
        run.scored = sum(1 for row in rows.values() if row.r_score is not None)
        run.recomputed = len(customers) if recompute is None else len(recompute)
        run.changed = changes["rows"] + removed
        run.segment_changes = changes["history"]
        run.lifecycle_changes = lifecycle
        run.finished_at = timezone.now()
        run.duration_ms = int((time.perf_counter() - started) * 1000)
        run.save()
        audit_record(actor=actor, action="scoring.run", object_type="scoring_run",
                     object_id=run.pk, object_repr=f"{run.mode} {as_of.isoformat()}",
                     changes={"mode": {"before": None, "after": run.mode},
                              "customers": {"before": None, "after": len(customers)},
                              "rows_changed": {"before": None, "after": run.changed},
                              "lifecycle_changes": {"before": None, "after": lifecycle}})
    return run


def _score_all(customers, stored, facts, interactions, recompute, *, as_of: date,
               settings: ScoringSettings) -> dict:
    """Every customer's new row (keyed by id) plus the boundaries under key None."""
    recompute_set = None if recompute is None else set(recompute)
    window_start_day = as_of - timedelta(days=settings.window_days)
    figures: dict[int, tuple] = {}  # pk -> (last_order_at, frequency, monetary, last_activity)
    for pk in customers:
        if recompute_set is None or pk in recompute_set:
            fact = facts.get(pk)
            last_order = fact.last_order_at if fact else None
            last_interaction = interactions.get(pk)
            activity = max((t for t in (last_order, last_interaction) if t), default=None)
            figures[pk] = (last_order, fact.frequency if fact else 0,
                           fact.monetary if fact else Decimal("0.00"), activity)
        else:
            old = stored[pk]
            figures[pk] = (old.last_order_at, old.frequency, old.monetary, old.last_activity_at)
    scored = [pk for pk, fig in figures.items() if fig[1] > 0]
    recency = {pk: (as_of - timezone.localdate(fig[0])).days
               for pk, fig in figures.items() if fig[0] is not None}
    r_scores, r_bounds = quintile_scores([-recency[pk] for pk in scored])
    f_scores, f_bounds = quintile_scores([figures[pk][1] for pk in scored])
    m_scores, m_bounds = quintile_scores([figures[pk][2] for pk in scored])
    scores = {pk: (r, f, m) for pk, r, f, m in zip(scored, r_scores, f_scores, m_scores,
                                                     strict=True)}
    rules = TierRules(high_min_score=settings.high_min_score,
                      high_spend_threshold=settings.high_spend_threshold,
                      potential_min_r=settings.potential_min_r,
                      potential_max_fm=settings.potential_max_fm)
    dormant_before = as_of - timedelta(days=settings.dormant_days)
    out: dict = {None: {
        "recency_days": [None if b is None else -b for b in r_bounds],
        "frequency": f_bounds, "monetary": [None if b is None else str(b) for b in m_bounds],
        "window_start": window_start_day.isoformat(), "population": len(scored)}}
    for pk, (last_order, frequency, monetary, activity) in figures.items():
        created = customers[pk][0]
        # A customer with no purchase or interaction yet is judged from when they were added.
        latest = activity or created
        dormant = latest is None or timezone.localdate(latest) < dormant_before
        score = scores.get(pk)
        out[pk] = _Row(
            last_order_at=last_order, recency_days=recency.get(pk), frequency=frequency,
            monetary=monetary, r_score=score[0] if score else None,
            f_score=score[1] if score else None, m_score=score[2] if score else None,
            rfm_segment=rfm_segment_of(score[0], score[1]) if score else "",
            value_tier=value_tier_of(scores=score, monetary=monetary, dormant=dormant,
                                     rules=rules),
            last_activity_at=activity, window_days=settings.window_days)
    return out


def _same(old: _Row, new: _Row) -> bool:
    if old == new:
        return True
    # Stored decimals and datetimes may come back in another representation; compare values.
    return all(_norm(getattr(old, name)) == _norm(getattr(new, name)) for name in _VALUE_COLUMNS)


def _norm(value):
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    if isinstance(value, datetime):
        return value.timestamp()
    return value


def _write(rows: dict[int, _Row], stored: dict[int, _Row], customers, *, now: datetime
           ) -> dict[str, int]:
    """Upsert the rows that changed and record segment/tier moves of existing rows."""
    changed = [(pk, row) for pk, row in rows.items()
               if pk not in stored or not _same(stored[pk], row)]
    history = []
    for pk, row in changed:
        old = stored.get(pk)
        if old is not None and (old.rfm_segment, old.value_tier) != (row.rfm_segment,
                                                                       row.value_tier):
            history.append(CustomerValueChange(
                customer_id=pk, changed_at=now, old_segment=old.rfm_segment,
                new_segment=row.rfm_segment, old_tier=old.value_tier, new_tier=row.value_tier))
    _upsert(changed, now=now)
    CustomerValueChange.objects.bulk_create(history, batch_size=CHUNK)
    return {"rows": len(changed), "history": len(history)}


def _upsert(changed: list[tuple[int, _Row]], *, now: datetime) -> None:
    """Multi-row INSERT … ON CONFLICT DO UPDATE (SQLite 3.24+ and PostgreSQL): fixed SQL,
    table and column names from _meta, every value a parameter."""
    meta = CustomerValue._meta
    columns = ["customer_id", *_VALUE_COLUMNS, "scored_at"]
    quoted = [connection.ops.quote_name(meta.get_field(c if c != "customer_id" else "customer")
                                        .column) for c in columns]
    updates = ", ".join(f"{q} = excluded.{q}" for q in quoted[1:])
    ops = connection.ops
    scored_at = ops.adapt_datetimefield_value(now)
    per_row = len(columns)
    batch = max(1, min(CHUNK, 900 // per_row))  # SQLite's variable limit on old builds
    table = ops.quote_name(meta.db_table)
    head = f"INSERT INTO {table} ({', '.join(quoted)}) VALUES "  # noqa: S608
    tail = f" ON CONFLICT ({quoted[0]}) DO UPDATE SET {updates}"
    with connection.cursor() as cursor:
        for start in range(0, len(changed), batch):
            part = changed[start:start + batch]
            placeholders = ", ".join(["(" + ", ".join(["%s"] * per_row) + ")"] * len(part))
            params: list[Any] = []
            for pk, row in part:
                params.extend((
                    pk, ops.adapt_datetimefield_value(row.last_order_at), row.recency_days,
                    row.frequency, ops.adapt_decimalfield_value(row.monetary, 16, 2),
                    row.r_score, row.f_score, row.m_score, row.rfm_segment, row.value_tier,
                    ops.adapt_datetimefield_value(row.last_activity_at), row.window_days,
                    scored_at))
            cursor.execute(head + placeholders + tail, params)


def rfm_score_counts(run: ScoringRun) -> dict[str, int]:
    """Figures of a run for the CLI and API."""
    return {"scored": run.scored, "recomputed": run.recomputed, "changed": run.changed,
            "segment_changes": run.segment_changes, "lifecycle_changes": run.lifecycle_changes,
            "duration_ms": run.duration_ms}

