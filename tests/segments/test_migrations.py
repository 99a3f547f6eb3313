"""Migration segments.0003 repairs definitions saved in the old lossy form, and the repaired
segments are recomputed with their windows."""

from __future__ import annotations

import importlib
from datetime import timedelta

from django.apps import apps
from django.utils import timezone

from kehu.segments.definition import validate
from kehu.segments.models import Segment
from kehu.segments.services import segments_refresh_due
from kehu.transactions.models import Ticket
from tests.factories import CustomerFactory

repair = importlib.import_module("kehu.segments.migrations.0003_repair_stored_windows")

# What segment_create stored before the fix, for "complaint in the last 30 days" and
# "spend of at least 100 between two dates".
LOSSY_COMPLAINTS = {"type": "group", "match": "all", "conditions": [
    {"type": "ticket", "name": "complaint", "where": [], "count": {"op": "gte", "value": 1},
     "window": {"days": 30}}]}
LOSSY_SPEND = {"type": "group", "match": "any", "conditions": [
    {"type": "not", "condition": {"type": "spend", "op": "gte", "value": 100,
                                  "window": {"from": "2026-01-01", "to": "2026-03-31"}}},
    {"type": "purchase", "where": [], "count": {"op": "eq", "value": 0}, "window": None}]}


def test_lossy_definitions_are_repaired_and_recomputed(db, make_user):
    owner = make_user("admin", username="root", is_superuser=True)
    now = timezone.now()
    recent, old = CustomerFactory(name="近期投诉"), CustomerFactory(name="早年投诉")
    for number, (customer, days) in enumerate([(recent, 5), (old, 200)]):
        Ticket.objects.create(customer=customer, number=f"T-{number}", kind="complaint",
                              subject="x", opened_at=now - timedelta(days=days))
    complaints = Segment.objects.create(name="近30天有投诉", definition=LOSSY_COMPLAINTS,
                                        owner=owner, dynamic=False, size=2, computed_at=now)
    spend = Segment.objects.create(name="消费", definition=LOSSY_SPEND, owner=owner,
                                   dynamic=False, size=0, computed_at=now)
    current = Segment.objects.create(name="新", owner=owner, dynamic=False, size=0,
                                     computed_at=now, definition=validate(
                                         {"conditions": [{"type": "ticket",
                                                          "within_days": 7}]}))

    repair.forwards(apps, None)

    complaints.refresh_from_db()
    assert complaints.definition == {"type": "group", "match": "all", "conditions": [
        {"type": "ticket", "name": "complaint", "count": {"op": "gte", "value": 1},
         "within_days": 30}]}
    assert validate(complaints.definition) == complaints.definition
    spend.refresh_from_db()
    assert spend.definition["conditions"] == [
        {"type": "not", "condition": {"type": "spend", "op": "gte", "value": 100,
                                      "between": ["2026-01-01", "2026-03-31"]}},
        {"type": "purchase", "count": {"op": "eq", "value": 0}}]
    assert validate(spend.definition) == spend.definition
    assert complaints.computed_at is None and spend.computed_at is None
    current.refresh_from_db()
    assert current.computed_at == now  # already in today's form: untouched

    # Running it again changes nothing.
    before = list(Segment.objects.order_by("pk").values_list("definition", flat=True))
    repair.forwards(apps, None)
    assert list(Segment.objects.order_by("pk").values_list("definition", flat=True)) == before

    # The next periodic run recomputes the repaired (static) segments, with their windows.
    segments_refresh_due()
    complaints.refresh_from_db()
    assert complaints.size == 1 and complaints.computed_at is not None
    assert list(complaints.memberships.values_list("customer_id", flat=True)) == [recent.pk]
