"""Reads of the audit log, scoped by what the acting user may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from kehu.core.models import AuditEntry


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
