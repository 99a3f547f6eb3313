"""Reads of the audit log, scoped by what the acting user may see."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
