"""What the service desk adds to every ticket write (registered with kehu.transactions.hooks):
the ticket's SLA clocks recomputed in the same transaction, the satisfaction survey sent when
it is resolved, and the complaint rule that refuses closing without root cause and action."""

from __future__ import annotations

from kehu.service.services.complaints import complaint_close_errors
from kehu.service.services.sla import sla_recompute
from kehu.service.services.surveys import survey_auto_send


def after_ticket_change(ticket_ids, actor, *, resolved_ids=()) -> None:
    ids = [pk for pk in ticket_ids if pk is not None]
    if ids:
        sla_recompute(ticket_ids=ids)
    for ticket_id in resolved_ids:
        survey_auto_send(ticket_id=ticket_id)


def ticket_guard(ticket, status: str) -> dict[str, list[str]]:
    return complaint_close_errors(ticket, status)
