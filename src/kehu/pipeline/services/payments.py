"""Payments (回款): a contract's payment plan, money received matched to its instalments,
the overdue check, and invoice requests (开票申请)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import record_change
from kehu.core.validation import full_clean
from kehu.pipeline.models import (
    Contract,
    Instalment,
    InvoiceRequest,
    Payment,
    PaymentAllocation,
)
from kehu.pipeline.services.common import amount_of, lock_contract, may_touch
from kehu.pipeline.services.contracts import IN_FORCE

ZERO = Decimal("0.00")
MAX_INSTALMENTS = 120
INVOICE_TRANSITIONS: dict[str, frozenset[str]] = {
    InvoiceRequest.REQUESTED: frozenset({InvoiceRequest.APPROVED, InvoiceRequest.REJECTED}),
    InvoiceRequest.APPROVED: frozenset({InvoiceRequest.ISSUED, InvoiceRequest.REJECTED}),
    InvoiceRequest.ISSUED: frozenset(),
    InvoiceRequest.REJECTED: frozenset(),
}
# A plan may be set while the contract is being prepared or is in force.
PLANNABLE = (Contract.DRAFT, Contract.APPROVING, Contract.SIGNED, Contract.EXECUTING)


def _plan(instalments) -> list[dict[str, Any]]:
    return [{"sequence": i.sequence, "due_date": i.due_date, "amount": i.amount}
            for i in instalments]


def payment_plan_set(*, actor: Actor, contract: Contract,
                     instalments: list[dict[str, Any]]) -> list[Instalment]:
    """Replace the contract's plan with instalments {due_date, amount} that add up to the
    contract amount exactly. A plan with payments matched to it cannot be replaced."""
    actor.require("deal.manage")
    errors: dict[str, list[str]] = {}
    if not isinstance(instalments, list | tuple) or not instalments:
        errors["instalments"] = [_("A plan needs at least one instalment.")]
        instalments = []
    elif len(instalments) > MAX_INSTALMENTS:
        errors["instalments"] = [_("At most %(n)d instalments.") % {"n": MAX_INSTALMENTS}]
        instalments = []
    rows = []
    for index, item in enumerate(instalments):
        item = item if isinstance(item, dict) else {}
        problems: dict[str, list[str]] = {}
        due = item.get("due_date")
        if not isinstance(due, dt.date):
            problems["due_date"] = [_("Choose the due date.")]
        amount = amount_of(problems, "amount", item.get("amount"), positive=True)
        for name, messages in problems.items():
            errors[f"instalments[{index}].{name}"] = messages
        if not problems:
            rows.append((due, amount))
    with transaction.atomic():
        contract = lock_contract(actor, contract)
        if contract.status not in PLANNABLE:
            message = _("A contract that is “%s” takes no payment plan.") % \
                contract.get_status_display()
            raise ValidationFailed(message, details={"status": [message]},
                                   code="invalid_transition")
        if rows and not errors:
            total = sum((amount for _due, amount in rows), ZERO)
            if total != contract.amount:
                errors["instalments"] = [
                    _("The instalments add up to ¥%(total)s; the contract is for "
                      "¥%(amount)s.") % {"total": total, "amount": contract.amount}]
        if PaymentAllocation.objects.filter(instalment__contract=contract).exists():
            errors["instalments"] = [_("Payments are already matched to this plan: it can no "
                                       "longer be replaced.")]
        if errors:
            raise ValidationFailed(details=errors)
        old = list(contract.instalments.all())
        before = _plan(old)
        contract.instalments.all().delete()
        rows.sort(key=lambda row: row[0])
        created = Instalment.objects.bulk_create(
            [Instalment(contract=contract, sequence=n, due_date=due, amount=amount)
             for n, (due, amount) in enumerate(rows, start=1)])
        record_change(actor=actor, action="contract.plan", event="payment_plan.set",
                      object_type="contract", object_id=contract.pk,
                      object_repr=contract.number, customer_id=contract.customer_id,
                      changes={"plan": {"before": before or None, "after": _plan(created)}})
    return list(contract.instalments.all())


def payment_record(*, actor: Actor, contract: Contract, received_on: dt.date, amount: Any,
                   method: str, reference: str = "",
                   instalment: Instalment | None = None) -> Payment:
    """Money received for a contract in force, matched to its instalments: the given one
    first, then the others by due date (oldest first). More than is outstanding is refused."""
    actor.require("deal.manage")
    errors: dict[str, list[str]] = {}
    amount = amount_of(errors, "amount", amount, positive=True)
    if not isinstance(received_on, dt.date):
        errors["received_on"] = [_("Choose the date the money arrived.")]
    elif received_on > timezone.localdate():
        errors["received_on"] = [_("The date cannot be in the future.")]
    if method not in {code for code, _label in Payment.METHODS}:
        errors["method"] = [_("“%s” is not a valid choice.") % method]
    reference = (reference or "").strip()
    if len(reference) > 100:
        errors["reference"] = [_("At most %(n)d characters.") % {"n": 100}]
    with transaction.atomic():
        contract = lock_contract(actor, contract)
        if contract.status not in IN_FORCE:
            errors["contract"] = [_("Payments are recorded for signed contracts in force.")]
        open_items = list(contract.instalments.select_for_update().order_by("due_date",
                                                                            "sequence"))
        if not open_items and not errors:
            errors["contract"] = [_("Set the contract's payment plan first.")]
        if instalment is not None and instalment.pk not in {i.pk for i in open_items}:
            errors["instalment"] = [_("This instalment belongs to another contract.")]
        outstanding = sum((i.amount - i.paid_amount for i in open_items), ZERO)
        if amount is not None and not errors and amount > outstanding:
            errors["amount"] = [_("Only ¥%s is outstanding on this contract.") % outstanding]
        if errors:
            raise ValidationFailed(details=errors)
        payment = Payment(contract=contract, received_on=received_on, amount=amount,
                          method=method, reference=reference,
                          created_by=actor.user if getattr(actor.user, "pk", None) else None)
        full_clean(payment, exclude=["contract"])
        payment.save()
        if instalment is not None:
            open_items.sort(key=lambda i: i.pk != instalment.pk)
        left, matched = amount, []
        for item in open_items:
            due = item.amount - item.paid_amount
            if left <= 0:
                break
            if due <= 0:
                continue
            part = min(due, left)
            item.paid_amount += part
            item.save(update_fields=["paid_amount"])
            PaymentAllocation.objects.create(payment=payment, instalment=item, amount=part)
            matched.append({"instalment": item.sequence, "amount": part})
            left -= part
        record_change(actor=actor, action="payment.create", event="payment.received",
                      object_type="payment", object_id=payment.pk,
                      object_repr=f"{contract.number} ¥{amount}",
                      customer_id=contract.customer_id,
                      changes=diff({}, {"contract": contract.pk, "received_on": received_on,
                                        "amount": amount, "method": method,
                                        "reference": reference, "matched": matched}))
    return payment


def instalments_flag_overdue(*, actor: Actor, today: dt.date | None = None) -> int:
    """Flag every instalment past its due date with money outstanding, on a contract in
    force, emitting payment.overdue once per instalment (periodic; `overdue_since` keeps
    it from being flagged twice). Returns how many were flagged now."""
    today = today or timezone.localdate()
    flagged = 0
    due = (Instalment.objects.filter(due_date__lt=today, overdue_since__isnull=True,
                                     contract__status__in=IN_FORCE)
           .values_list("pk", flat=True))
    for pk in list(due):
        with transaction.atomic():
            item = (Instalment.objects.select_for_update().select_related("contract")
                    .filter(pk=pk, overdue_since__isnull=True).first())
            if item is None or item.paid_amount >= item.amount:
                continue
            item.overdue_since = today
            item.save(update_fields=["overdue_since"])
            contract = item.contract
            record_change(actor=actor, action="instalment.overdue", event="payment.overdue",
                          object_type="contract", object_id=contract.pk,
                          object_repr=contract.number, customer_id=contract.customer_id,
                          changes={"instalment": item.sequence,
                                   "due_date": item.due_date.isoformat(),
                                   "outstanding": str(item.amount - item.paid_amount),
                                   "overdue_since": {"before": None, "after": today}})
            flagged += 1
    return flagged


# Invoice requests --------------------------------------------------------------------------


def _invoice_snapshot(request: InvoiceRequest) -> dict[str, Any]:
    return {"contract": request.contract_id, "amount": request.amount, "kind": request.kind,
            "buyer_name": request.buyer_name, "buyer_tax_number": request.buyer_tax_number,
            "status": request.status, "invoice_number": request.invoice_number}


def invoice_request_create(*, actor: Actor, contract: Contract, amount: Any,
                           kind: str = "special", buyer_name: str = "",
                           buyer_tax_number: str = "") -> InvoiceRequest:
    """Ask for an invoice (开票申请) for part or all of a contract in force; requests not
    rejected may not add up to more than the contract amount."""
    actor.require("deal.manage")
    errors: dict[str, list[str]] = {}
    amount = amount_of(errors, "amount", amount, positive=True)
    if kind not in {code for code, _label in InvoiceRequest.KINDS}:
        errors["kind"] = [_("“%s” is not a valid choice.") % kind]
    buyer_tax_number = (buyer_tax_number or "").strip().upper()
    if buyer_tax_number and not (15 <= len(buyer_tax_number) <= 20
                                 and buyer_tax_number.isalnum()):
        errors["buyer_tax_number"] = [_("A taxpayer number has 15 to 20 letters and digits.")]
    if kind == "special" and not buyer_tax_number:
        errors.setdefault("buyer_tax_number", []).append(
            _("A special VAT invoice needs the buyer's taxpayer number."))
    with transaction.atomic():
        contract = lock_contract(actor, contract)
        if contract.status not in IN_FORCE + (Contract.COMPLETED,):
            errors["contract"] = [_("Invoices are requested for signed contracts.")]
        requested = (InvoiceRequest.objects.filter(contract=contract)
                     .exclude(status=InvoiceRequest.REJECTED)
                     .aggregate(s=Sum("amount"))["s"] or ZERO)
        if amount is not None and requested + amount > contract.amount:
            errors["amount"] = [_("¥%(done)s of ¥%(total)s is already requested.")
                                % {"done": requested, "total": contract.amount}]
        if errors:
            raise ValidationFailed(details=errors)
        request = InvoiceRequest(contract=contract, amount=amount, kind=kind,
                                 buyer_name=(buyer_name or "").strip() or contract.party_b,
                                 buyer_tax_number=buyer_tax_number,
                                 requested_by=actor.user if getattr(actor.user, "pk", None)
                                 else None)
        full_clean(request, exclude=["contract"])
        request.save()
        record_change(actor=actor, action="invoice.create", event="invoice.requested",
                      object_type="invoice_request", object_id=request.pk,
                      object_repr=contract.number, customer_id=contract.customer_id,
                      changes=diff({}, _invoice_snapshot(request)))
    return request


def invoice_request_set_status(*, actor: Actor, request: InvoiceRequest, status: str,
                               invoice_number: str = "") -> InvoiceRequest:
    """Move an invoice request: 已申请 → 已批准 → 已开票 (with the invoice number), or
    已拒绝 before it is issued."""
    actor.require("deal.manage")
    labels = dict(InvoiceRequest.STATUSES)
    if status not in labels:
        raise ValidationFailed(details={"status": [_("“%s” is not a valid choice.") % status]})
    invoice_number = (invoice_number or "").strip()
    with transaction.atomic():
        row = (InvoiceRequest.objects.select_for_update().select_related("contract")
               .filter(pk=request.pk).first())
        if row is None or not may_touch(actor, owner_id=row.contract.owner_id,
                                        team_id=row.contract.team_id):
            raise NotFound()
        if status not in INVOICE_TRANSITIONS[row.status]:
            message = _("An invoice request that is “%(from)s” cannot become “%(to)s”.") % {
                "from": labels[row.status], "to": labels[status]}
            raise ValidationFailed(message, details={"status": [message]},
                                   code="invalid_transition")
        if status == InvoiceRequest.ISSUED and not invoice_number:
            raise ValidationFailed(details={"invoice_number": [
                _("Give the number of the invoice issued.")]})
        if len(invoice_number) > 40:
            raise ValidationFailed(details={"invoice_number": [
                _("At most %(n)d characters.") % {"n": 40}]})
        before = _invoice_snapshot(row)
        row.status = status
        if status == InvoiceRequest.ISSUED:
            row.invoice_number = invoice_number
        row.save(update_fields=["status", "invoice_number"])
        record_change(actor=actor, action="invoice.status", event="invoice.status_changed",
                      object_type="invoice_request", object_id=row.pk,
                      object_repr=row.contract.number, customer_id=row.contract.customer_id,
                      changes=diff(before, _invoice_snapshot(row)))
    return row
