"""Data-subject requests (个人信息主体权利请求, PIPL Arts. 44–50): opened from the card, the API
or the public form; the requester's identity verified; answered within a deadline of 15
working days by default (the business calendar: weekends, PRC holidays and 调休 make-up days);
reminded before the deadline and escalated after it; a refusal keeps its reason.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import Conflict, NotFound, RateLimited, ValidationFailed
from kehu.core.events import record_change
from kehu.customers.models import Customer
from kehu.privacy.models import PrivacyRequest
from kehu.service.calendar import add_working_days, is_working_day

DEFAULT_WORKING_DAYS = 15  # the 2019 App rules' answer time
FORM_LIMIT_PER_HOUR = 5  # public form requests per IP address and per requester contact
REMIND_WORKING_DAYS = (5, 2)  # reminders when this many working days are left


def deadline_days() -> int:
    return int(getattr(settings, "KEHU_PRIVACY_REQUEST_DAYS", DEFAULT_WORKING_DAYS))


def due_date_for(opened: dt.date, days: int | None = None) -> dt.date:
    """The answer deadline: `days` working days after the day the request arrived."""
    return add_working_days(opened, deadline_days() if days is None else days)


def working_days_left(due: dt.date, today: dt.date | None = None) -> int:
    """Working days from today to the deadline (0 on the day; negative once overdue)."""
    today = today or timezone.localdate()
    if due == today:
        return 0
    step = 1 if due > today else -1
    count, day = 0, today
    while day != due:
        day += dt.timedelta(days=step)
        if is_working_day(day):
            count += step
    return count


def _locked(actor: Actor, request_id: int) -> PrivacyRequest:
    actor.require("privacy.manage")
    row = PrivacyRequest.objects.select_for_update().filter(pk=request_id).first()
    if row is None:
        raise NotFound()
    if row.status in PrivacyRequest.CLOSED:
        raise Conflict(_("This request is closed."), code="request_closed")
    return row


def _event(actor, row: PrivacyRequest, action: str, event: str, changes: dict) -> None:
    record_change(actor=actor, action=action, event=event, object_type="privacy_request",
                  object_id=row.pk, object_repr=f"{row.kind} #{row.pk}",
                  customer_id=row.customer_id, changes=changes)


def request_open(*, actor: Actor, kind: str, customer_id: int | None = None,
                 requester_name: str = "", requester_contact: str = "", details: str = "",
                 intake: str = "card", opened_at: dt.datetime | None = None) -> PrivacyRequest:
    """Open a request and start its clock. From the card or the API (privacy.manage) the
    customer is named; the public form (intake "form", no user) names only the requester,
    who must leave a way to reach them."""
    if intake != "form":
        actor.require("privacy.manage")
    errors: dict[str, list[str]] = {}
    if kind not in dict(PrivacyRequest.KINDS):
        errors["kind"] = [_("Choose one of: %s.") % ", ".join(dict(PrivacyRequest.KINDS))]
    if intake not in dict(PrivacyRequest.INTAKES):
        errors["intake"] = [_("Unknown intake “%s”.") % intake]
    if customer_id is None and not (requester_contact or "").strip():
        errors["requester_contact"] = [_("Give a phone number or email to reach the requester.")]
    if errors:
        raise ValidationFailed(details=errors)
    opened_at = opened_at or timezone.now()
    if intake == "form":
        _form_allowance(actor, requester_contact, opened_at)
    with transaction.atomic():
        customer = None
        if customer_id is not None:
            customer = Customer.objects.filter(pk=customer_id).first()
            if customer is None or (actor.user is not None and not _visible(actor, customer)):
                raise NotFound()
        row = PrivacyRequest.objects.create(
            kind=kind, customer=customer, requester_name=requester_name.strip()[:100],
            requester_contact=requester_contact.strip()[:200], details=details.strip()[:5000],
            intake=intake, opened_at=opened_at, opened_by=actor.user,
            due_date=due_date_for(timezone.localdate(opened_at)))
        _event(actor, row, "privacy_request.open", "privacy.request_opened",
               {"kind": kind, "intake": intake, "due_date": row.due_date,
                "status": {"before": None, "after": row.status}})
    return row


def _contact_key(text: str) -> str:
    """A requester contact compared loosely: case, spaces, dashes and a +86 prefix aside."""
    import re

    key = re.sub(r"[\s\-()（）]", "", (text or "").casefold())
    return key[3:] if key.startswith("+86") else key


def form_limit() -> int:
    return max(1, int(getattr(settings, "KEHU_PRIVACY_FORM_LIMIT", FORM_LIMIT_PER_HOUR)))


def _form_allowance(actor: Actor, contact: str, now: dt.datetime) -> None:
    """The public form takes at most `form_limit()` requests an hour from one IP address
    and for one requester contact (a flood would bury real requests and each starts a
    legal clock); RateLimited (429) past that, saying when to try again. Counted from the
    requests themselves and their audit entries (the address the form was sent from), so
    every web process shares the count."""
    from kehu.core.models import AuditEntry

    limit, since = form_limit(), now - dt.timedelta(hours=1)
    recent = list(PrivacyRequest.objects.filter(intake="form", opened_at__gt=since)
                  .values_list("pk", "opened_at", "requester_contact")[:5000])
    key = _contact_key(contact)
    times = [opened for _pk, opened, other in recent if _contact_key(other) == key]
    if actor.ip and len(times) < limit and len(recent) >= limit:
        by_ip = list(AuditEntry.objects.filter(
            action="privacy_request.open", object_type="privacy_request", ip=actor.ip,
            object_id__in=[str(pk) for pk, _at, _c in recent]).values_list("at", flat=True))
        if len(by_ip) >= limit:
            times = by_ip
    if len(times) >= limit:
        wait = max(1, int((min(times) + dt.timedelta(hours=1) - now).total_seconds() // 60) + 1)
        raise RateLimited(
            _("Too many requests in the last hour from this address or for this contact. "
              "Please try again in %(minutes)d minutes, or contact us by phone or email.") % {"minutes": wait},
            details={"limit": limit, "window_minutes": 60, "retry_after_minutes": wait})


def _visible(actor: Actor, customer: Customer) -> bool:
    from kehu.customers.selectors import customer_queryset

    return customer_queryset(user=actor.user, include_inactive=True).filter(
        pk=customer.pk).exists()


def request_verify(*, actor: Actor, request_id: int, method: str,
                   customer_id: int | None = None) -> PrivacyRequest:
    """Record how the requester's identity was checked (ID card seen, code sent to the phone
    on file …) and, for a form request, which customer they are."""
    if not (method or "").strip():
        raise ValidationFailed(details={"verification": [_("Say how the identity was checked.")]})
    with transaction.atomic():
        row = _locked(actor, request_id)
        if customer_id is not None:
            customer = Customer.objects.filter(pk=customer_id).first()
            if customer is None:
                raise ValidationFailed(details={"customer_id": [_("No such customer.")]})
            row.customer = customer
        if row.customer_id is None:
            raise ValidationFailed(details={"customer_id": [
                _("Name the customer the requester is.")]})
        row.status, row.verified_at = PrivacyRequest.VERIFIED, timezone.now()
        row.verification = method.strip()[:200]
        row.save(update_fields=["status", "verified_at", "verification", "customer"])
        _event(actor, row, "privacy_request.verify", "privacy.request_verified",
               {"status": {"before": PrivacyRequest.OPEN, "after": row.status},
                "verification": row.verification})
    return row


def request_complete(*, actor: Actor, request_id: int, outcome: str) -> PrivacyRequest:
    """Close a verified request as done, saying what was done (archive sent, data
    corrected, customer erased …)."""
    if not (outcome or "").strip():
        raise ValidationFailed(details={"outcome": [_("Say what was done.")]})
    with transaction.atomic():
        row = _locked(actor, request_id)
        if row.status != PrivacyRequest.VERIFIED:
            raise Conflict(_("Verify the requester's identity first."), code="not_verified")
        return _close(actor, row, PrivacyRequest.COMPLETED, outcome=outcome.strip())


def request_refuse(*, actor: Actor, request_id: int, reason: str) -> PrivacyRequest:
    """Refuse a request; the reason is required and kept (PIPL Art. 50)."""
    if not (reason or "").strip():
        raise ValidationFailed(details={"refusal_reason": [_("A refusal needs a reason.")]})
    with transaction.atomic():
        row = _locked(actor, request_id)
        return _close(actor, row, PrivacyRequest.REFUSED, reason=reason.strip())


def _close(actor: Actor, row: PrivacyRequest, status: str, *, outcome: str = "",
           reason: str = "") -> PrivacyRequest:
    before = row.status
    row.status, row.closed_at, row.closed_by = status, timezone.now(), actor.user
    row.outcome, row.refusal_reason = outcome[:5000], reason[:5000]
    row.save(update_fields=["status", "closed_at", "closed_by", "outcome", "refusal_reason"])
    _event(actor, row, "privacy_request.close", "privacy.request_closed",
           {"status": {"before": before, "after": status}, "outcome": row.outcome,
            "refusal_reason": row.refusal_reason,
            "on_time": timezone.localdate(row.closed_at) <= row.due_date})
    return row


def remind_thresholds() -> tuple[int, ...]:
    """Working days left at which the handler is reminded, largest first (5 and 2 by default;
    KEHU_PRIVACY_REMIND_DAYS changes them)."""
    days = getattr(settings, "KEHU_PRIVACY_REMIND_DAYS", REMIND_WORKING_DAYS)
    return tuple(sorted({max(0, min(int(d), 60)) for d in days}, reverse=True))


def _handlers(row: PrivacyRequest) -> list[int]:
    """Who answers the request: the user who opened it while they may still handle requests,
    else everyone who may (privacy.manage)."""
    from kehu.accounts.selectors import users_with_permission

    managers = [u.pk for u in users_with_permission("privacy.manage")]
    if row.opened_by_id in managers:
        return [row.opened_by_id]
    return managers


def _escalation_recipients(row: PrivacyRequest) -> list[int]:
    """The handler, then compliance and the administrators (every role holding
    privacy.manage: the compliance auditor and administrator roles by default)."""
    from kehu.accounts.selectors import users_with_permission

    ids = _handlers(row)
    for user in users_with_permission("privacy.manage"):
        if user.pk not in ids:
            ids.append(user.pk)
    return ids


def _reminded_level(row: PrivacyRequest) -> int | None:
    """The working days that were left when the last reminder went out (None: never)."""
    if row.reminded_at is None:
        return None
    return working_days_left(row.due_date, timezone.localdate(row.reminded_at))


def _notify(row: PrivacyRequest, *, level: str, left: int, recipients: list[int],
            dedupe_key: str) -> None:
    from django.urls import reverse

    from kehu.notifications.services import notification_send

    kind = row.get_kind_display()
    if level == "overdue":
        title = _("Privacy request #%(id)s (%(kind)s) is overdue: it was due %(due)s") % {
            "id": row.pk, "kind": kind, "due": row.due_date.isoformat()}
    else:
        title = _("Privacy request #%(id)s (%(kind)s): %(n)d working days left, due "
                  "%(due)s") % {"id": row.pk, "kind": kind, "n": left,
                                "due": row.due_date.isoformat()}
    notification_send(actor=Actor.system(via="system"), recipients=recipients,
                      kind="privacy_request", title=title,
                      body=_("Answer the data subject within the deadline (PIPL Art. 50)."),
                      link=reverse("privacy:request", args=[row.pk]),
                      customer_id=row.customer_id, dedupe_key=dedupe_key)


def requests_check_deadlines(*, today: dt.date | None = None) -> dict[str, int]:
    """The daily deadline check of the open requests (business calendar: holidays and 调休
    count as they are). A reminder to the handler when few working days are left (at 5 and
    at 2 by default), and an escalation to compliance and the administrators once the
    deadline has passed. Each threshold once per request: the reminder's working days left
    are kept with it (`reminded_at`), a day the job did not run is caught up by one
    reminder for the tightest threshold reached, and the notifications carry a deduplication
    key. Both emit privacy.request_escalated with the level (rules subscribe to it)."""
    now = timezone.now()
    today = today or timezone.localdate(now)
    # The time stamps read as the day checked (a catch-up run for another day included).
    stamp = now if today == timezone.localdate(now) else timezone.make_aware(
        dt.datetime.combine(today, dt.time(12)))
    actor = Actor.system(via="system")
    thresholds = remind_thresholds()
    counts = {"reminded": 0, "escalated": 0}
    open_rows = PrivacyRequest.objects.exclude(status__in=PrivacyRequest.CLOSED)
    for row in open_rows.filter(escalated_at__isnull=True, due_date__lt=today):
        with transaction.atomic():
            row.escalated_at = stamp
            row.save(update_fields=["escalated_at"])
            _event(actor, row, "privacy_request.escalate", "privacy.request_escalated",
                   {"level": "overdue", "due_date": row.due_date})
            _notify(row, level="overdue", left=working_days_left(row.due_date, today),
                    recipients=_escalation_recipients(row),
                    dedupe_key=f"privacy_request:{row.pk}:overdue")
        counts["escalated"] += 1
    if not thresholds:
        return counts
    horizon = add_working_days(today, thresholds[0])
    for row in open_rows.filter(due_date__lte=horizon, due_date__gte=today):
        left = working_days_left(row.due_date, today)
        reached = [t for t in thresholds if left <= t]
        if not reached:
            continue
        threshold = reached[-1]  # the tightest one reached
        before = _reminded_level(row)
        if before is not None and before <= threshold:
            continue
        with transaction.atomic():
            row.reminded_at = stamp
            row.save(update_fields=["reminded_at"])
            _event(actor, row, "privacy_request.remind", "privacy.request_escalated",
                   {"level": "reminder", "due_date": row.due_date, "threshold": threshold,
                    "working_days_left": left})
            _notify(row, level="reminder", left=left, recipients=_handlers(row),
                    dedupe_key=f"privacy_request:{row.pk}:remind:{threshold}")
        counts["reminded"] += 1
    return counts
