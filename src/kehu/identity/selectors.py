"""Reads for the review queue, the comparison page, merge history and other apps' counts.

A candidate is visible only when every one of its customers is live and inside the user's
scope; values are masked through the user's AccessPolicy like everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from kehu.core import labels
from kehu.core.errors import NotFound, ValidationFailed
from kehu.customers.duplicates import EVIDENCE_FIELDS
from kehu.customers.models import Customer
from kehu.customers.selectors import customer_queryset
from kehu.identity.choices import (
    LABELS,
    choosable_fields,
    default_choices,
    default_survivor,
    field_value,
)
from kehu.identity.models import CandidateMember, DedupScan, DuplicateCandidate, Merge

SENSITIVE = {"mobile": "customer.mobile", "email": "customer.email",
             "id_number": "customer.id_number", "birthday": "customer.birthday",
             "address": "customer.address"}


def _visible_candidates(user) -> QuerySet[DuplicateCandidate]:
    user.access.require("customer.merge")
    visible = customer_queryset(user=user)
    outside = CandidateMember.objects.exclude(customer__in=visible).values("candidate_id")
    return DuplicateCandidate.objects.exclude(pk__in=outside)


def candidate_list(*, user, status: str = DuplicateCandidate.PENDING,
                   min_probability: float = 0.0) -> QuerySet[DuplicateCandidate]:
    """The review queue, surest first."""
    qs = _visible_candidates(user)
    if status:
        qs = qs.filter(status=status)
    if min_probability:
        qs = qs.filter(probability__gte=min_probability)
    return qs.prefetch_related("members__customer__owner").order_by("-probability", "id")


def candidate_get(*, user, candidate_id: int) -> DuplicateCandidate:
    found = _visible_candidates(user).filter(pk=candidate_id).first()
    if found is None:
        raise NotFound()
    return found


def pending_duplicate_count(*, user) -> int:
    """How many duplicate groups wait for review among the customers the user can see
    (every member visible); for the data-quality page."""
    visible = customer_queryset(user=user)
    outside = CandidateMember.objects.exclude(customer__in=visible).values("candidate_id")
    return DuplicateCandidate.objects.filter(status=DuplicateCandidate.PENDING).exclude(
        pk__in=outside).count()


def customer_pending_candidates(*, user, customer_id: int) -> list[DuplicateCandidate]:
    """Pending candidates that include this customer (the card's banner)."""
    user.access.require("customer.view")
    visible = customer_queryset(user=user)
    outside = CandidateMember.objects.exclude(customer__in=visible).values("candidate_id")
    return list(DuplicateCandidate.objects.filter(
        status=DuplicateCandidate.PENDING, members__customer_id=customer_id)
        .exclude(pk__in=outside).order_by("-probability")[:5])


def customer_merges(*, user, customer_id: int) -> list[Merge]:
    """Merges that survive in this customer and are not undone (the card's banner)."""
    user.access.require("customer.view")
    return list(Merge.objects.filter(survivor_id=customer_id, undone_at__isnull=True)
                .prefetch_related("sources").order_by("-created_at")[:5])


def merge_list(*, user, include_undone: bool = True) -> QuerySet[Merge]:
    """Merge history of survivors inside the user's scope, newest first."""
    user.access.require("customer.merge")
    visible = customer_queryset(user=user)
    qs = Merge.objects.filter(survivor__in=visible)
    if not include_undone:
        qs = qs.filter(undone_at__isnull=True)
    return qs.select_related("survivor", "created_by", "undone_by").prefetch_related("sources")


def merge_get(*, user, merge_id: int) -> Merge:
    found = merge_list(user=user).filter(pk=merge_id).first()
    if found is None:
        raise NotFound()
    return found


def scan_get(*, user, scan_id: int) -> DedupScan:
    user.access.require("customer.merge")
    found = DedupScan.objects.filter(pk=scan_id).first()
    if found is None:
        raise NotFound()
    return found


def scan_latest(*, user) -> DedupScan | None:
    user.access.require("customer.merge")
    return DedupScan.objects.order_by("-created_at", "-id").first()


@dataclass(frozen=True)
class FieldRow:
    field: str
    label: str
    values: list[dict[str, Any]]  # [{"customer_id", "display", "filled"}] in column order
    chosen: int  # default customer id
    differs: bool


@dataclass(frozen=True)
class Comparison:
    """Customers side by side with a default survivor and default choice per field."""

    customers: list[dict[str, Any]]
    rows: list[FieldRow]
    survivor_id: int
    evidence: list[dict[str, Any]]
    probability: float | None


def _display(user, customer: Customer, field: str) -> tuple[str, bool]:
    value = field_value(customer, field)
    filled = value not in (None, "", [], {})
    if not filled:
        return "", False
    if field == "owner":
        owner = customer.owner
        return (owner.display_name or owner.get_username()) if owner else "", True
    if field == "team":
        return customer.team.name if customer.team else "", True
    if field in SENSITIVE:
        access = user.access
        if access.is_hidden(SENSITIVE[field]):
            return "—", True
        if field == "id_number":
            return str(value), True
        value = access.present(SENSITIVE[field], value.isoformat() if hasattr(
            value, "isoformat") else value)
    if isinstance(value, list):
        value = "、".join(str(v) for v in value)
    value = labels.field_value("customer", field, value)  # codes (stage, channel …) as labels
    return str(value), True


def _visible_customers(user, customer_ids: list[int]) -> list[Customer]:
    found = {c.pk: c for c in customer_queryset(user=user).select_related("owner", "team")
             .filter(pk__in=customer_ids)}
    missing = [i for i in customer_ids if i not in found]
    if missing:
        raise NotFound()
    return [found[i] for i in customer_ids]


def comparison(*, user, customer_ids: list[int],
               candidate: DuplicateCandidate | None = None) -> Comparison:
    """The side-by-side review of these customers (the survivor first)."""
    user.access.require("customer.merge")
    ids = list(dict.fromkeys(int(i) for i in customer_ids))
    if len(ids) < 2:
        raise ValidationFailed(details={"ids": [_("Choose at least two different customers to merge.")]})
    people = _visible_customers(user, ids)
    if len({c.kind for c in people}) != 1:
        raise ValidationFailed(details={"ids": [_("A person cannot be merged with an organisation.")]})
    survivor = default_survivor(people)
    people = [survivor, *[c for c in people if c.pk != survivor.pk]]
    defaults = default_choices(survivor, people[1:])
    rows = []
    for field in choosable_fields(survivor.kind, people):
        values = []
        for customer in people:
            display, filled = _display(user, customer, field)
            values.append({"customer_id": customer.pk, "display": display, "filled": filled})
        distinct = {v["display"] for v in values if v["filled"]}
        label = LABELS.get(field) or field.removeprefix("custom.")
        rows.append(FieldRow(field=field, label=str(label), values=values,
                             chosen=defaults[field], differs=len(distinct) > 1 or (
                                 bool(distinct) and not all(v["filled"] for v in values))))
    evidence = []
    for pair in (candidate.explanation if candidate is not None else []):
        evidence.append({**pair, "fields": [
            {**f, "field_label": str(EVIDENCE_FIELDS.get(f["field"], f["field"]))}
            for f in pair.get("fields", [])]})
    return Comparison(
        customers=[{"id": c.pk, "name": c.name, "created_at": c.created_at,
                    "updated_at": c.updated_at} for c in people],
        rows=rows, survivor_id=survivor.pk, evidence=evidence,
        probability=candidate.probability if candidate is not None else None)

