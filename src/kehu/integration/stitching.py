"""Identity stitching: a profile-less visitor's events attached to a customer, and undone.

A stitch moves the visitor's waiting events into the customer's events (through
`kehu.interactions.services.event_ingest`, so the timeline, segments, scores and rules see
them), records what moved, and is audited with a `visitor.stitched` event; `stitch_undo`
takes those events back off the customer and gives the visitor its events again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from kehu.core.actor import Actor
from kehu.core.errors import DomainError, NotFound
from kehu.core.events import record_change
from kehu.customers.models import Customer
from kehu.integration.models import Stitch, Visitor, VisitorEvent
from kehu.interactions.models import Event
from kehu.interactions.services import event_ingest

# Ids that many different people send (a broken client's placeholder): never joined to a
# customer, never stored as a visitor. Compared lower-cased and stripped.
JUNK_IDS = frozenset({
    "", "undefined", "null", "none", "nil", "0", "anonymous", "guest", "nan",
    "[object object]", "true", "false", "unknown", "id", "distinct_id", "distinctid", "email",
    "00000000-0000-0000-0000-000000000000", "not_authenticated", "not authenticated",
})


class StitchLimit(DomainError):
    code = "stitch_limit"
    status = 429


def is_junk_id(value: Any) -> bool:
    """True for an id that cannot tell one person from another ("undefined", "null", "0" …)."""
    return str(value).strip().lower() in JUNK_IDS


def stitch_limit() -> int:
    """KEHU_INGEST_MAX_STITCHES_PER_DAY: visitors attached to one customer per day."""
    return int(getattr(settings, "KEHU_INGEST_MAX_STITCHES_PER_DAY", 20))


def _stitched_today(customer_id: int) -> int:
    since = timezone.now() - dt.timedelta(days=1)
    return Stitch.objects.filter(customer_id=customer_id, created_at__gte=since,
                                 undone_at__isnull=True).count()


def visitor_stitch(*, actor: Actor, visitor: Visitor, customer: Customer,
                   reason: str = Stitch.IDENTIFY) -> Stitch:
    """Attach a visitor to a customer: its waiting events become the customer's events and
    its later events go to the customer. At most KEHU_INGEST_MAX_STITCHES_PER_DAY visitors
    per customer in 24 hours (StitchLimit otherwise: a shared device or a client bug)."""
    actor.require("interaction.add")
    with transaction.atomic():
        visitor = Visitor.objects.select_for_update().get(pk=visitor.pk)
        if visitor.customer_id == customer.pk:
            existing = visitor.stitches.filter(customer=customer, undone_at__isnull=True).first()
            if existing is not None:
                return existing
        if _stitched_today(customer.pk) >= stitch_limit():
            raise StitchLimit(_("This customer was joined with %d visitors in the last day; "
                                "no more are joined automatically.") % stitch_limit(),
                              details={"customer_id": customer.pk})
        waiting = list(visitor.events.order_by("occurred_at", "id"))
        ids: list[int] = []
        if waiting:
            result = event_ingest(actor=actor, events=[
                {"customer_id": customer.pk, "event_type": e.event_type,
                 "occurred_at": e.occurred_at, "properties": e.properties, "source": e.source}
                for e in waiting])
            ids = result.ids
        moved = [{"event_type": e.event_type, "occurred_at": e.occurred_at.isoformat(),
                  "properties": e.properties, "source": e.source,
                  "received_at": e.received_at.isoformat()} for e in waiting]
        VisitorEvent.objects.filter(pk__in=[e.pk for e in waiting]).delete()
        before = visitor.customer_id
        visitor.customer = customer
        visitor.save(update_fields=["customer"])
        stitch = Stitch.objects.create(visitor=visitor, customer=customer, reason=reason,
                                       event_ids=ids, moved=moved, created_by=actor.user)
        record_change(actor=actor, action="visitor.stitch", event="visitor.stitched",
                      object_type="visitor", object_id=visitor.pk, customer_id=customer.pk,
                      object_repr=visitor.key,
                      changes={"customer": {"before": before, "after": customer.pk},
                               "events": {"before": None, "after": len(ids)},
                               "stitch": {"before": None, "after": stitch.pk},
                               "reason": {"before": None, "after": reason}})
    return stitch


def stitch_undo(*, actor: Actor, stitch_id: int) -> Stitch:
    """Reverse a stitch: the events it moved leave the customer (those still there) and are
    the visitor's again, and the visitor is no longer linked to the customer."""
    actor.require("customer.merge")
    with transaction.atomic():
        stitch = Stitch.objects.select_for_update().filter(pk=stitch_id).first()
        if stitch is None or stitch.undone_at is not None:
            raise NotFound(_("No such stitch, or it was already undone."))
        visitor = Visitor.objects.select_for_update().get(pk=stitch.visitor_id)
        removed, _detail = Event.objects.filter(pk__in=stitch.event_ids,
                                                customer_id=stitch.customer_id).delete()
        VisitorEvent.objects.bulk_create([
            VisitorEvent(visitor=visitor, event_type=m["event_type"],
                         occurred_at=parse_datetime(m["occurred_at"]),
                         properties=m["properties"], source=m["source"],
                         received_at=parse_datetime(m["received_at"]))
            for m in stitch.moved])
        if visitor.customer_id == stitch.customer_id:
            visitor.customer = None
            visitor.save(update_fields=["customer"])
        stitch.undone_at = timezone.now()
        stitch.save(update_fields=["undone_at"])
        record_change(actor=actor, action="visitor.unstitch", event="visitor.unstitched",
                      object_type="visitor", object_id=visitor.pk,
                      customer_id=stitch.customer_id, object_repr=visitor.key,
                      changes={"customer": {"before": stitch.customer_id, "after": None},
                               "events": {"before": len(stitch.event_ids), "after": 0},
                               "stitch": {"before": stitch.pk, "after": None}})
    return stitch
