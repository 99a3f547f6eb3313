"""Lookups by a sensitive identifier (resident ID number, phone, email): who may, how often,
and the audit trail of each.

A lookup answers "who holds this value?", so repeated it is an oracle. Every lookup needs the
field in clear (view or edit) for the caller: a masked phone's hidden digits or a hidden ID
number cannot be guessed through it.

A lookup by **ID number** can reveal more than the caller's pages show, even to roles that
may see ID numbers: they see them masked until an audited reveal, and ~1,000 checksum-valid
guesses recover a number whose region and birthday are known. So those lookups count against
a per-user hourly allowance (KEHU_SENSITIVE_LOOKUP_LIMIT; HTTP 429 beyond it), each is audited
with its result count, never the value, and a user passing KEHU_SENSITIVE_LOOKUP_ALERT in an
hour raises an alert: an audit entry of its own (`security.lookup_limit`, under "Security
alerts" on the audit page) and a warning on the `kehu.security` logger. The audit log is the
counter, so the allowance holds across processes and restarts.

Phones and emails are shown in clear to everyone allowed to look them up, so a lookup by them
reveals nothing the customer list does not; they are not counted, because caller lookup is the
call centre's hot path (one switchboard key at hundreds of requests a second, where an audit
append per call would serialise on the chain head).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.core.audit import audit_record
from kehu.core.errors import PermissionDenied, RateLimited
from kehu.core.models import AuditEntry

LOOKUP_ACTION = "customer.lookup"
ALERT_ACTION = "security.lookup_limit"
WINDOW = timedelta(hours=1)
# what the lookup is by -> the sensitive field whose clear value it needs
LOOKUP_FIELDS = {"id_number": "customer.id_number", "phone": "customer.mobile",
                 "email": "customer.email"}
# lookups that reveal more than the pages show: counted, limited and audited
COUNTED = frozenset({"id_number"})

log = logging.getLogger("kehu.security")
T = TypeVar("T")


def _used(user_id: int, since) -> int:
    return AuditEntry.objects.filter(actor_user_id=user_id, action=LOOKUP_ACTION,
                                     at__gte=since).count()


def _alert(actor: Actor, used: int, since) -> None:
    """One alert entry per user and window (a refused flood writes one entry, not many)."""
    user = actor.user
    if AuditEntry.objects.filter(action=ALERT_ACTION, object_type="user",
                                 object_id=str(user.pk), at__gte=since).exists():
        return
    limit = settings.KEHU_SENSITIVE_LOOKUP_LIMIT
    audit_record(actor=actor, action=ALERT_ACTION, object_type="user", object_id=user.pk,
                 object_repr=user.get_username(),
                 changes={"lookups": used, "limit": limit,
                          "alert_at": settings.KEHU_SENSITIVE_LOOKUP_ALERT,
                          "window_minutes": int(WINDOW.total_seconds() // 60)})
    log.warning("sensitive lookups: user %s made %d lookups in an hour (limit %d)",
                user.get_username(), used, limit)


def customer_sensitive_lookup(*, actor: Actor, by: str, find: Callable[[], T],
                              count: Callable[[T], int] | None = None) -> T:
    """Run `find` (the lookup) if the actor may, within the allowance, and audit it.

    `by` is "id_number", "phone" or "email". PermissionDenied without the field in clear.
    For the counted kinds (COUNTED: the ID number), RateLimited (429) past the hourly
    allowance, after raising the alert, and an audit entry (`customer.lookup`) with what the
    lookup was by and how many customers it found. The command line and system jobs (no
    user) are neither limited nor counted.
    """
    field = LOOKUP_FIELDS[by]
    user = actor.user
    if user is None:
        return find()
    if not user.access.can_read_field(field):
        raise PermissionDenied(details={"field": field})
    if by not in COUNTED:
        return find()
    since = timezone.now() - WINDOW
    used = _used(user.pk, since)
    if used >= settings.KEHU_SENSITIVE_LOOKUP_LIMIT:
        with transaction.atomic():
            _alert(actor, used + 1, since)
        raise RateLimited(details={"limit": settings.KEHU_SENSITIVE_LOOKUP_LIMIT,
                                   "window_minutes": int(WINDOW.total_seconds() // 60)})
    found = find()
    results = count(found) if count is not None else (0 if found is None else 1)
    with transaction.atomic():
        audit_record(actor=actor, action=LOOKUP_ACTION, object_type="customer",
                     changes={"by": by, "results": results})
        if used + 1 > settings.KEHU_SENSITIVE_LOOKUP_ALERT:
            _alert(actor, used + 1, since)
    return found
