"""Retention (PIPL Arts. 6, 19, 47(1)(2)): each data class is kept for its policy's days and
then deleted — or, for inactive customers, put up for review — by a nightly run of the job
system (`kehu privacy retention [--dry-run]` runs it by hand; a dry run deletes nothing and
says what would go).

Data classes an app keeps (import uploads and reports) are deleted by the handler the app
registers in `kehu.core.personal`; privacy deletes the ones it can reach itself (behaviour
events, delivered domain events, access archives kept on disk).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import events_prune, record_change
from kehu.core.jobs import job_open, job_report
from kehu.core.models import DomainEvent, Job
from kehu.core.personal import retention_handlers
from kehu.customers.models import Customer
from kehu.interactions.models import Event
from kehu.privacy.models import RetentionPolicy

MAX_DAYS = 36500


def policies() -> list[RetentionPolicy]:
    """Every data class's policy (the defaults are put back for a class without a row)."""
    existing = {p.data_class: p for p in RetentionPolicy.objects.all()}
    for data_class, _label in RetentionPolicy.DATA_CLASSES:
        if data_class not in existing:
            existing[data_class] = RetentionPolicy.objects.create(
                data_class=data_class, days=RetentionPolicy.DEFAULT_DAYS[data_class])
    order = [c for c, _label in RetentionPolicy.DATA_CLASSES]
    return sorted(existing.values(), key=lambda p: order.index(p.data_class))


def retention_policy_update(*, actor: Actor, data_class: str, days: int, is_active: bool = True
                            ) -> RetentionPolicy:
    """Change how long a data class is kept (1 to 36,500 days) or switch its policy off."""
    actor.require("privacy.manage")
    if data_class not in dict(RetentionPolicy.DATA_CLASSES):
        raise ValidationFailed(details={"data_class": [_("Unknown data class “%s”.")
                                                       % data_class]})
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(details={"days": [_("Between 1 and %d days.") % MAX_DAYS]})
    with transaction.atomic():
        policies()
        policy = RetentionPolicy.objects.select_for_update().get(data_class=data_class)
        before = {"days": policy.days, "is_active": policy.is_active}
        policy.days, policy.is_active = days, bool(is_active)
        policy.save(update_fields=["days", "is_active"])
        record_change(actor=actor, action="retention.update", event="retention.policy_changed",
                      object_type="retention", object_id=policy.pk, object_repr=data_class,
                      changes={k: {"before": before[k], "after": getattr(policy, k)}
                               for k in before if before[k] != getattr(policy, k)})
    return policy


def _exports_dir() -> Path:
    return Path(settings.KEHU_HOME) / "exports"


def _files_older(directory: Path, cutoff: dt.datetime, dry_run: bool) -> int:
    if not directory.is_dir():
        return 0
    count = 0
    for path in directory.rglob("*"):
        if path.is_file() and path.stat().st_mtime < cutoff.timestamp():
            count += 1
            if not dry_run:
                path.unlink(missing_ok=True)
    return count


def inactive_customers(*, cutoff: dt.datetime):
    """Live customers with no activity since `cutoff` (nor created since): up for review."""
    return Customer.objects.filter(status=Customer.STATUS_ACTIVE).filter(
        Q(last_activity_at__lt=cutoff) | Q(last_activity_at__isnull=True, created_at__lt=cutoff))


def _apply(policy: RetentionPolicy, cutoff: dt.datetime, dry_run: bool) -> int:
    handler = retention_handlers().get(policy.data_class)
    if handler is not None:
        return handler(cutoff=cutoff, dry_run=dry_run)
    if policy.data_class == "events":
        old = Event.objects.filter(occurred_at__lt=cutoff)
        return old.count() if dry_run else old.delete()[0]
    if policy.data_class == "domain_events":
        if dry_run:
            return DomainEvent.objects.filter(occurred_at__lt=cutoff).count()
        return events_prune(days=policy.days)
    if policy.data_class == "exports":
        return _files_older(_exports_dir(), cutoff, dry_run)
    if policy.data_class == "inactive_customers":
        return inactive_customers(cutoff=cutoff).count()
    return 0


def retention_run(*, actor: Actor, dry_run: bool = False, now: dt.datetime | None = None
                  ) -> dict[str, Any]:
    """Apply every active policy: {data class: {"days", "cutoff", "count", "action"}}.
    "delete" counts what went (or would go, dry); inactive customers are "review" only.
    A real run is recorded (retention.applied) with its counts; a dry run changes nothing."""
    actor.require("privacy.manage")
    now = now or timezone.now()
    entry = None if dry_run else job_open(kind="privacy.retention", label=_("Retention run"),
                                          user=actor.user, total=len(RetentionPolicy.DATA_CLASSES))
    result: dict[str, Any] = {}
    try:
        for policy in policies():
            if not policy.is_active:
                continue
            cutoff = now - dt.timedelta(days=policy.days)
            count = _apply(policy, cutoff, dry_run)
            result[policy.data_class] = {
                "days": policy.days, "cutoff": cutoff.isoformat(), "count": count,
                "action": "review" if policy.data_class == "inactive_customers" else "delete"}
        if not dry_run:
            with transaction.atomic():
                for policy in RetentionPolicy.objects.filter(data_class__in=result):
                    policy.last_run_at, policy.last_result = now, result[policy.data_class]
                    policy.save(update_fields=["last_run_at", "last_result"])
                record_change(actor=actor, action="retention.run", event="retention.applied",
                              object_type="retention", object_repr=_("Retention run"),
                              changes={k: v["count"] for k, v in result.items()})
    except Exception as exc:
        if entry is not None:
            job_report(entry, status=Job.FAILED, error=type(exc).__name__)
        raise
    if entry is not None:
        job_report(entry, status=Job.DONE, done=len(result),
                   result={k: v["count"] for k, v in result.items()})
    return result


def retention_policy_get(*, data_class: str) -> RetentionPolicy:
    policy = next((p for p in policies() if p.data_class == data_class), None)
    if policy is None:
        raise NotFound()
    return policy
