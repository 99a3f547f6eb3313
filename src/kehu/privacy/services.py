"""Every write to the consent ledger: grants, withdrawals, expiries, import columns and the
signed single-use links a customer opens on a phone. Each runs in one transaction, appends a
ledger line (never edits one), moves the current state and records an audited domain event.

Requests, erasure and retention have their own modules (requests.py, erasure.py,
retention.py); they are re-exported here so callers import services from one place.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.events import Change, record_change, record_changes_many
from kehu.customers.models import Customer
from kehu.privacy import consent as rules
from kehu.privacy.models import (
    Assessment,
    ConsentLink,
    ConsentPurpose,
    ConsentRecord,
    ConsentState,
    LegalHold,
)

EVENTS = {ConsentRecord.GRANTED: "consent.granted", ConsentRecord.WITHDRAWN: "consent.withdrawn",
          ConsentRecord.EXPIRED: "consent.expired"}
ACTIONS = {ConsentRecord.GRANTED: "consent.grant", ConsentRecord.WITHDRAWN: "consent.withdraw",
           ConsentRecord.EXPIRED: "consent.expire"}
LINK_DAYS = 14
_LINK_SALT = "kehu.privacy.consent-link"


def _customer(actor: Actor, customer_id: int) -> Customer:
    """The live customer if the actor may see it (NotFound otherwise, never revealing it)."""
    if actor.user is None:
        customer = Customer.objects.filter(pk=customer_id,
                                           status=Customer.STATUS_ACTIVE).first()
        if customer is None:
            raise NotFound()
        return customer
    from kehu.customers.selectors import customer_get_plain

    return customer_get_plain(user=actor.user, customer_id=customer_id)


def _require_record(actor: Actor) -> None:
    """Recording consent is customer work (a rep notes a verbal yes on a call) or privacy
    work; either permission will do."""
    if actor.user is None:
        actor.require("privacy.manage")
        return
    access = actor.user.access
    if not (access.can("privacy.manage") or access.can("customer.change")):
        raise PermissionDenied(details={"permission": "privacy.manage"})


def _changes(record: ConsentRecord, previous: str | None) -> dict:
    return {"purpose": record.purpose, "channel": record.channel,
            "status": {"before": previous, "after": record.status},
            "source": record.source, "notice_version": record.notice_version,
            "expires_at": record.expires_at, "guardian_consent": record.guardian_consent,
            "reference": record.reference}


def _apply(customer: Customer, record: ConsentRecord, now: datetime) -> str | None:
    """Move the current state to `record`; returns the status before."""
    state = ConsentState.objects.select_for_update().filter(
        customer=customer, purpose=record.purpose, channel=record.channel).first()
    previous = state.status if state else None
    values = {"status": record.status, "record": record, "expires_at": record.expires_at,
              "guardian_consent": record.guardian_consent,
              "minor_until": rules.minor_until(customer) if record.status == "granted" else None,
              "updated_at": now}
    if state is None:
        ConsentState.objects.create(customer=customer, purpose=record.purpose,
                                    channel=record.channel, **values)
    else:
        for key, value in values.items():
            setattr(state, key, value)
        state.save(update_fields=list(values))
    return previous


def consent_record(*, actor: Actor, customer_id: int, purpose: str, channel: str, status: str,
                   source: str, notice_text: str = "", notice_version: str = "",
                   expires_at: datetime | None = None, guardian_consent: bool = False,
                   reference: str = "") -> ConsentRecord:
    """Append a grant or withdrawal for one purpose and channel ("any": every channel) and
    make it the current state. A grant for someone under 14 (from the birthday or the ID
    number) needs `guardian_consent`; a grant that expires in the past is refused."""
    _require_record(actor)
    rules.check_purpose_channel(purpose, channel)
    if status not in (ConsentRecord.GRANTED, ConsentRecord.WITHDRAWN):
        raise ValidationFailed(details={"status": [_("Use “granted” or “withdrawn”.")]})
    if source not in dict(ConsentRecord.SOURCES):
        raise ValidationFailed(details={"source": [_("Unknown source “%s”.") % source]})
    now = timezone.now()
    if status == ConsentRecord.GRANTED and expires_at is not None and expires_at <= now:
        raise ValidationFailed(details={"expires_at": [_("The expiry must be in the future.")]})
    with transaction.atomic():
        customer = _customer(actor, customer_id)
        if (status == ConsentRecord.GRANTED and not guardian_consent
                and rules.minor_until(customer) is not None):
            raise ValidationFailed(
                _("This customer is under 14: consent must come from a parent or guardian."),
                details={"guardian_consent": [_("Under 14: a guardian's consent is required.")]},
                code="guardian_required")
        record = ConsentRecord.objects.create(
            customer=customer, purpose=purpose, channel=channel, status=status, source=source,
            recorded_by=actor.user, actor_label=actor.label[:200], recorded_at=now,
            notice_text=notice_text, notice_version=notice_version[:40],
            expires_at=expires_at if status == ConsentRecord.GRANTED else None,
            guardian_consent=guardian_consent, reference=reference[:200])
        previous = _apply(customer, record, now)
        record_change(actor=actor, action=ACTIONS[status], event=EVENTS[status],
                      object_type="consent", object_id=record.pk,
                      object_repr=f"{purpose}/{channel}", customer_id=customer.pk,
                      changes=_changes(record, previous))
    return record


@dataclass(frozen=True)
class ImportedConsent:
    """One consent cell of an import row: the row's customer, purpose, channel and yes/no."""

    customer_id: int
    purpose: str
    channel: str
    granted: bool


def consents_record_imported(*, actor: Actor, items: Iterable[ImportedConsent],
                             reference: str) -> int:
    """The consent columns of one import chunk (inside the chunk's transaction): a line per
    cell whose answer differs from the current state, with the file as the evidence. A yes
    for someone under 14 is not recorded as a grant (no guardian on file); returns the
    count of lines written."""
    items = list(items)
    if not items:
        return 0
    now = timezone.now()
    customers = Customer.objects.in_bulk({i.customer_id for i in items})
    states = {(s.customer_id, s.purpose, s.channel): s.status for s in ConsentState.objects
              .filter(customer_id__in=customers.keys()).only("customer_id", "purpose",
                                                             "channel", "status")}
    entries: list[Change] = []
    for item in items:
        customer = customers.get(item.customer_id)
        if customer is None:
            continue
        status = ConsentRecord.GRANTED if item.granted else ConsentRecord.WITHDRAWN
        key = (item.customer_id, item.purpose, item.channel)
        if states.get(key) == status:
            continue
        if status == ConsentRecord.GRANTED and rules.minor_until(customer) is not None:
            continue
        record = ConsentRecord.objects.create(
            customer=customer, purpose=item.purpose, channel=item.channel, status=status,
            source="import", recorded_by=actor.user, actor_label=actor.label[:200],
            recorded_at=now, reference=reference[:200])
        previous = _apply(customer, record, now)
        states[key] = status
        entries.append(Change(action=ACTIONS[status], event=EVENTS[status],
                              object_type="consent", object_id=record.pk,
                              object_repr=f"{item.purpose}/{item.channel}",
                              customer_id=customer.pk, changes=_changes(record, previous)))
    record_changes_many(actor=actor, entries=entries)
    return len(entries)


def consent_minor_refresh(*, customer_id: int) -> int:
    """Recompute `minor_until` on a customer's grants after their birthday or ID number
    changed (the ID number's birth date is read from the encrypted value): a child found to
    be under 14 needs a guardian's consent from now on. Returns the states changed."""
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None:
        return 0
    until = rules.minor_until(customer)
    return ConsentState.objects.filter(customer_id=customer_id,
                                       status=ConsentRecord.GRANTED).exclude(
        minor_until=until).update(minor_until=until)


def on_customer_changed(event) -> None:
    """Subscriber of customer.field_changed: refresh the under-14 dates when the birthday
    or the ID number changed."""
    if event.customer_id and {"birthday", "id_number"} & set(event.changes or {}):
        consent_minor_refresh(customer_id=event.customer_id)


def consents_expire_due(*, now: datetime | None = None) -> int:
    """Grants whose expiry has passed become "expired" (a ledger line each, source system)."""
    now = now or timezone.now()
    actor = Actor.system(via="system")
    count = 0
    due = ConsentState.objects.filter(status=ConsentRecord.GRANTED, expires_at__lte=now)
    for state in due.select_related("customer")[:5000]:
        with transaction.atomic():
            record = ConsentRecord.objects.create(
                customer=state.customer, purpose=state.purpose, channel=state.channel,
                status=ConsentRecord.EXPIRED, source="system", actor_label=actor.label,
                recorded_at=now, reference=f"record #{state.record_id}")
            previous = _apply(state.customer, record, now)
            record_change(actor=actor, action=ACTIONS[record.status], event=EVENTS[record.status],
                          object_type="consent", object_id=record.pk,
                          object_repr=f"{state.purpose}/{state.channel}",
                          customer_id=state.customer_id, changes=_changes(record, previous))
        count += 1
    return count


# Signed single-use links -----------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def consent_link_create(*, actor: Actor, customer_id: int, purpose: str, channel: str,
                        action: str, notice_text: str = "", notice_version: str = "",
                        days: int = LINK_DAYS) -> tuple[ConsentLink, str]:
    """A link for the customer to confirm a grant (double opt-in) or withdraw, valid `days`
    and usable once. Returns the row and the signed token to put in the URL (only its hash
    is stored)."""
    _require_record(actor)
    rules.check_purpose_channel(purpose, channel)
    if action not in dict(ConsentLink.ACTIONS):
        raise ValidationFailed(details={"action": [_("Use “confirm” or “withdraw”.")]})
    raw = secrets.token_urlsafe(24)
    now = timezone.now()
    with transaction.atomic():
        customer = _customer(actor, customer_id)
        link = ConsentLink.objects.create(
            customer=customer, purpose=purpose, channel=channel, action=action,
            token_hash=_token_hash(raw), notice_text=notice_text,
            notice_version=notice_version[:40], created_at=now,
            expires_at=now + timedelta(days=max(1, min(days, 365))))
        record_change(actor=actor, action="consent.link_create", event="consent.link_created",
                      object_type="consent_link", object_id=link.pk,
                      object_repr=f"{action} {purpose}/{channel}", customer_id=customer.pk,
                      changes={"action": action, "purpose": purpose, "channel": channel,
                               "expires_at": link.expires_at})
    return link, signing.dumps(raw, salt=_LINK_SALT, compress=False)


class LinkInvalid(ValidationFailed):
    code = "link_invalid"
    status = 410


def consent_link_find(token: str) -> ConsentLink:
    """The unused, unexpired link of a token, or LinkInvalid (tampered, used, expired)."""
    try:
        raw = signing.loads(token, salt=_LINK_SALT)
    except signing.BadSignature:
        raise LinkInvalid(_("This link is not valid.")) from None
    link = ConsentLink.objects.select_related("customer").filter(
        token_hash=_token_hash(str(raw))).first()
    if link is None:
        raise LinkInvalid(_("This link is not valid."))
    if link.used_at is not None:
        raise LinkInvalid(_("This link has already been used."))
    if link.expires_at <= timezone.now() or link.customer.status != Customer.STATUS_ACTIVE:
        raise LinkInvalid(_("This link has expired."))
    return link


def consent_link_use(*, token: str, ip: str | None = None, user_agent: str = ""
                     ) -> ConsentRecord:
    """The customer opened the link and confirmed: record the grant (double opt-in) or the
    withdrawal, mark the link used. A second use raises LinkInvalid."""
    with transaction.atomic():
        link = consent_link_find(token)
        link = ConsentLink.objects.select_for_update().get(pk=link.pk)
        if link.used_at is not None:
            raise LinkInvalid(_("This link has already been used."))
        now = timezone.now()
        link.used_at = now
        link.save(update_fields=["used_at"])
        actor = Actor(user=None, ip=ip, user_agent=user_agent[:400], via="system")
        confirm = link.action == ConsentLink.CONFIRM
        customer = link.customer
        if confirm and rules.minor_until(customer) is not None:
            raise LinkInvalid(_("Consent for someone under 14 must come from a guardian."))
        record = ConsentRecord.objects.create(
            customer=customer, purpose=link.purpose, channel=link.channel,
            status=ConsentRecord.GRANTED if confirm else ConsentRecord.WITHDRAWN,
            source="double_opt_in" if confirm else "link", actor_label=_("the customer"),
            recorded_at=now, notice_text=link.notice_text, notice_version=link.notice_version,
            reference=f"link #{link.pk}")
        previous = _apply(customer, record, now)
        record_change(actor=actor, action=ACTIONS[record.status], event=EVENTS[record.status],
                      object_type="consent", object_id=record.pk,
                      object_repr=f"{record.purpose}/{record.channel}",
                      customer_id=customer.pk, changes=_changes(record, previous))
    return record


# Legal holds --------------------------------------------------------------------------------


def legal_hold_place(*, actor: Actor, customer_id: int, reason: str) -> LegalHold:
    """Keep a customer's data (litigation, tax, an authority's order): blocks erasure until
    released. The reason is required and kept."""
    actor.require("privacy.manage")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(details={"reason": [_("Give the reason for the hold.")]})
    with transaction.atomic():
        customer = _customer(actor, customer_id)
        hold = LegalHold.objects.create(customer=customer, reason=reason[:300],
                                        placed_by=actor.user, placed_at=timezone.now())
        record_change(actor=actor, action="legal_hold.place", event="legal_hold.placed",
                      object_type="legal_hold", object_id=hold.pk, object_repr=hold.reason,
                      customer_id=customer.pk,
                      changes={"reason": {"before": None, "after": hold.reason}})
    return hold


def legal_hold_release(*, actor: Actor, hold_id: int) -> LegalHold:
    """End a hold (the row stays, with when it ended)."""
    actor.require("privacy.manage")
    with transaction.atomic():
        hold = LegalHold.objects.select_for_update().filter(pk=hold_id,
                                                            released_at__isnull=True).first()
        if hold is None:
            raise NotFound()
        hold.released_at = timezone.now()
        hold.save(update_fields=["released_at"])
        record_change(actor=actor, action="legal_hold.release", event="legal_hold.released",
                      object_type="legal_hold", object_id=hold.pk, object_repr=hold.reason,
                      customer_id=hold.customer_id,
                      changes={"released_at": {"before": None, "after": hold.released_at}})
    return hold


def consents_record_bulk(*, actor: Actor, customer_ids: Iterable[int], purpose: str,
                         channel: str, status: str, source: str = "form", notice_text: str = "",
                         notice_version: str = "", limit: int = 5000) -> int:
    """The same grant or withdrawal for many customers (an unsubscribe list, a segment),
    each its own ledger line and event; customers the actor may not see are skipped, and a
    grant for someone under 14 without a guardian is skipped. Returns how many were
    recorded."""
    _require_record(actor)
    rules.check_purpose_channel(purpose, channel)
    count = 0
    for customer_id in list(dict.fromkeys(customer_ids))[:limit]:
        try:
            consent_record(actor=actor, customer_id=customer_id, purpose=purpose,
                           channel=channel, status=status, source=source,
                           notice_text=notice_text, notice_version=notice_version)
        except (NotFound, ValidationFailed) as exc:
            if isinstance(exc, ValidationFailed) and exc.code != "guardian_required":
                raise
            continue
        count += 1
    return count


def assessment_save(*, actor: Actor, key: str, title: str, body: str, kind: str = "assessment",
                    purpose: str = "", risk: str = "low") -> Assessment:
    """Save a new version of an impact assessment or processing record (earlier versions
    stay, each kept at least three years, PIPL Art. 56)."""
    actor.require("privacy.manage")
    from django.utils.text import slugify

    key = slugify(key or title, allow_unicode=False)[:60] or "assessment"
    errors: dict[str, list[str]] = {}
    if not (title or "").strip():
        errors["title"] = [_("Give a title.")]
    if not (body or "").strip():
        errors["body"] = [_("Write the assessment.")]
    if kind not in dict(Assessment.KINDS):
        errors["kind"] = [_("Unknown kind “%s”.") % kind]
    if risk not in ("low", "medium", "high"):
        errors["risk"] = [_("Use low, medium or high.")]
    if errors:
        raise ValidationFailed(details=errors)
    now = timezone.now()
    with transaction.atomic():
        last = Assessment.objects.select_for_update().filter(key=key).order_by("-version").first()
        row = Assessment.objects.create(
            key=key, version=(last.version + 1) if last else 1, kind=kind, title=title.strip(),
            purpose=purpose, body=body.strip(), risk=risk, created_by=actor.user,
            created_at=now, keep_until=(now + timedelta(days=3 * 366)).date())
        record_change(actor=actor, action="assessment.save", event="assessment.saved",
                      object_type="assessment", object_id=row.pk, object_repr=row.title[:200],
                      changes={"key": key, "version": {"before": last.version if last else None,
                                                       "after": row.version},
                               "risk": row.risk})
    return row


def consent_purpose_save(*, actor: Actor, code: str, name: str, description: str = "",
                         separate: bool = False, is_active: bool = True) -> ConsentPurpose:
    """Add a processing purpose or change one (name, description, separate consent, active).
    Codes are stable: the ledger refers to them."""
    actor.require("privacy.manage")
    from django.utils.text import slugify

    code = slugify(code or "", allow_unicode=False).replace("-", "_")[:40]
    errors: dict[str, list[str]] = {}
    if not code:
        errors["code"] = [_("Give a code of letters, digits and _.")]
    if not (name or "").strip():
        errors["name"] = [_("Give a name.")]
    if errors:
        raise ValidationFailed(details=errors)
    rules.purpose_codes()
    with transaction.atomic():
        row = ConsentPurpose.objects.select_for_update().filter(code=code).first()
        before = ({"name": row.name, "separate": row.separate, "is_active": row.is_active}
                  if row else {"name": None, "separate": None, "is_active": None})
        if row is None:
            row = ConsentPurpose(code=code, position=ConsentPurpose.objects.count())
        row.name, row.description = name.strip()[:80], description.strip()
        row.separate, row.is_active = bool(separate), bool(is_active)
        row.save()
        record_change(actor=actor, action="consent_purpose.save", event="consent_purpose.saved",
                      object_type="consent_purpose", object_id=row.pk, object_repr=row.code,
                      changes={k: {"before": before[k], "after": getattr(row, k)}
                               for k in before if before[k] != getattr(row, k)})
    return row


def consent_unsubscribe_footer(*, actor: Actor, customer_id: int, channel: str,
                               purpose: str = "marketing", base_url: str = "") -> str:
    """The unsubscribe line for a marketing message (PIPL Art. 24; 退订): a withdrawal link
    for this customer, purpose and channel, valid 90 days. Message templates (notifications,
    automation) append it to every marketing email or SMS."""
    from django.urls import reverse

    _link, token = consent_link_create(actor=actor, customer_id=customer_id, purpose=purpose,
                                       channel=channel, action=ConsentLink.WITHDRAW, days=90)
    url = f"{base_url.rstrip('/')}{reverse('privacy:link', args=[token])}"
    return _("Unsubscribe: %s") % url if channel != "sms" else _("Reply T to unsubscribe, or open %s") % url
