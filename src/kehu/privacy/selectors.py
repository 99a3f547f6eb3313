"""Reads of the privacy app, and THE one place that decides whether a customer may be
contacted for a purpose on a channel (`consent_allows`, set-based `consent_filter` and
`consent_q`): segments, marketing exports and rule actions all ask here.

The rule: the current state for (purpose, channel) decides; without one, the state for
(purpose, "any") does. Only a grant counts, and only while unexpired; someone who was under
14 at the grant needs it to have come from a guardian until their 14th birthday. Anything
else (no record, withdrawn, expired) is no.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from kehu.core.errors import NotFound
from kehu.core.models import AuditEntry
from kehu.customers.models import Customer
from kehu.privacy import consent as rules
from kehu.privacy.models import (
    CHANNEL_CODES,
    ConsentRecord,
    ConsentState,
    Erasure,
    LegalHold,
    PrivacyRequest,
)


def adult_born_by(today) -> Any:
    """The latest birthday of someone who is 14 today (born on 29 February: 1 March)."""
    import datetime as dt

    try:
        return today.replace(year=today.year - rules.MINOR_AGE)
    except ValueError:  # today is 29 February
        return dt.date(today.year - rules.MINOR_AGE, 2, 28)


def _valid(purpose: str, channel: str, now: datetime, customer_ref: Any) -> Exists:
    """An unexpired grant; for someone under 14 a guardian's. Under 14 is read twice: from
    the birthday on the card now (so a birthday entered after the grant counts at once) and
    from `minor_until`, set at the grant and refreshed when the birthday or ID number
    changes (the ID number's birth date is encrypted, out of SQL's reach)."""
    today = timezone.localdate(now)
    return Exists(ConsentState.objects.filter(
        customer_id=customer_ref, purpose=purpose, channel=channel,
        status=ConsentRecord.GRANTED).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)).filter(
        Q(guardian_consent=True)
        | ((Q(minor_until__isnull=True) | Q(minor_until__lte=today))
           & (Q(customer__birthday__isnull=True)
              | Q(customer__birthday__lte=adult_born_by(today))))))


def consent_q(*, purpose: str, channel: str, now: datetime | None = None,
              customer_ref: Any = None) -> Q:
    """A Q over Customer (or over rows whose `customer_ref` expression is the customer id)
    true for the customers who may be contacted for `purpose` on `channel`."""
    now = now or timezone.now()
    ref = customer_ref if customer_ref is not None else OuterRef("pk")
    if channel == rules.ANY:
        return Q(_valid(purpose, rules.ANY, now, ref))
    specific = Exists(ConsentState.objects.filter(customer_id=ref, purpose=purpose,
                                                  channel=channel))
    return Q(_valid(purpose, channel, now, ref)) | (~Q(specific) & Q(
        _valid(purpose, rules.ANY, now, ref)))


def consent_state_q(*, purpose: str, channel: str, state: str, now: datetime | None = None
                    ) -> Q:
    """A Q over Customer for the segments' other consent states: "withdrawn" (the state
    that decides — the channel's own, else "any" — is a withdrawal or an expiry) and "none"
    (never asked: no state for the channel nor for "any"). "allowed" is `consent_q`."""
    if state == "allowed":
        return consent_q(purpose=purpose, channel=channel, now=now)
    ref = OuterRef("pk")
    channels = [channel, rules.ANY] if channel != rules.ANY else [rules.ANY]
    if state == "none":
        return ~Q(Exists(ConsentState.objects.filter(customer_id=ref, purpose=purpose,
                                                     channel__in=channels)))
    closed = [ConsentRecord.WITHDRAWN, ConsentRecord.EXPIRED]
    own = Exists(ConsentState.objects.filter(customer_id=ref, purpose=purpose,
                                             channel=channel, status__in=closed))
    if channel == rules.ANY:
        return Q(own)
    specific = Exists(ConsentState.objects.filter(customer_id=ref, purpose=purpose,
                                                  channel=channel))
    fallback = Exists(ConsentState.objects.filter(customer_id=ref, purpose=purpose,
                                                  channel=rules.ANY, status__in=closed))
    return Q(own) | (~Q(specific) & Q(fallback))


def consent_allows(*, customer_id: int, channel: str, purpose: str) -> bool:
    """May this customer be contacted for `purpose` on `channel` now? (The automation
    app's `may_contact` asks this.)"""
    return Customer.objects.filter(pk=customer_id, status=Customer.STATUS_ACTIVE).filter(
        consent_q(purpose=purpose, channel=channel)).exists()


def consent_filter(queryset_or_ids: QuerySet | Iterable[int], channel: str, purpose: str
                   ) -> QuerySet | set[int]:
    """Keep only the customers that `consent_allows`: a Customer queryset gives the
    filtered queryset (one statement), a collection of ids gives the set of allowed ids."""
    if isinstance(queryset_or_ids, QuerySet):
        return queryset_or_ids.filter(consent_q(purpose=purpose, channel=channel))
    ids = list(dict.fromkeys(int(i) for i in queryset_or_ids))
    allowed: set[int] = set()
    for start in range(0, len(ids), 1000):
        allowed.update(Customer.objects.filter(
            pk__in=ids[start:start + 1000], status=Customer.STATUS_ACTIVE).filter(
            consent_q(purpose=purpose, channel=channel)).values_list("pk", flat=True))
    return allowed


# The card's consent section -----------------------------------------------------------------


@dataclass(frozen=True)
class ConsentCell:
    purpose: str
    purpose_label: str
    channel: str
    channel_label: str
    status: str  # granted | withdrawn | expired | "" (never asked)
    allowed: bool
    since: datetime | None
    expires_at: datetime | None
    source: str


@dataclass(frozen=True)
class CustomerConsent:
    customer_id: int
    minor_until: Any
    current: list[ConsentCell]
    history: list[ConsentRecord]


def _visible(user, customer_id: int) -> Customer:
    from kehu.customers.selectors import customer_get_plain

    return customer_get_plain(user=user, customer_id=customer_id)


def customer_consent(*, user, customer_id: int, history_limit: int = 50) -> CustomerConsent:
    """The current consent of one customer per purpose and channel (recorded ones, plus
    "never asked" for the purposes without any) and the ledger, newest first."""
    customer = _visible(user, customer_id)
    now = timezone.now()
    today = timezone.localdate(now)
    states = list(ConsentState.objects.filter(customer=customer).select_related("record")
                  .order_by("purpose", "channel"))
    minor = rules.minor_until(customer, today)
    cells = []
    for state in states:
        valid = (state.status == ConsentRecord.GRANTED
                 and (state.expires_at is None or state.expires_at > now)
                 and (state.guardian_consent or (
                     (state.minor_until is None or state.minor_until <= today)
                     and minor is None)))
        cells.append(ConsentCell(state.purpose, rules.purpose_label(state.purpose),
                                 state.channel, rules.channel_label(state.channel),
                                 state.status, valid, state.record.recorded_at,
                                 state.expires_at, state.record.source))
    seen = {state.purpose for state in states}
    for code in rules.purpose_codes():
        if code not in seen:
            cells.append(ConsentCell(code, rules.purpose_label(code), rules.ANY,
                                     rules.channel_label(rules.ANY), "", False, None, None, ""))
    history = list(ConsentRecord.objects.filter(customer=customer)
                   .select_related("recorded_by")[:history_limit])
    return CustomerConsent(customer.pk, minor, cells, history)


def consent_counts(*, user, purpose: str, channel: str) -> dict[str, int]:
    """How many customers (in the user's scope) may and may not be contacted (bulk page)."""
    from kehu.customers.selectors import customer_queryset

    scoped = customer_queryset(user=user)
    allowed = scoped.filter(consent_q(purpose=purpose, channel=channel)).count()
    return {"allowed": allowed, "not_allowed": scoped.count() - allowed}


def channels() -> tuple[str, ...]:
    return CHANNEL_CODES


# Holds, erasures, requests ----------------------------------------------------------------


def active_holds(*, customer_id: int) -> list[LegalHold]:
    return list(LegalHold.objects.filter(customer_id=customer_id, released_at__isnull=True))


def erasure_of(*, customer_id: int) -> Erasure | None:
    return Erasure.objects.filter(customer_id=customer_id).first()


def request_queryset(*, user) -> QuerySet[PrivacyRequest]:
    """Requests are privacy work: only holders of privacy.manage see them."""
    user.access.require("privacy.manage")
    return PrivacyRequest.objects.select_related("customer", "opened_by", "closed_by")


def request_list(*, user, status: str = "open") -> QuerySet[PrivacyRequest]:
    rows = request_queryset(user=user)
    if status == "open":
        rows = rows.exclude(status__in=PrivacyRequest.CLOSED)
    elif status in dict(PrivacyRequest.STATUSES):
        rows = rows.filter(status=status)
    return rows.order_by("due_date", "id")


def request_get(*, user, request_id: int) -> PrivacyRequest:
    row = request_queryset(user=user).filter(pk=request_id).first()
    if row is None:
        raise NotFound()
    return row


# Who viewed sensitive fields --------------------------------------------------------------

SENSITIVE_ACTIONS = ("customer.reveal", "customer.export_archive")
REVEAL_THRESHOLD = 20  # reveals by one user in the report's window that make it unusual


def sensitive_access(*, user, customer_id: int, limit: int = 50) -> list[AuditEntry]:
    """Who revealed this customer's ID number (or took their archive), newest first, from
    the audit log. For privacy managers and auditors only."""
    if not (user.access.can("privacy.manage") or user.access.can("audit.view")):
        return []
    return list(AuditEntry.objects.filter(object_type="customer", object_id=str(customer_id),
                                          action__in=SENSITIVE_ACTIONS).order_by("-seq")[:limit])


@dataclass(frozen=True)
class UnusualAccess:
    actor_label: str
    actor_user_id: int | None
    reveals: int
    customers: int
    first: datetime
    last: datetime


def unusual_access(*, user, since: datetime, until: datetime | None = None,
                   threshold: int | None = None) -> list[UnusualAccess]:
    """Users who revealed many ID numbers between `since` and `until` (the daily report):
    at least `threshold` reveals (settings.KEHU_PRIVACY_REVEAL_THRESHOLD, default 20),
    most first."""
    from django.conf import settings
    from django.db.models import Count, Max, Min

    if user is not None:  # None: the system's nightly report
        user.access.require("privacy.manage")
    threshold = threshold or getattr(settings, "KEHU_PRIVACY_REVEAL_THRESHOLD", REVEAL_THRESHOLD)
    rows = AuditEntry.objects.filter(action="customer.reveal", at__gte=since)
    if until is not None:
        rows = rows.filter(at__lt=until)
    grouped = (rows.values("actor_user_id", "actor_label")
               .annotate(reveals=Count("seq"), customers=Count("object_id", distinct=True),
                         first=Min("at"), last=Max("at"))
               .filter(reveals__gte=threshold).order_by("-reveals"))
    return [UnusualAccess(g["actor_label"], g["actor_user_id"], g["reveals"], g["customers"],
                          g["first"], g["last"]) for g in grouped]
