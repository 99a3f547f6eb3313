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
from kehu.core.errors import Conflict, NotFound, ValidationFailed
from kehu.core.events import record_change
from kehu.customers.models import Customer
from kehu.privacy.models import PrivacyRequest
from kehu.service.calendar import add_working_days, is_working_day

DEFAULT_WORKING_DAYS = 15  # the 2019 App rules' answer time
REMIND_WORKING_DAYS = 3


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


def requests_check_deadlines(*, today: dt.date | None = None) -> dict[str, int]:
    """Remind (due within 3 working days) and escalate (overdue) the open requests, once
    each; both emit privacy.request_escalated with the level (notifications and rules
    subscribe to it)."""
    today = today or timezone.localdate()
    actor = Actor.system(via="system")
    soon = add_working_days(today, REMIND_WORKING_DAYS)
    counts = {"reminded": 0, "escalated": 0}
    open_rows = PrivacyRequest.objects.exclude(status__in=PrivacyRequest.CLOSED)
    for row in open_rows.filter(escalated_at__isnull=True, due_date__lt=today):
        with transaction.atomic():
            row.escalated_at = timezone.now()
            row.save(update_fields=["escalated_at"])
            _event(actor, row, "privacy_request.escalate", "privacy.request_escalated",
                   {"level": "overdue", "due_date": row.due_date})
        counts["escalated"] += 1
    for row in open_rows.filter(reminded_at__isnull=True, due_date__lte=soon,
                                due_date__gte=today):
        with transaction.atomic():
            row.reminded_at = timezone.now()
            row.save(update_fields=["reminded_at"])
            _event(actor, row, "privacy_request.remind", "privacy.request_escalated",
                   {"level": "reminder", "due_date": row.due_date})
        counts["reminded"] += 1
    return counts
