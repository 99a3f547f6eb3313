"""Domain-event handlers of lead assignment."""

from __future__ import annotations

from kehu.core.events import Event


def customer_created(event: Event) -> None:
    """Assign a new customer that has no owner by the first active rule that matches."""
    from kehu.assignment.services import assignment_auto

    if event.customer_id is None:
        return
    assignment_auto(customer_id=event.customer_id)
