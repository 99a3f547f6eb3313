"""Who the service desk tells about a ticket, through the notification centre: the assignee
when a clock nears its target, the team's managers when it is breached, compliance when a
personal-information complaint arrives. Deduplicated per ticket and clock."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.notifications.services import notification_send
from kehu.service.models import CLOCK_LABELS


def _clock_label(clock: str) -> str:
    return str(dict(CLOCK_LABELS).get(clock, clock))


def _link(ticket) -> str:
    return reverse("transactions:ticket", args=[ticket.pk])


def team_leads(ticket) -> list[int]:
    """The managers of the assignee's team (else of the customer's team), and of its parent
    teams when a team has none."""
    User = get_user_model()
    team = None
    if ticket.assignee_id:
        team = getattr(ticket.assignee, "team", None)
    if team is None and ticket.customer.team_id:
        team = ticket.customer.team
    seen = 0
    while team is not None and seen < 10:
        ids = list(team.managers.filter(is_active=True).values_list("pk", flat=True))
        if ids:
            return ids
        team, seen = team.parent, seen + 1
    return list(User.objects.filter(is_active=True, is_superuser=True).values_list(
        "pk", flat=True)[:5])


def notify_warning(*, ticket, clock: str, due_at: dt.datetime) -> None:
    if not ticket.assignee_id:
        return
    notification_send(
        actor=Actor.system(via="system"), recipients=[ticket.assignee_id], kind="sla_warning",
        title=_("Ticket %(number)s: %(clock)s due at %(due)s") % {
            "number": ticket.number, "clock": _clock_label(clock),
            "due": timezone.localtime(due_at).strftime("%Y-%m-%d %H:%M")},
        body=ticket.subject, link=_link(ticket), customer_id=ticket.customer_id,
        dedupe_key=f"sla_warning:{ticket.pk}:{clock}")


def notify_breach(*, ticket, clock: str, due_at: dt.datetime) -> None:
    recipients = team_leads(ticket)
    if ticket.assignee_id and ticket.assignee_id not in recipients:
        recipients.append(ticket.assignee_id)
    notification_send(
        actor=Actor.system(via="system"), recipients=recipients, kind="sla_breach",
        title=_("Ticket %(number)s breached its %(clock)s target (due %(due)s)") % {
            "number": ticket.number, "clock": _clock_label(clock),
            "due": timezone.localtime(due_at).strftime("%Y-%m-%d %H:%M")},
        body=ticket.subject, link=_link(ticket), customer_id=ticket.customer_id,
        dedupe_key=f"sla_breach:{ticket.pk}:{clock}")


def notify_compliance(*, ticket, recipients: list[int]) -> None:
    notification_send(
        actor=Actor.system(via="system"), recipients=recipients, kind="privacy_complaint",
        title=_("Personal-information complaint %(number)s") % {"number": ticket.number},
        body=ticket.subject, link=_link(ticket), customer_id=ticket.customer_id,
        dedupe_key=f"privacy_complaint:{ticket.pk}")
