"""Complaints: the complaint record of a complaint ticket (category, severity, root cause,
corrective action). A complaint ticket cannot be resolved or closed without its root cause
and corrective action; a personal-information complaint is routed to the compliance role.

Complaints are tickets of kind "complaint", so the segment condition 近期有投诉 ({"type":
"ticket", "name": "complaint", "within_days": 30}) counts them as it always did.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import record_change
from kehu.customers.models import Customer
from kehu.service.models import Complaint
from kehu.service.notify import notify_compliance
from kehu.transactions.models import Ticket
from kehu.transactions.ticket_services import TICKET_DONE, ticket_open, ticket_update

COMPLIANCE_ROLE = "compliance_auditor"
PRIVACY = "privacy"


def _snapshot(complaint: Complaint) -> dict[str, Any]:
    return {"category": complaint.category, "severity": complaint.severity,
            "root_cause": complaint.root_cause,
            "corrective_action": complaint.corrective_action,
            "routed_to": complaint.routed_to_id}


def _check(errors: dict, category: str, severity: str) -> None:
    if category not in {c for c, _label in Complaint.CATEGORIES}:
        errors["category"] = [_("“%s” is not a valid choice.") % category]
    if severity not in {c for c, _label in Complaint.SEVERITIES}:
        errors["severity"] = [_("“%s” is not a valid choice.") % severity]


def compliance_officer():
    """The active user of the compliance role with the fewest open personal-information
    complaints (then the lowest id), or None when the role has nobody."""
    officers = list(get_user_model().objects.filter(is_active=True, role__code=COMPLIANCE_ROLE)
                    .order_by("pk"))
    if not officers:
        return None
    load = dict(Complaint.objects.filter(
        category=PRIVACY, routed_to__in=officers,
        ticket__status__in=("open", "in_progress", "waiting_customer"))
        .values("routed_to_id").annotate(n=Count("pk")).values_list("routed_to_id", "n"))
    return min(officers, key=lambda user: (load.get(user.pk, 0), user.pk))


def _route(complaint: Complaint, ticket: Ticket) -> None:
    """Hand a personal-information complaint to compliance: assignee, record, notification."""
    officer = compliance_officer()
    if officer is None or complaint.routed_to_id == officer.pk:
        return
    system = Actor.system(via="system")
    if ticket.status not in TICKET_DONE:
        ticket_update(actor=system, ticket=ticket, status=ticket.status,
                      priority=ticket.priority, assignee=officer, resolution=ticket.resolution)
    before = complaint.routed_to_id
    complaint.routed_to = officer
    complaint.save(update_fields=["routed_to", "updated_at"])
    record_change(actor=system, action="complaint.route", event="complaint.routed",
                  customer_id=ticket.customer_id, object_type="complaint",
                  object_id=ticket.pk, object_repr=ticket.number,
                  changes={"assignee": {"before": before, "after": officer.pk},
                           "role": COMPLIANCE_ROLE})
    notify_compliance(ticket=ticket, recipients=[officer.pk])


def complaint_record(*, actor: Actor, ticket: Ticket, category: str,
                     severity: str = "medium") -> Complaint:
    """Record the complaint details of a complaint ticket (one record per ticket)."""
    actor.require("ticket.manage")
    errors: dict[str, list[str]] = {}
    _check(errors, category, severity)
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        current = Ticket.objects.select_for_update().select_related("customer").filter(
            pk=ticket.pk).first()
        if current is None:
            raise NotFound()
        if current.kind != "complaint":
            raise ValidationFailed(details={"ticket": [
                _("Only a complaint ticket has complaint details.")]})
        if Complaint.objects.filter(ticket=current).exists():
            raise ValidationFailed(details={"ticket": [
                _("This complaint is already recorded; change it instead.")]})
        complaint = Complaint.objects.create(ticket=current, category=category,
                                             severity=severity)
        record_change(actor=actor, action="complaint.record", event="complaint.recorded",
                      customer_id=current.customer_id, object_type="complaint",
                      object_id=current.pk, object_repr=current.number,
                      changes={"ticket": current.pk, **diff({}, _snapshot(complaint))})
        if category == PRIVACY:
            _route(complaint, current)
    return complaint


def complaint_open(*, actor: Actor, customer: Customer, subject: str, category: str,
                   severity: str = "medium", description: str = "", priority: str = "normal",
                   assignee=None, product=None) -> Complaint:
    """Open a complaint ticket with its complaint record in one step."""
    actor.require("ticket.manage")
    errors: dict[str, list[str]] = {}
    _check(errors, category, severity)
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        ticket = ticket_open(actor=actor, customer=customer, kind="complaint", subject=subject,
                             description=description, priority=priority, assignee=assignee,
                             product=product)
        return complaint_record(actor=actor, ticket=ticket, category=category,
                                severity=severity)


def complaint_update(*, actor: Actor, ticket: Ticket, category: str, severity: str,
                     root_cause: str, corrective_action: str) -> Complaint:
    """Change a complaint's details; a move to the personal-information category routes it to
    compliance. Root cause and corrective action are required before the ticket closes."""
    actor.require("ticket.manage")
    errors: dict[str, list[str]] = {}
    _check(errors, category, severity)
    root_cause, corrective_action = (root_cause or "").strip(), (corrective_action or "").strip()
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        complaint = Complaint.objects.select_for_update().select_related(
            "ticket", "ticket__customer").filter(ticket_id=ticket.pk).first()
        if complaint is None:
            raise NotFound()
        current = complaint.ticket
        if current.status in TICKET_DONE and not (root_cause and corrective_action):
            raise ValidationFailed(details={
                "root_cause" if not root_cause else "corrective_action": [
                    _("A closed complaint keeps its root cause and corrective action.")]})
        before = _snapshot(complaint)
        complaint.category, complaint.severity = category, severity
        complaint.root_cause, complaint.corrective_action = root_cause, corrective_action
        complaint.save(update_fields=["category", "severity", "root_cause",
                                      "corrective_action", "updated_at"])
        record_change(actor=actor, action="complaint.update", event="complaint.updated",
                      customer_id=current.customer_id, object_type="complaint",
                      object_id=current.pk, object_repr=current.number,
                      changes=diff(before, _snapshot(complaint)))
        if category == PRIVACY and before["category"] != PRIVACY:
            _route(complaint, current)
    return complaint


def complaint_close_errors(ticket: Ticket, status: str) -> dict[str, list[str]]:
    """The ticket guard: a complaint resolves or closes only with its record, root cause and
    corrective action."""
    if ticket.kind != "complaint" or status not in TICKET_DONE or ticket.merged_into_id:
        return {}
    complaint = Complaint.objects.filter(ticket_id=ticket.pk).first()
    if complaint is None:
        return {"category": [_("Record the complaint's category and severity first.")]}
    errors = {}
    if not complaint.root_cause.strip():
        errors["root_cause"] = [_("Give the root cause before closing the complaint.")]
    if not complaint.corrective_action.strip():
        errors["corrective_action"] = [
            _("Give the corrective action before closing the complaint.")]
    return errors
