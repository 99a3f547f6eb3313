"""Reads of the audit log and the jobs, scoped by what the acting user may see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from kehu.core.errors import NotFound
from kehu.core.jobs import job_kind, job_kinds
from kehu.core.models import AuditEntry, Job


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    since: datetime | None = None
    until: datetime | None = None


def audit_entries_visible_to(user) -> QuerySet[AuditEntry]:
    """Auditors (audit.view) see everything; everyone else sees what they did themselves."""
    entries = AuditEntry.objects.all()
    if user.access.can("audit.view"):
        return entries
    return entries.filter(actor_user_id=user.pk)


def audit_entry_list(*, user, filters: AuditFilter | None = None) -> QuerySet[AuditEntry]:
    entries = audit_entries_visible_to(user)
    f = filters or AuditFilter()
    if f.actor:
        entries = entries.filter(Q(actor_label__icontains=f.actor))
    if f.action:
        entries = entries.filter(action__startswith=f.action)
    if f.object_type:
        entries = entries.filter(object_type=f.object_type)
    if f.object_id:
        entries = entries.filter(object_id=f.object_id)
    if f.since:
        entries = entries.filter(at__gte=f.since)
    if f.until:
        entries = entries.filter(at__lt=f.until)
    return entries.order_by("-seq")


def audit_history_for(*, user, object_type: str, object_id) -> QuerySet[AuditEntry]:
    """The change history of one object, for its page; callers check they may see the object."""
    return AuditEntry.objects.filter(object_type=object_type, object_id=str(object_id)).order_by(
        "-seq"
    )


# object_type -> presenter(access, changes) -> the changes as that user may read them. The
# apps that own the objects register theirs (customers: each field masked by its own setting).
_PRESENTERS: dict[str, Callable[[Any, dict[str, Any]], dict[str, Any]]] = {}


def audit_presenter_register(object_type: str,
                             presenter: Callable[[Any, dict[str, Any]], dict[str, Any]]) -> None:
    _PRESENTERS[object_type] = presenter


def audit_changes_present(user, entry: AuditEntry) -> Any:
    """An entry's changes as this user may read them (masked per field by the owning app)."""
    presenter = _PRESENTERS.get(entry.object_type)
    if presenter is None or not isinstance(entry.changes, dict):
        return entry.changes
    return presenter(getattr(user, "access", None), entry.changes)


# Jobs --------------------------------------------------------------------------------------

JOB_LIST_LIMIT = 200


def jobs_visible_to(user) -> QuerySet[Job]:
    """Jobs of the kinds the user's role may see, and the user's own jobs."""
    if user is None or not user.is_authenticated:
        return Job.objects.none()
    kinds = [k.key for k in job_kinds() if user.access.can(k.permission)]
    return Job.objects.filter(Q(kind__in=kinds) | Q(created_by=user)).select_related("created_by")


def job_present(job: Job) -> dict:
    """One job as the page, the API and `kehu jobs` show it."""
    kind = job_kind(job.kind)
    left = job.seconds_left
    return {
        "id": job.pk, "kind": job.kind, "kind_label": str(kind.label) if kind else job.kind,
        "label": job.label, "status": job.status, "status_label": str(job.get_status_display()),
        "done": job.done, "total": job.total, "percent": job.percent,
        "rate": round(job.rate, 1), "seconds_left": None if left is None else round(left),
        "error": job.error, "result": job.result,
        "created_by": job.created_by.get_username() if job.created_by else None,
        "created_at": job.created_at, "started_at": job.started_at, "finished_at": job.finished_at,
        "url": kind.detail_url(job) if kind and kind.detail_url else None,
    }


def job_list(*, user, status: str | None = None, kind: str | None = None,
             limit: int = 50, offset: int = 0) -> tuple[int, list[dict]]:
    jobs = jobs_visible_to(user)
    if status:
        jobs = jobs.filter(status=status)
    if kind:
        jobs = jobs.filter(kind=kind)
    limit = max(1, min(int(limit), JOB_LIST_LIMIT))
    return jobs.count(), [job_present(j) for j in jobs.order_by("-id")[max(0, offset):max(0, offset) + limit]]


def job_get(*, user, job_id: int) -> dict:
    job = jobs_visible_to(user).filter(pk=job_id).first()
    if job is None:
        raise NotFound()
    return job_present(job)


# Domain events ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubscriberLag:
    """How far a subscriber is behind: events after its cursor, and its open failures."""

    name: str
    patterns: tuple[str, ...]
    cursor: int
    behind: int
    retrying: int
    held: int
    dead: int


def subscriber_lag() -> list[SubscriberLag]:
    """Every registered subscriber's cursor and backlog (for `kehu events subscribers`, the
    events page and status checks). Three grouped queries."""
    from django.db.models import Count

    from kehu.core.events import subscribers
    from kehu.core.models import DomainEvent, EventDelivery, EventSubscriberState

    registered = subscribers()
    names = [s.name for s in registered]
    cursors = dict(EventSubscriberState.objects.filter(name__in=names)
                   .values_list("name", "cursor"))
    open_counts: dict[tuple[str, str], int] = {
        (name, status): count for name, status, count in EventDelivery.objects.filter(
            subscriber__in=names).exclude(status=EventDelivery.DONE)
        .values("subscriber", "status").annotate(n=Count("id"))
        .values_list("subscriber", "status", "n")}
    out = []
    for subscriber in registered:
        cursor = cursors.get(subscriber.name, 0)
        out.append(SubscriberLag(
            name=subscriber.name, patterns=subscriber.patterns, cursor=cursor,
            behind=DomainEvent.objects.filter(id__gt=cursor).count(),
            retrying=open_counts.get((subscriber.name, EventDelivery.RETRY), 0),
            held=open_counts.get((subscriber.name, EventDelivery.HELD), 0),
            dead=open_counts.get((subscriber.name, EventDelivery.DEAD), 0)))
    return out


def dead_letters(*, user=None, subscriber: str = "") -> QuerySet:
    """The parked deliveries, newest first, with their events. Only event.manage may see
    them (NotFound-free: an empty list for anyone else); `user=None` is the command line."""
    from kehu.core.models import EventDelivery

    rows = EventDelivery.objects.filter(status=EventDelivery.DEAD).select_related("event")
    if user is not None and not user.access.can("event.manage"):
        return rows.none()
    if subscriber:
        rows = rows.filter(subscriber=subscriber)
    return rows.order_by("-updated_at", "-id")
