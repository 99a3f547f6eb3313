"""Every write of the data-quality app: field rules, settings, recomputing scores, the daily
snapshot and the stale-customer reminders. Each checks its permission, runs in a transaction
and is audited (scores are derived data: one audit entry per run, not per customer)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import Avg, Count, Exists, F, FloatField, OuterRef, Q
from django.db.models.fields.json import KT
from django.db.models.functions import Cast
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import ValidationFailed
from kehu.core.events import record_change
from kehu.core.field_rules import active_rules, rule_definition_errors
from kehu.core.models import FieldRule
from kehu.core.validation import full_clean
from kehu.customers.models import Customer, Identifier
from kehu.customers.rule_fields import (
    STORED_COLUMNS,
    applicable_rules,
    custom_keys_for,
    rule_fields,
    stored_values,
)
from kehu.interactions import services as interaction_services
from kehu.interactions.models import FollowUpTask, Interaction
from kehu.quality.config import load_config
from kehu.quality.models import CustomerQuality, QualitySettings, QualitySnapshot
from kehu.quality.scoring import COMPONENTS, joined, score_customer

CHUNK_SIZE = 2000
_RULE_FIELDS = ("field", "rule", "applies_to", "pattern", "min_value", "max_value",
                "allowed_values", "message", "is_active")


# Field rules -------------------------------------------------------------------------------


def _rule_snapshot(rule: FieldRule) -> dict[str, Any]:
    return {name: getattr(rule, name) for name in _RULE_FIELDS}


def _rule_clean(rule: FieldRule) -> None:
    rule.field = (rule.field or "").strip()
    rule.pattern = (rule.pattern or "").strip()
    rule.min_value = str(rule.min_value or "").strip()
    rule.max_value = str(rule.max_value or "").strip()
    if isinstance(rule.allowed_values, str):
        rule.allowed_values = [v.strip() for v in rule.allowed_values.replace("，", ",")
                               .split(",") if v.strip()]
    rule.allowed_values = [str(v).strip() for v in rule.allowed_values or [] if str(v).strip()]
    full_clean(rule)
    errors: dict[str, list[str]] = {}
    if rule.field not in rule_fields():
        errors["field"] = [_("There is no field “%s” to write a rule for.") % rule.field]
    errors.update(rule_definition_errors(rule))
    if errors:
        raise ValidationFailed(details=errors)


def field_rule_create(*, actor: Actor, field: str, rule: str, applies_to: str = "both",
                      pattern: str = "", min_value: str = "", max_value: str = "",
                      allowed_values: list[str] | str | None = None, message: str = "",
                      is_active: bool = True) -> FieldRule:
    """Add a validation rule for a customer field (quality.configure). It applies to every
    later create, and to every update that writes the field."""
    actor.require("quality.configure")
    row = FieldRule(field=field, rule=rule, applies_to=applies_to, pattern=pattern,
                    min_value=min_value, max_value=max_value,
                    allowed_values=allowed_values or [], message=(message or "").strip(),
                    is_active=is_active)
    _rule_clean(row)
    with transaction.atomic():
        row.save()
        record_change(actor=actor, action="fieldrule.create", event="fieldrule.created",
                      object_type="fieldrule",
                      object_id=row.pk, object_repr=str(row),
                      changes=diff({}, _rule_snapshot(row)))
    return row


def field_rule_update(*, actor: Actor, rule: FieldRule, **changes: Any) -> FieldRule:
    """Change a rule; `changes` names any of the rule's fields."""
    actor.require("quality.configure")
    unknown = sorted(set(changes) - set(_RULE_FIELDS))
    if unknown:
        raise ValidationFailed(details={k: [_("Unknown field.")] for k in unknown})
    with transaction.atomic():
        row = FieldRule.objects.select_for_update().get(pk=rule.pk)
        before = _rule_snapshot(row)
        for name, value in changes.items():
            setattr(row, name, value)
        _rule_clean(row)
        after = _rule_snapshot(row)
        if before == after:
            return row
        row.save(update_fields=[*_RULE_FIELDS, "updated_at"])
        record_change(actor=actor, action="fieldrule.update", event="fieldrule.updated",
                      object_type="fieldrule",
                      object_id=row.pk, object_repr=str(row), changes=diff(before, after))
    return row


def field_rule_delete(*, actor: Actor, rule: FieldRule) -> None:
    """Remove a rule; the audit entry keeps what it said."""
    actor.require("quality.configure")
    with transaction.atomic():
        row = FieldRule.objects.select_for_update().get(pk=rule.pk)
        record_change(actor=actor, action="fieldrule.delete", event="fieldrule.deleted",
                      object_type="fieldrule",
                      object_id=row.pk, object_repr=str(row),
                      changes=diff(_rule_snapshot(row), {}))
        row.delete()


# Settings ---------------------------------------------------------------------------------


def _settings_snapshot(row: QualitySettings) -> dict[str, Any]:
    return {"completeness_weights": row.completeness_weights,
            "component_weights": row.component_weights, "fresh_days": row.fresh_days,
            "expired_days": row.expired_days, "stale_days": row.stale_days}


def quality_settings_update(*, actor: Actor, completeness_weights: dict | None = None,
                            component_weights: dict | None = None,
                            fresh_days: int | None = None, expired_days: int | None = None,
                            stale_days: int | None = None) -> QualitySettings:
    """Change how scores are weighted and when a customer counts as stale (quality.configure).
    Scores follow at the next recompute."""
    actor.require("quality.configure")
    errors: dict[str, list[str]] = {}
    if completeness_weights is not None:
        known = set(rule_fields()) | {"owner"}
        if not isinstance(completeness_weights, dict) or set(completeness_weights) - {
                "person", "organisation"}:
            errors["completeness_weights"] = [_("Give weights for person and organisation.")]
        else:
            for weights in completeness_weights.values():
                bad = [k for k, w in (weights or {}).items()
                       if k not in known or not isinstance(w, int) or w < 0]
                if bad:
                    errors["completeness_weights"] = [
                        _("Unknown field or negative weight: %s") % ", ".join(sorted(bad))]
    if component_weights is not None:
        if (not isinstance(component_weights, dict) or set(component_weights) - set(COMPONENTS)
                or any(not isinstance(w, int) or w < 0 for w in component_weights.values())
                or not sum(component_weights.values())):
            errors["component_weights"] = [
                _("Weights are whole numbers ≥ 0 for completeness, validity, freshness and "
                  "duplicates, not all 0.")]
    with transaction.atomic():
        row, _created = QualitySettings.objects.select_for_update().get_or_create(pk=1)
        before = _settings_snapshot(row)
        if completeness_weights is not None:
            row.completeness_weights = completeness_weights
        if component_weights is not None:
            row.component_weights = component_weights
        for name, value in (("fresh_days", fresh_days), ("expired_days", expired_days),
                            ("stale_days", stale_days)):
            if value is not None:
                if not isinstance(value, int) or value < 1:
                    errors[name] = [_("Enter a number of days of at least 1.")]
                else:
                    setattr(row, name, value)
        if row.expired_days <= row.fresh_days and "expired_days" not in errors:
            errors["expired_days"] = [_("Must be more days than “fresh for”.")]
        if errors:
            raise ValidationFailed(details=errors)
        row.save()
        record_change(actor=actor, action="quality.settings", event="quality.settings_changed",
                      object_type="qualitysettings",
                      object_id=1, object_repr="quality settings",
                      changes=diff(before, _settings_snapshot(row)))
    return row


# Scores -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecomputeResult:
    customers: int
    removed: int
    seconds: float


def _pending_duplicates(ids: list[int]) -> dict[int, int]:
    """Pending duplicate candidates per customer (kehu.identity, by ORM lookup)."""
    if not apps.is_installed("kehu.identity"):
        return {}
    rows = (Customer.objects.filter(pk__in=ids,
                                    duplicate_memberships__candidate__status="pending")
            .values("pk").annotate(n=Count("duplicate_memberships")))
    return {row["pk"]: row["n"] for row in rows}


def _chunk_qualities(ids: list[int], *, rules, custom_keys, config, now, need_wechat: bool
                     ) -> list[CustomerQuality]:
    rows = list(Customer.objects.filter(pk__in=ids, status=Customer.STATUS_ACTIVE).values(
        *STORED_COLUMNS, "owner_id", "created_at", "updated_at", "last_activity_at",
        "id_number_encrypted"))
    wechat = {}
    if need_wechat:
        wechat = dict(Identifier.objects.filter(
            customer_id__in=ids, kind=Identifier.WECHAT, is_primary=True, is_live=True)
            .values_list("customer_id", "value"))
    pending = _pending_duplicates(ids)
    by_kind = {kind: applicable_rules(rules, kind, custom_keys[kind]) for kind in custom_keys}
    result = []
    for row in rows:
        values = stored_values(row, wechat=wechat.get(row["id"], ""))
        values["owner"] = row["owner_id"]
        touched = max(t for t in (row["last_activity_at"], row["updated_at"], row["created_at"])
                      if t is not None)
        scored = score_customer(
            kind=row["kind"], values=values, rules=by_kind.get(row["kind"], []), config=config,
            last_touched=touched, now=now, pending_duplicates=pending.get(row["id"], 0),
            id_number_encrypted=row["id_number_encrypted"])
        result.append(CustomerQuality(
            customer_id=row["id"], score=scored.score, components=scored.components,
            missing=joined(scored.missing), invalid=joined(scored.invalid), computed_at=now))
    return result


def dirty_customers():
    """Live customers whose score is missing or older than their last change or contact."""
    return Customer.objects.filter(status=Customer.STATUS_ACTIVE).filter(
        Q(quality__isnull=True) | Q(updated_at__gt=F("quality__computed_at"))
        | Q(last_activity_at__gt=F("quality__computed_at")))


def quality_recompute(
    *,
    actor: Actor,
    customer_ids: Iterable[int] | None = None,
    only_dirty: bool = False,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> RecomputeResult:
    """Recompute stored scores, set-based: read a chunk of customers in one query, score them
    in memory, upsert their rows in one statement. All live customers by default; only the
    given ones, or only those changed since their last score (`only_dirty`). Scores of
    customers no longer live are removed."""
    actor.require("quality.configure")
    started = time.perf_counter()
    if customer_ids is not None:
        qs = Customer.objects.filter(pk__in=list(customer_ids), status=Customer.STATUS_ACTIVE)
    elif only_dirty:
        qs = dirty_customers()
    else:
        qs = Customer.objects.filter(status=Customer.STATUS_ACTIVE)
    ids = list(qs.order_by("pk").values_list("pk", flat=True))
    config = load_config()
    rules = active_rules()
    custom_keys = {kind: custom_keys_for(kind) for kind, _label in Customer.KINDS}
    need_wechat = any(r.field == "wechat" for r in rules) or any(
        "wechat" in weights for weights in config.completeness_weights.values())
    now = timezone.now()
    done = 0
    for start in range(0, len(ids), chunk_size):
        chunk = ids[start:start + chunk_size]
        rows = _chunk_qualities(chunk, rules=rules, custom_keys=custom_keys, config=config,
                                now=now, need_wechat=need_wechat)
        with transaction.atomic():
            CustomerQuality.objects.bulk_create(
                rows, update_conflicts=True, unique_fields=["customer"],
                update_fields=["score", "components", "missing", "invalid", "computed_at"])
        done += len(chunk)
        if progress is not None:
            progress(done, len(ids))
    with transaction.atomic():
        gone = CustomerQuality.objects.exclude(customer__status=Customer.STATUS_ACTIVE)
        if customer_ids is not None:
            gone = gone.filter(customer_id__in=list(customer_ids))
        removed, _detail = gone.delete()
        result = RecomputeResult(customers=len(ids), removed=removed,
                                 seconds=round(time.perf_counter() - started, 3))
        record_change(actor=actor, action="quality.recompute", event="quality.recomputed",
                      object_type="quality",
                      object_repr="scores",
                      changes={"customers": result.customers, "removed": result.removed,
                              "only_dirty": only_dirty})
    return result


def _stale_condition(days: int, now) -> Q:
    """No interaction since `days` ago, and known to kehu for longer than that."""
    cutoff = now - timedelta(days=days)
    recent = Interaction.objects.filter(customer=OuterRef("pk"), occurred_at__gte=cutoff)
    return Q(created_at__lt=cutoff) & ~Exists(recent)


def stale_customers(days: int, now=None):
    """Live customers without an interaction for `days` days (the reminders' and the page's
    one definition)."""
    now = now or timezone.now()
    return Customer.objects.filter(status=Customer.STATUS_ACTIVE).filter(
        _stale_condition(days, now))


def quality_snapshot_take(*, actor: Actor) -> QualitySnapshot:
    """Record today's figures over all live customers (again today: replaced)."""
    actor.require("quality.configure")
    config = load_config()
    now = timezone.now()
    live = Customer.objects.filter(status=Customer.STATUS_ACTIVE)
    figures = CustomerQuality.objects.filter(customer__status=Customer.STATUS_ACTIVE).aggregate(
        average_score=Avg("score"), invalid=Count("pk", filter=~Q(invalid="")),
        completeness=Avg(_component("completeness")), validity=Avg(_component("validity")),
        freshness=Avg(_component("freshness")))
    pending = 0
    if apps.is_installed("kehu.identity"):
        pending = apps.get_model("identity", "DuplicateCandidate").objects.filter(
            status="pending").count()
    values = {
        "customers": live.count(),
        "average_score": _rounded(figures["average_score"]),
        "completeness": _rounded(figures["completeness"]),
        "validity": _rounded(figures["validity"]),
        "freshness": _rounded(figures["freshness"]),
        "invalid_customers": figures["invalid"],
        "stale_customers": stale_customers(config.stale_days, now).count(),
        "pending_duplicates": pending,
        "taken_at": now,
    }
    with transaction.atomic():
        snapshot, _created = QualitySnapshot.objects.update_or_create(
            day=timezone.localdate(now), defaults=values)
        record_change(actor=actor, action="quality.snapshot", event="quality.snapshot_taken",
                      object_type="qualitysnapshot",
                      object_id=snapshot.pk, object_repr=str(snapshot.day),
                      changes={k: v for k, v in values.items() if k != "taken_at"})
    return snapshot


def _component(name: str):
    return Cast(KT(f"components__{name}"), FloatField())


def _rounded(value) -> float | None:
    return None if value is None else round(float(value), 1)


# Stale-customer reminders ----------------------------------------------------------------


@dataclass(frozen=True)
class RemindResult:
    days: int
    created: int
    already_open: int
    task_ids: list[int]


def quality_remind(*, actor: Actor, days: int | None = None) -> RemindResult:
    """Remind each owner of their customers with no interaction for `days` days (default:
    the settings, 180) by creating a follow-up task through the interactions service.

    Idempotent: a customer that already has an open follow-up gets no second one. Each task
    is audited by follow_up_create; the run records one more entry with its counts.
    """
    actor.require("quality.configure")
    days = load_config().stale_days if days is None else int(days)
    if days < 1:
        raise ValidationFailed(details={"days": [_("Enter a number of days of at least 1.")]})
    now = timezone.now()
    stale = stale_customers(days, now).filter(owner__isnull=False, owner__is_active=True)
    already_open = stale.filter(follow_ups__status="open").values("pk").distinct().count()
    targets = list(stale.exclude(follow_ups__status="open").select_related("owner")
                   .order_by("pk"))
    created = []
    with translation.override(settings.LANGUAGE_CODE):
        for customer in targets:
            title = _("No contact for %(days)d days: get in touch with %(name)s") % {
                "days": days, "name": customer.name}
            with transaction.atomic():
                if FollowUpTask.objects.filter(customer=customer, status="open").exists():
                    continue  # someone (or a parallel run) reminded them meanwhile
                task = interaction_services.follow_up_create(
                    actor=actor, customer=customer, title=title[:200],
                    due_date=timezone.localdate(now), assignee=customer.owner)
            created.append(task.pk)
    with transaction.atomic():
        record_change(actor=actor, action="quality.remind", event="quality.reminders_created",
                      object_type="quality",
                      object_repr="reminders",
                      changes={"days": days, "created": len(created),
                              "already_open": already_open})
    return RemindResult(days=days, created=len(created), already_open=already_open,
                        task_ids=created)
