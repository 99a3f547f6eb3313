"""event_ingest: resolution by id or identifier, per-item errors, all-or-nothing, one audit row."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.customers.models import Identifier
from kehu.interactions import services
from kehu.interactions.models import Event
from tests.factories import CustomerFactory
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


def _event(customer_id=None, **kwargs):
    item = {"event_type": "page_view", "occurred_at": "2026-01-05T10:00:00+08:00",
            "properties": {"url": "/p/a1"}, "source": "web"}
    if customer_id is not None:
        item["customer_id"] = customer_id
    item.update(kwargs)
    return item


@pytest.fixture
def admin(make_user):
    return make_user("admin")


def test_batch_is_stored_with_one_audit_entry(admin, customer, actor_for):
    other = CustomerFactory()
    events = [_event(customer.pk), _event(other.pk, event_type="app_login"),
              _event(customer.pk, event_type="app_login", properties={})]
    result = services.event_ingest(actor=actor_for(admin), events=events)
    assert result.accepted == 3 and result.rejected == []
    assert Event.objects.filter(customer=customer).count() == 2
    stored = Event.objects.get(customer=other)
    assert stored.occurred_at == dt.datetime(2026, 1, 5, 2, 0, tzinfo=dt.UTC)
    entry = AuditEntry.objects.get()
    assert entry.action == "event.ingest"
    assert entry.changes["count"] == 3
    assert entry.changes["types"] == {"app_login": 2, "page_view": 1}
    assert entry.changes["customers"] == 2


def test_identifier_resolves_exactly_on_live_rows(admin, actor_for):
    wang, old = CustomerFactory(), CustomerFactory()
    Identifier.objects.create(customer=wang, kind="email", value="wang@example.com")
    Identifier.objects.create(customer=old, kind="mobile", value="+8613800000000", is_live=False)
    events = [_event(identifier={"kind": "email", "value": "wang@example.com"})]
    assert services.event_ingest(actor=actor_for(admin), events=events).accepted == 1
    assert Event.objects.get().customer == wang
    with pytest.raises(ValidationFailed) as caught:
        services.event_ingest(actor=actor_for(admin), events=[
            _event(identifier={"kind": "mobile", "value": "+8613800000000"})])
    assert list(caught.value.details) == ["events[0].identifier"]


def test_one_bad_item_rejects_the_batch_naming_index_and_field(admin, customer, actor_for):
    events = [_event(customer.pk), _event(customer.pk, occurred_at="yesterday"),
              _event(customer.pk), _event(customer.pk, event_type="Page View!", properties=[]),
              _event(999999)]
    with pytest.raises(ValidationFailed) as caught:
        services.event_ingest(actor=actor_for(admin), events=events)
    assert caught.value.details == {
        "events[1].occurred_at": ["Give an ISO 8601 time with its time zone."],
        "events[3].event_type": ["Use lower-case letters, digits and _ . : - (at most 40)."],
        "events[3].properties": ["Properties must be an object."],
        "events[4].customer_id": ["No such customer."],
    }
    assert not Event.objects.exists() and not AuditEntry.objects.exists()


def test_skip_invalid_stores_the_rest_and_reports(admin, customer, actor_for):
    events = [_event(customer.pk), _event(), _event(customer.pk, occurred_at="2026-01-05T10:00")]
    result = services.event_ingest(actor=actor_for(admin), events=events, skip_invalid=True)
    assert result.accepted == 1
    assert result.rejected == [
        {"index": 1, "errors": {"customer_id": ["Give customer_id or identifier."]}},
        {"index": 2, "errors": {"occurred_at": ["The time must include a time zone."]}},
    ]
    assert Event.objects.count() == 1
    assert AuditEntry.objects.get().changes["rejected"] == 2


def test_future_and_oversized_items_are_refused(admin, customer, actor_for):
    future = (timezone.now() + dt.timedelta(days=1)).isoformat()
    events = [_event(customer.pk, occurred_at=future),
              _event(customer.pk, properties={"blob": "x" * 20000})]
    before = db_snapshot()
    with pytest.raises(ValidationFailed) as caught:
        services.event_ingest(actor=actor_for(admin), events=events)
    assert set(caught.value.details) == {"events[0].occurred_at", "events[1].properties"}
    assert db_snapshot() == before


def test_empty_and_oversized_batches(admin, customer, actor_for):
    with pytest.raises(ValidationFailed) as caught:
        services.event_ingest(actor=actor_for(admin), events=[])
    assert list(caught.value.details) == ["events"]
    with pytest.raises(ValidationFailed):
        services.event_ingest(actor=actor_for(admin),
                              events=[_event(customer.pk)] * (services.EVENT_BATCH_MAX + 1))


def test_chunks_are_bulk_inserted(admin, customer, actor_for, monkeypatch):
    events = [_event(customer.pk, properties={"n": n}) for n in range(25)]
    batches = []

    def insert_rows(model, names, rows):  # one executemany (SQLite) or COPY (PostgreSQL) each
        batches.append(len(rows))
        return real_insert_rows(model, names, rows)

    real_insert_rows = services.insert_rows
    monkeypatch.setattr(services, "insert_rows", insert_rows)
    with CaptureQueriesContext(connection) as queries:
        result = services.event_ingest(actor=actor_for(admin), events=events, chunk_size=10)
    assert batches == [10, 10, 5]  # never one per event
    assert not any('INSERT INTO "interactions_event"' in q["sql"] and " times: " not in q["sql"]
                   for q in queries.captured_queries)
    assert sum(q["sql"].startswith('SELECT "customers_customer"')
               for q in queries.captured_queries) == 1
    assert result.accepted == 25 and Event.objects.count() == 25
    assert sorted(e.properties["n"] for e in Event.objects.all()) == list(range(25))


def test_scope_applies_to_ingestion(rep, customer, others_customer, actor_for):
    result = services.event_ingest(actor=actor_for(rep), events=[
        _event(customer.pk), _event(others_customer.pk)], skip_invalid=True)
    assert result.accepted == 1
    assert result.rejected[0]["index"] == 1
    assert not Event.objects.filter(customer=others_customer).exists()


def test_needs_interaction_add(make_user, customer, actor_for):
    marketer = actor_for(make_user("marketer"))
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        services.event_ingest(actor=marketer, events=[_event(customer.pk)])
    assert not Event.objects.exists()
    assert db_snapshot() == before


def test_identifier_values_are_normalised_before_matching(admin, actor_for):
    li = CustomerFactory()
    Identifier.objects.create(customer=li, kind="mobile", value="+8613812345678", last4="5678")
    Identifier.objects.create(customer=li, kind="email", value="li.na@example.com")
    events = [_event(identifier={"kind": "mobile", "value": "138 1234 5678"}),
              _event(identifier={"kind": "email", "value": " Li.Na@Example.COM "})]
    assert services.event_ingest(actor=actor_for(admin), events=events).accepted == 2
    assert set(Event.objects.values_list("customer_id", flat=True)) == {li.pk}
    with pytest.raises(ValidationFailed) as caught:
        services.event_ingest(actor=actor_for(admin), events=[
            _event(identifier={"kind": "mobile", "value": "12"})])
    assert caught.value.details == {"events[0].identifier": ["Enter a valid phone number."]}
