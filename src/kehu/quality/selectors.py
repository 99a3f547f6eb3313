"""Every read of the data-quality app, scoped by the caller's permissions: the rules, a
customer's score with its breakdown, and the steward's summary over the customers they see."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Avg, Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.errors import NotFound
from kehu.core.models import FieldRule
from kehu.customers import selectors as customers
from kehu.customers.models import Customer
from kehu.customers.rule_fields import (
    COLUMN_FIELDS,
    field_applies,
    label_for,
    rule_fields,
)
from kehu.quality.config import load_config
from kehu.quality.models import CustomerQuality, QualitySettings, QualitySnapshot
from kehu.quality.scoring import COMPONENTS, Config
from kehu.quality.services import stale_customers

COMPONENT_LABELS = {"completeness": _("Completeness"), "validity": _("Validity"),
                    "freshness": _("Freshness"), "duplicates": _("No pending duplicates")}
TREND_DAYS = 90


# Rules and settings -------------------------------------------------------------------------


def field_rule_list(*, user) -> list[FieldRule]:
    user.access.require("quality.view")
    return list(FieldRule.objects.order_by("field", "id"))


def field_rule_get(*, user, rule_id: int) -> FieldRule:
    user.access.require("quality.view")
    rule = FieldRule.objects.filter(pk=rule_id).first()
    if rule is None:
        raise NotFound()
    return rule


def rule_field_labels(*, user) -> dict[str, str]:
    """The fields a rule may name, with their labels."""
    user.access.require("quality.view")
    return rule_fields()


def quality_settings_get(*, user) -> tuple[QualitySettings | None, Config]:
    user.access.require("quality.view")
    return QualitySettings.objects.filter(pk=1).first(), load_config()


# One customer -------------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityPart:
    key: str
    label: str
    score: int


@dataclass(frozen=True)
class QualityBreakdown:
    """A customer's stored score, its components and the fields behind the gaps."""

    score: int
    parts: list[QualityPart]
    missing: list[dict[str, str]]
    invalid: list[dict[str, str]]
    age_days: int
    pending_duplicates: int
    computed_at: dt.datetime
    outdated: bool  # the customer changed since the score was computed


def _breakdown(customer: Customer, quality: CustomerQuality, labels: dict[str, str]
               ) -> QualityBreakdown:
    parts = quality.components or {}
    changed = max(t for t in (customer.updated_at, customer.last_activity_at) if t is not None)
    return QualityBreakdown(
        score=quality.score,
        parts=[QualityPart(key=k, label=str(COMPONENT_LABELS[k]), score=int(parts.get(k, 0)))
               for k in COMPONENTS],
        missing=[{"field": f, "label": label_for(f, labels)} for f in parts.get("missing", [])],
        invalid=[{"field": f, "label": label_for(f, labels)} for f in parts.get("invalid", [])],
        age_days=int(parts.get("age_days", 0)),
        pending_duplicates=int(parts.get("pending_duplicates", 0)),
        computed_at=quality.computed_at,
        outdated=changed > quality.computed_at,
    )


def customer_quality(*, user, customer: Customer,
                     labels: dict[str, str] | None = None) -> QualityBreakdown | None:
    """The customer's quality breakdown (None before its first scoring). Uses the row
    joined by customer_get (select_related "quality") when present: no extra query.
    `labels` names custom fields; without it they are looked up when needed."""
    customers.customer_check_visible(user=user, customer=customer)
    try:
        quality = customer.quality
    except ObjectDoesNotExist:
        return None
    parts = quality.components or {}
    if labels is None:
        named = [*parts.get("missing", []), *parts.get("invalid", [])]
        labels = rule_fields() if any(f.startswith("custom.") for f in named) else {}
    return _breakdown(customer, quality, labels)


def customer_quality_by_id(*, user, customer_id: int) -> QualityBreakdown | None:
    return customer_quality(user=user, customer=customers.customer_get_plain(
        user=user, customer_id=customer_id))


# The steward's summary ------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldFigure:
    field: str
    label: str
    count: int  # filled (completeness) or invalid (validity)
    total: int
    percent: float  # of `count` in `total`
    missing: int = 0  # completeness: customers of the kinds it applies to without it


@dataclass(frozen=True)
class QualitySummary:
    customers: int
    scored: int
    average_score: float | None
    bands: dict[str, int]  # "low" < 50 <= "medium" < 80 <= "high"
    completeness: list[FieldFigure]  # every weighted field, most missing (share, then count) first
    invalid: list[FieldFigure]  # most first
    stale_days: int
    stale_customers: int
    pending_duplicates: int | None  # None when duplicate detection is not installed
    trend: list[dict[str, Any]] = field(default_factory=list)


def _filled(name: str) -> Q:
    if name == "owner":
        return Q(owner__isnull=False)
    if name == "mobile":
        return ~Q(primary_mobile="")
    if name == "email":
        return ~Q(primary_email="")
    if name == "id_number":
        return ~Q(id_number_index="")
    if name == "wechat":
        return Q(identifiers__kind="wechat", identifiers__is_live=True)
    if name.startswith("custom."):
        return Q(custom__has_key=name[len("custom."):])
    if name in COLUMN_FIELDS:
        if name == "birthday":
            return Q(birthday__isnull=False)
        return ~Q(**{name: ""})
    return Q(pk__in=[])


def _completeness(visible, config: Config, labels: dict[str, str]) -> list[FieldFigure]:
    """Per weighted field, how many customers of the kinds it applies to have it filled."""
    wanted: dict[str, set[str]] = {}
    for kind, weights in config.completeness_weights.items():
        for name, weight in weights.items():
            if weight and field_applies(name, kind):
                wanted.setdefault(name, set()).add(kind)
    if not wanted:
        return []
    aggregates = {}
    for i, (name, kinds) in enumerate(sorted(wanted.items())):
        aggregates[f"t{i}"] = Count("pk", filter=Q(kind__in=sorted(kinds)), distinct=True)
        aggregates[f"f{i}"] = Count("pk", filter=Q(kind__in=sorted(kinds)) & _filled(name),
                                    distinct=True)
    counts = visible.aggregate(**aggregates)
    figures = []
    for i, name in enumerate(sorted(wanted)):
        total, filled = counts[f"t{i}"], counts[f"f{i}"]
        figures.append(FieldFigure(
            field=name, label=label_for(name, labels) if name != "owner" else str(_("Owner")),
            count=filled, total=total, missing=total - filled,
            percent=round(100 * filled / total, 1) if total else 100.0))
    # Worst first: the largest share missing, then the most customers missing, by exact
    # fractions (not the rounded percent).
    return sorted(figures, key=lambda f: (-(f.missing / f.total if f.total else 0.0),
                                          -f.missing, f.field))


def _invalid(visible, labels: dict[str, str], total: int) -> list[FieldFigure]:
    """Per field, how many customers hold a value failing the rules or normalisation."""
    fields = sorted(set(labels) | {"mobile", "email", "uscc", "id_number"})
    counts = visible.aggregate(**{
        f"i{i}": Count("pk", filter=Q(quality__invalid__contains=f",{name},"))
        for i, name in enumerate(fields)})
    figures = [FieldFigure(field=name, label=label_for(name, labels), count=counts[f"i{i}"],
                           total=total, percent=round(100 * counts[f"i{i}"] / total, 1)
                           if total else 0.0)
               for i, name in enumerate(fields) if counts[f"i{i}"]]
    return sorted(figures, key=lambda f: (-f.count, f.field))


def _pending_duplicates(user) -> int | None:
    if not apps.is_installed("kehu.identity"):
        return None
    candidate = apps.get_model("identity", "DuplicateCandidate")
    visible = customers.customer_queryset(user=user).values("pk")
    return (candidate.objects.filter(status="pending", members__customer__in=visible)
            .values("pk").distinct().count())


def quality_summary(*, user) -> QualitySummary:
    """The data-quality page's figures over the customers this user may see. Trends are
    whole-base figures, shown only to users who see every customer."""
    user.access.require("quality.view")
    visible = customers.customer_queryset(user=user)
    config = load_config()
    labels = rule_fields()
    head = visible.aggregate(
        customers=Count("pk"), scored=Count("quality"), average=Avg("quality__score"),
        low=Count("pk", filter=Q(quality__score__lt=50)),
        medium=Count("pk", filter=Q(quality__score__gte=50, quality__score__lt=80)),
        high=Count("pk", filter=Q(quality__score__gte=80)))
    stale = visible.filter(pk__in=stale_customers(config.stale_days).values("pk")).count()
    trend = [{**point, "day": point["day"].isoformat()} for point in quality_trend(
        user=user, start=timezone.localdate() - dt.timedelta(days=TREND_DAYS))]
    return QualitySummary(
        customers=head["customers"], scored=head["scored"],
        average_score=None if head["average"] is None else round(float(head["average"]), 1),
        bands={"low": head["low"], "medium": head["medium"], "high": head["high"]},
        completeness=_completeness(visible, config, labels),
        invalid=_invalid(visible, labels, head["customers"]),
        stale_days=config.stale_days, stale_customers=stale,
        pending_duplicates=_pending_duplicates(user), trend=trend)


def quality_trend(*, user, start: dt.date, end: dt.date | None = None) -> list[dict[str, Any]]:
    """The daily snapshots (whole-base figures) from `start` to `end`, oldest first; only for
    users who see every customer (anyone else gets none: the figures would leak the rest)."""
    user.access.require("quality.view")
    if user.access.scope != "all":
        return []
    rows = QualitySnapshot.objects.filter(day__gte=start)
    if end is not None:
        rows = rows.filter(day__lte=end)
    return [{"day": s.day, "customers": s.customers, "average_score": s.average_score,
             "completeness": s.completeness, "validity": s.validity, "freshness": s.freshness,
             "invalid_customers": s.invalid_customers, "stale_customers": s.stale_customers,
             "pending_duplicates": s.pending_duplicates} for s in rows.order_by("day")]


@dataclass(frozen=True)
class QualityHeadline:
    customers: int
    scored: int
    average_score: float | None
    low: int  # score below 50


def quality_headline(*, user) -> QualityHeadline:
    """The few figures a home page shows (one aggregate over the customers the user sees;
    the full summary with fields and staleness is quality_summary)."""
    user.access.require("quality.view")
    head = customers.customer_queryset(user=user).aggregate(
        customers=Count("pk"), scored=Count("quality"), average=Avg("quality__score"),
        low=Count("pk", filter=Q(quality__score__lt=50)))
    return QualityHeadline(
        customers=head["customers"], scored=head["scored"],
        average_score=None if head["average"] is None else round(float(head["average"]), 1),
        low=head["low"])
