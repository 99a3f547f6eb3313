"""Every read of the value layer, scoped by the caller's record scope: a customer's value and
histories, the R x F grid and the tier summary."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Case, Count, IntegerField, Max, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Greatest

from kehu.customers.models import Customer
from kehu.customers.selectors import customer_check_visible, rows_of_visible_customers
from kehu.scoring.models import (
    RFM_SEGMENTS,
    VALUE_TIERS,
    CustomerValue,
    CustomerValueChange,
    LifecycleStageChange,
    ScoringRun,
)
from kehu.scoring.services import scoring_settings_get

# Chinese display names live in the catalogue; these are the code -> label tables.
SEGMENT_LABELS = dict(RFM_SEGMENTS)
TIER_LABELS = dict(VALUE_TIERS)


def rule_labels() -> dict[str, str]:
    from django.utils.translation import gettext

    return {"first_order": gettext("First order"),
            "repeat_orders": gettext("Repeat orders"),
            "no_order": gettext("No recent order")}


def value_present(value: CustomerValue | None) -> dict[str, Any] | None:
    """A value row as plain data for the card, the list and the API (None when unscored)."""
    if value is None:
        return None
    return {
        "recency_days": value.recency_days, "frequency": value.frequency,
        "monetary": value.monetary, "r_score": value.r_score, "f_score": value.f_score,
        "m_score": value.m_score, "rfm_code": value.rfm_code,
        "rfm_segment": value.rfm_segment,
        "rfm_segment_label": str(SEGMENT_LABELS.get(value.rfm_segment, "")),
        "value_tier": value.value_tier,
        "value_tier_label": str(TIER_LABELS.get(value.value_tier, "")),
        "last_order_at": value.last_order_at, "last_activity_at": value.last_activity_at,
        "window_days": value.window_days, "scored_at": value.scored_at,
    }


def card_value(*, user, customer: Customer) -> dict[str, Any] | None:
    """The value row that customers.customer_get joined in (no query), for a caller with
    scoring.view; None otherwise or when unscored."""
    if not user.access.can("scoring.view"):
        return None
    try:
        value = customer.value
    except ObjectDoesNotExist:
        return None
    return value_present(value)


def customer_value_get(*, user, customer: Customer) -> dict[str, Any] | None:
    """The customer's value with its recent segment/tier moves; scoring.view required."""
    user.access.require("scoring.view")
    customer_check_visible(user=user, customer=customer)
    value = CustomerValue.objects.filter(customer_id=customer.pk).first()
    data = value_present(value)
    if data is None:
        return None
    data["history"] = [{
        "changed_at": c.changed_at, "old_segment": c.old_segment, "new_segment": c.new_segment,
        "old_tier": c.old_tier, "new_tier": c.new_tier,
    } for c in CustomerValueChange.objects.filter(customer_id=customer.pk)[:20]]
    return data


def lifecycle_history(*, user, customer: Customer, limit: int = 20) -> list[dict[str, Any]]:
    """The customer's lifecycle stage changes, newest first, by person or by rule."""
    customer_check_visible(user=user, customer=customer)
    stages = {k: str(v) for k, v in Customer.LIFECYCLE_STAGES}
    rules = rule_labels()
    rows = (LifecycleStageChange.objects.filter(customer_id=customer.pk)
            .select_related("by_user")[:limit])
    return [{
        "changed_at": row.changed_at, "from_stage": row.from_stage, "to_stage": row.to_stage,
        "from_label": stages.get(row.from_stage, row.from_stage),
        "to_label": stages.get(row.to_stage, row.to_stage),
        "by": (row.by_user.get_full_name() or row.by_user.get_username()) if row.by_user
        else None,
        "rule": row.rule, "rule_label": rules.get(row.rule, row.rule), "note": row.note,
    } for row in rows]


# The lifecycle funnel's steps in order; a churned customer had reached "customer" (customers
# churn only after ordering), so it counts there unless its history shows it got further.
LIFECYCLE_FUNNEL = ("lead", "prospect", "customer", "loyal")
_RANK = {**{stage: rank for rank, stage in enumerate(LIFECYCLE_FUNNEL)}, "churned": 2}


def stages_at_or_after(stage: str) -> tuple[str, ...]:
    """The current stages that show a customer has reached lifecycle step `stage` (without its
    history: what a summary keyed by the current stage can tell)."""
    return tuple(name for name, rank in _RANK.items() if rank >= LIFECYCLE_FUNNEL.index(stage))


def _rank_of(column: str) -> Case:
    return Case(*[When(**{column: stage}, then=Value(rank)) for stage, rank in _RANK.items()],
                default=Value(0), output_field=IntegerField())


def lifecycle_reached_rank():
    """The furthest lifecycle step a customer has reached (index into LIFECYCLE_FUNNEL): the
    higher of the current stage and every stage in its history. The one definition behind the
    funnel board and the customer list's `lifecycle_reached` filter."""
    history = (LifecycleStageChange.objects.filter(customer_id=OuterRef("pk")).order_by()
               .values("customer_id").annotate(top=Max(_rank_of("to_stage"))).values("top"))
    return Greatest(_rank_of("lifecycle_stage"),
                    Coalesce(Subquery(history, output_field=IntegerField()), Value(0)))


def customers_reached_lifecycle(customers, stage: str):
    """The customers (a Customer queryset) that reached lifecycle step `stage` or a later one."""
    return (customers.annotate(lifecycle_reached=lifecycle_reached_rank())
            .filter(lifecycle_reached__gte=LIFECYCLE_FUNNEL.index(stage)))


def lifecycle_stays(customers, *, limit: int) -> list[tuple[str, float]]:
    """(stage left, days spent in it) for the latest `limit` moves out of a stage by these
    customers: the stay began at the move into that stage, else when the customer was added."""
    entered = (LifecycleStageChange.objects
               .filter(customer_id=OuterRef("customer_id"), to_stage=OuterRef("from_stage"),
                       changed_at__lte=OuterRef("changed_at"))
               .exclude(pk=OuterRef("pk")).order_by("-changed_at", "-pk").values("changed_at")[:1])
    rows = (LifecycleStageChange.objects.filter(customer__in=customers.values("pk"))
            .exclude(from_stage="")
            .annotate(began=Coalesce(Subquery(entered), "customer__created_at"))
            .order_by("-changed_at", "-pk").values_list("from_stage", "changed_at", "began")
            [:limit])
    return [(stage, max(0.0, (left - began).total_seconds() / 86400))
            for stage, left, began in rows]


def _visible_values(user):
    user.access.require("scoring.view")
    return rows_of_visible_customers(user=user, queryset=CustomerValue.objects.all())


def rfm_grid(*, user) -> dict[str, Any]:
    """The R x F grid (5 x 5) of the customers the user may see: count and revenue per cell,
    the segment each cell belongs to, and the tier summary."""
    values = _visible_values(user)
    cells = {(r, f): (n, m) for r, f, n, m in values.filter(r_score__isnull=False).order_by()
             .values("r_score", "f_score").annotate(n=Count("pk"), m=Sum("monetary"))
             .values_list("r_score", "f_score", "n", "m")}
    from kehu.scoring.rfm import rfm_segment_of

    grid = []
    for r in range(1, 6):
        for f in range(1, 6):
            count, revenue = cells.get((r, f), (0, None))
            segment = rfm_segment_of(r, f)
            grid.append({"r": r, "f": f, "count": count,
                         "revenue": Decimal(revenue or 0).quantize(Decimal("0.01")),
                         "segment": segment, "segment_label": str(SEGMENT_LABELS[segment])})
    tiers = dict(values.order_by().values("value_tier").annotate(n=Count("pk"))
                 .values_list("value_tier", "n"))
    revenue = dict(values.order_by().values("value_tier").annotate(m=Sum("monetary"))
                   .values_list("value_tier", "m"))
    last = ScoringRun.objects.filter(finished_at__isnull=False).first()
    return {
        "cells": grid,
        "tiers": [{"tier": code, "label": str(label), "count": tiers.get(code, 0),
                   "revenue": Decimal(revenue.get(code) or 0).quantize(Decimal("0.01"))}
                  for code, label in VALUE_TIERS],
        "scored": sum(c["count"] for c in grid),
        "last_run": {"at": last.finished_at, "mode": last.mode,
                     "boundaries": last.boundaries} if last else None,
    }


def scoring_settings_read(*, user):
    """The settings row for the admin page; scoring.configure required."""
    user.access.require("scoring.configure")
    return scoring_settings_get()


def scoring_runs(*, user, limit: int = 10) -> list[ScoringRun]:
    user.access.require("scoring.view")
    return list(ScoringRun.objects.all()[:limit])


__all__ = ["LIFECYCLE_FUNNEL", "SEGMENT_LABELS", "TIER_LABELS", "card_value",
           "customer_value_get", "customers_reached_lifecycle", "lifecycle_history",
           "lifecycle_reached_rank", "lifecycle_stays", "rfm_grid", "rule_labels", "scoring_runs",
           "scoring_settings_read", "stages_at_or_after", "value_present"]


def value_tier_counts(*, user) -> list[dict[str, Any]]:
    """Customers per value tier among those the user may see (one grouped query), every
    tier present, in the tiers' order."""
    counts = dict(_visible_values(user).order_by().values("value_tier")
                  .annotate(n=Count("pk")).values_list("value_tier", "n"))
    return [{"tier": code, "label": str(label), "count": counts.get(code, 0)}
            for code, label in VALUE_TIERS]


def last_scoring_run() -> ScoringRun | None:
    return ScoringRun.objects.filter(finished_at__isnull=False).first()
