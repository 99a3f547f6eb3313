"""Contracts (合同): from an accepted quote or entered directly, a status that moves only
along CONTRACT_TRANSITIONS, attachments stored encrypted, and renewal reminders."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import uuid
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.crypto import encrypt_bytes
from kehu.core.errors import ValidationFailed
from kehu.core.events import record_change
from kehu.core.validation import full_clean
from kehu.customers.models import Customer
from kehu.customers.services import customer_lock_for_write
from kehu.pipeline import hooks
from kehu.pipeline.models import LOST, Contract, ContractAttachment, Deal, Quote
from kehu.pipeline.services.common import (
    active_user,
    amount_of,
    lock_contract,
    lock_deal,
    numbered,
    placeholder,
)

C = Contract
CONTRACT_TRANSITIONS: dict[str, frozenset[str]] = {
    C.DRAFT: frozenset({C.APPROVING, C.TERMINATED}),
    C.APPROVING: frozenset({C.SIGNED, C.DRAFT, C.TERMINATED}),
    C.SIGNED: frozenset({C.EXECUTING, C.TERMINATED}),
    C.EXECUTING: frozenset({C.COMPLETED, C.TERMINATED}),
    C.COMPLETED: frozenset(),
    C.TERMINATED: frozenset(),
}
# Statuses in which a contract is in force (payments, renewals, invoices).
IN_FORCE = (C.SIGNED, C.EXECUTING)
EDITABLE = (C.DRAFT,)
MAX_ATTACHMENT = 20 * 1024 * 1024
EDIT_FIELDS = ("title", "party_a", "party_b", "amount", "start_date", "end_date",
               "renewal_reminder_days", "owner", "team", "number")


def snapshot(contract: Contract) -> dict[str, Any]:
    return {"number": contract.number, "title": contract.title,
            "customer": contract.customer_id, "deal": contract.deal_id,
            "quote": contract.quote_id, "party_a": contract.party_a,
            "party_b": contract.party_b, "amount": contract.amount,
            "start_date": contract.start_date, "end_date": contract.end_date,
            "signed_date": contract.signed_date, "status": contract.status,
            "renewal_reminder_days": contract.renewal_reminder_days,
            "owner": contract.owner_id, "team": contract.team_id}


def _company_name() -> str:
    return getattr(settings, "KEHU_COMPANY_NAME", "") or _("Our company")


def _check(errors: dict, values: dict[str, Any]) -> None:
    for name, limit in (("title", 200), ("party_a", 200), ("party_b", 200), ("number", 40)):
        if name in values:
            values[name] = (values[name] or "").strip()
            if name != "number" and not values[name]:
                errors[name] = [_("This field is required.")]
            elif len(values[name]) > limit:
                errors[name] = [_("At most %(n)d characters.") % {"n": limit}]
    if "amount" in values:
        values["amount"] = amount_of(errors, "amount", values["amount"])
    for name in ("start_date", "end_date"):
        if name in values and not isinstance(values[name], dt.date):
            errors[name] = [_("Choose a date.")]
    start, end = values.get("start_date"), values.get("end_date")
    if isinstance(start, dt.date) and isinstance(end, dt.date) and end < start:
        errors["end_date"] = [_("The contract cannot end before it starts.")]
    days = values.get("renewal_reminder_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int)
                             or not 0 <= days <= 365):
        errors["renewal_reminder_days"] = [_("Give a number of days from 0 to 365.")]
    if values.get("owner") is not None:
        active_user(errors, "owner", values["owner"])


def contract_create(
    *,
    actor: Actor,
    title: str,
    start_date: dt.date,
    end_date: dt.date,
    customer: Customer | None = None,
    deal: Deal | None = None,
    quote: Quote | None = None,
    amount: Any = None,
    number: str = "",
    party_a: str = "",
    party_b: str = "",
    renewal_reminder_days: int = 30,
    owner=None,
    team=None,
) -> Contract:
    """A draft contract. From a quote: the quote must be accepted; the customer, deal and
    (by default) the amount, the total with tax, come from it. Otherwise the customer (and
    optionally a deal of theirs) is given. The number is generated (HT…) unless given."""
    actor.require("deal.manage")
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {"title": title, "start_date": start_date, "end_date": end_date,
                              "number": number, "renewal_reminder_days": renewal_reminder_days}
    if owner is not None:
        values["owner"] = owner
    with transaction.atomic():
        if quote is not None:
            quote = Quote.objects.select_related("deal").get(pk=quote.pk)
            deal = quote.deal
            if quote.status != Quote.ACCEPTED:
                errors["quote"] = [_("Only an accepted quote becomes a contract.")]
            if amount in (None, ""):
                amount = quote.total
        if deal is not None:
            deal = lock_deal(actor, deal)
            if deal.status == LOST:
                errors["deal"] = [_("This deal is lost.")]
            if customer is not None and customer.pk != deal.customer_id:
                errors["customer"] = [_("The deal belongs to another customer.")]
            customer = deal.customer
        if customer is None:
            raise ValidationFailed(details={"customer": [_("Choose the customer.")]})
        customer = customer_lock_for_write(actor=actor, customer=customer)
        values["amount"] = amount
        values["party_a"] = party_a or _company_name()
        values["party_b"] = party_b or customer.name
        _check(errors, values)
        if values["number"] and Contract.objects.filter(number=values["number"]).exists():
            errors["number"] = [_("Another contract already has this number.")]
        if errors:
            raise ValidationFailed(details=errors)
        owner = values.get("owner") or (deal.owner if deal is not None and deal.owner_id
                                        else actor.user)
        if team is None:
            team = deal.team if deal is not None and deal.team_id else getattr(owner, "team",
                                                                               None)
        contract = Contract(
            number=values["number"] or placeholder("HT"), title=values["title"],
            customer=customer, deal=deal, quote=quote, party_a=values["party_a"],
            party_b=values["party_b"], amount=values["amount"], start_date=start_date,
            end_date=end_date, renewal_reminder_days=renewal_reminder_days,
            owner=owner if getattr(owner, "pk", None) else None, team=team)
        full_clean(contract, exclude=["customer", "deal", "quote", "owner", "team"])
        try:
            with transaction.atomic():
                contract.save()
        except IntegrityError:
            raise ValidationFailed(details={"number": [
                _("Another contract already has this number.")]}) from None
        if not values["number"]:
            contract.number = numbered("HT", contract.pk)
            contract.save(update_fields=["number"])
        record_change(actor=actor, action="contract.create", event="contract.created",
                      object_type="contract", object_id=contract.pk,
                      object_repr=contract.number, customer_id=customer.pk,
                      changes=diff({}, snapshot(contract)))
    return contract


def contract_update(*, actor: Actor, contract: Contract, changes: dict[str, Any]) -> Contract:
    """Change a draft contract's terms (number, title, parties, amount, dates, reminder,
    owner, team). Once in approval its terms are fixed; only its status moves."""
    actor.require("deal.manage")
    unknown = sorted(set(changes) - set(EDIT_FIELDS))
    if unknown:
        raise ValidationFailed(details={n: [_("This field cannot be changed here.")]
                                        for n in unknown})
    errors: dict[str, list[str]] = {}
    with transaction.atomic():
        contract = lock_contract(actor, contract)
        if contract.status not in EDITABLE:
            message = _("Only a draft contract can be edited.")
            raise ValidationFailed(message, details={"status": [message]},
                                   code="invalid_transition")
        values = dict(changes)
        merged = {"start_date": contract.start_date, "end_date": contract.end_date, **values}
        _check(errors, merged)
        values.update({k: merged[k] for k in values})
        if values.get("number") and Contract.objects.filter(number=values["number"]).exclude(
                pk=contract.pk).exists():
            errors["number"] = [_("Another contract already has this number.")]
        if "number" in values and not values["number"]:
            errors["number"] = [_("This field is required.")]
        if "amount" in values and contract.instalments.exists() \
                and values["amount"] != contract.amount:
            errors["amount"] = [_("The payment plan adds up to the current amount: change "
                                  "the plan with the amount.")]
        if errors:
            raise ValidationFailed(details=errors)
        before = snapshot(contract)
        for name, value in values.items():
            setattr(contract, name, value)
        full_clean(contract, exclude=["customer", "deal", "quote", "owner", "team"])
        contract.save()
        changed = diff(before, snapshot(contract))
        if changed:
            record_change(actor=actor, action="contract.update", event="contract.updated",
                          object_type="contract", object_id=contract.pk,
                          object_repr=contract.number, customer_id=contract.customer_id,
                          changes=changed)
    return contract


def contract_set_status(*, actor: Actor, contract: Contract, status: str,
                        signed_date: dt.date | None = None) -> Contract:
    """Move a contract along CONTRACT_TRANSITIONS: 草稿 → 审批中 → 已签约 → 执行中 → 已完成,
    back from approval to draft, and 已终止 from any status before completion. Signing
    records the signed date (default today) and emits contract.signed."""
    actor.require("deal.manage")
    labels = dict(Contract.STATUSES)
    if status not in labels:
        raise ValidationFailed(details={"status": [_("“%s” is not a valid choice.") % status]})
    with transaction.atomic():
        contract = lock_contract(actor, contract)
        if status not in CONTRACT_TRANSITIONS[contract.status]:
            message = _("A contract that is “%(from)s” cannot become “%(to)s”.") % {
                "from": labels[contract.status], "to": labels[status]}
            raise ValidationFailed(message, details={"status": [message]},
                                   code="invalid_transition")
        fields = ["status"]
        if status == Contract.SIGNED:
            signed_date = signed_date or timezone.localdate()
            if signed_date > timezone.localdate():
                raise ValidationFailed(details={"signed_date": [
                    _("The signing date cannot be in the future.")]})
            contract.signed_date = signed_date
            fields.append("signed_date")
        before = snapshot(contract)
        contract.status = status
        contract.save(update_fields=fields)
        record_change(actor=actor, action="contract.status",
                      event="contract.signed" if status == Contract.SIGNED
                      else "contract.status_changed",
                      object_type="contract", object_id=contract.pk,
                      object_repr=contract.number, customer_id=contract.customer_id,
                      changes=diff(before, snapshot(contract)))
    return contract


def attachments_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "contracts"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def contract_attach(*, actor: Actor, contract: Contract, file: IO[bytes], filename: str,
                    content_type: str = "") -> ContractAttachment:
    """Store a file with the contract, encrypted with AES-256-GCM (the key derived from
    KEHU_ENCRYPTION_KEY, bound to the stored name) in a file only kehu's user may read."""
    actor.require("deal.manage")
    filename = Path((filename or "").replace("\\", "/")).name.strip()[:255]
    data = file.read(MAX_ATTACHMENT + 1)
    errors: dict[str, list[str]] = {}
    if not filename:
        errors["file"] = [_("Give the file a name.")]
    if not data:
        errors["file"] = [_("The file is empty.")]
    elif len(data) > MAX_ATTACHMENT:
        errors["file"] = [_("Files of at most 20 MB can be attached.")]
    if errors:
        raise ValidationFailed(details=errors)
    stored = f"{uuid.uuid4().hex}.bin"
    path = attachments_dir() / stored
    with transaction.atomic():
        contract = lock_contract(actor, contract)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(encrypt_bytes(data, context=stored.encode()))
        try:
            attachment = ContractAttachment.objects.create(
                contract=contract, filename=filename, content_type=(content_type or "")[:100],
                size=len(data), sha256=hashlib.sha256(data).hexdigest(), stored_name=stored,
                uploaded_by=actor.user if getattr(actor.user, "pk", None) else None)
            record_change(actor=actor, action="contract.attach",
                          event="contract.attachment_added", object_type="contract",
                          object_id=contract.pk, object_repr=contract.number,
                          customer_id=contract.customer_id,
                          changes={"attachment": {"before": None, "after": {
                              "filename": filename, "size": len(data),
                              "sha256": attachment.sha256}}})
        except Exception:
            path.unlink(missing_ok=True)
            raise
    return attachment


def contracts_remind_renewals(*, actor: Actor, today: dt.date | None = None) -> int:
    """For each contract in force whose end is `renewal_reminder_days` away or closer (and
    not past), create one follow-up task for its owner through the registered reminder
    maker, once per contract (renewal_reminded_on marks it). Periodic and idempotent."""
    today = today or timezone.localdate()
    done = 0
    candidates = (Contract.objects.filter(status__in=IN_FORCE, renewal_reminded_on__isnull=True,
                                          end_date__gte=today, renewal_reminder_days__gt=0)
                  .values_list("pk", "end_date", "renewal_reminder_days"))
    for pk, end_date, days in list(candidates):
        if end_date - dt.timedelta(days=days) > today:
            continue
        with transaction.atomic():
            contract = (Contract.objects.select_for_update(of=("self",))
                        .select_related("customer", "owner")
                        .filter(pk=pk, renewal_reminded_on__isnull=True).first())
            if contract is None:
                continue
            title = _("Contract %(number)s ends on %(end)s: discuss its renewal") % {
                "number": contract.number, "end": contract.end_date.isoformat()}
            task = hooks.make_reminder(actor=actor, contract=contract, title=title,
                                       due_date=max(today, contract.end_date
                                                    - dt.timedelta(days=7)),
                                       assignee=contract.owner)
            contract.renewal_reminded_on = today
            contract.save(update_fields=["renewal_reminded_on"])
            record_change(actor=actor, action="contract.remind",
                          event="contract.renewal_reminded", object_type="contract",
                          object_id=contract.pk, object_repr=contract.number,
                          customer_id=contract.customer_id,
                          changes={"renewal_reminded_on": {"before": None, "after": today},
                                   "follow_up": getattr(task, "pk", None)})
            done += 1
    return done
