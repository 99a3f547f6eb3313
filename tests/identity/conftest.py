"""Customers with a full card (identifiers, address, tags, contacts, interactions, events,
follow-ups, orders, tickets) and a way to read a customer's whole state back."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.customers import services as customers
from kehu.customers.models import Address, ContactLink, Customer, CustomerTag, Identifier, Tag
from kehu.interactions.models import Event, FollowUpTask, Interaction
from kehu.transactions.models import Order, Ticket

_numbers = itertools.count(1)


@pytest.fixture
def steward(make_user):
    return make_user("data_steward", username="steward", display_name="数据管家")


@pytest.fixture
def system():
    return Actor.system(via="system")


def full_customer(*, name="张伟", mobile="", email="", address="", tags=(), interactions=0,
                  orders=0, tickets=0, events=0, follow_ups=0, owner=None, **fields):
    """A customer made through the services, with rows of every kind hanging off it."""
    actor = Actor.system(via="system")
    kwargs = {k: v for k, v in (("mobile", mobile), ("email", email), ("address", address)) if v}
    customer = customers.customer_create(actor=actor, name=name, owner=owner, **kwargs, **fields)
    for tag in tags:
        customers.tag_add(actor=actor, customer=customer, name=tag)
    now = timezone.now()
    for i in range(interactions):
        Interaction.objects.create(customer=customer, kind="call", summary=f"{name}通话{i}",
                                   occurred_at=now - dt.timedelta(days=i + 1))
    for i in range(events):
        Event.objects.create(customer=customer, event_type="page_view",
                             occurred_at=now - dt.timedelta(hours=i + 1))
    for i in range(follow_ups):
        FollowUpTask.objects.create(customer=customer, title=f"回访{i}",
                                    due_date=dt.date(2026, 1, 1) + dt.timedelta(days=i))
    for _i in range(orders):
        Order.objects.create(customer=customer, number=f"SO-{next(_numbers):06d}",
                             ordered_at=now - dt.timedelta(days=3), total_amount="100.00")
    for _i in range(tickets):
        Ticket.objects.create(customer=customer, number=f"TK-{next(_numbers):06d}",
                              kind="inquiry", subject="咨询", opened_at=now)
    return Customer.objects.get(pk=customer.pk)


def state(customer_id: int, *, columns_except=("version", "updated_at")) -> dict:
    """Everything that is a customer's: its columns and the rows hanging off it."""
    customer = Customer.objects.get(pk=customer_id)
    cols = {f.attname: f.value_from_object(customer) for f in Customer._meta.concrete_fields
            if f.attname not in columns_except}
    return {
        "columns": cols,
        "identifiers": sorted((i.pk, i.kind, i.value, i.is_primary, i.is_live, i.verified)
                              for i in Identifier.objects.filter(customer_id=customer_id)),
        "addresses": sorted((a.pk, a.is_primary, str(a)) for a in
                            Address.objects.filter(customer_id=customer_id)),
        "tags": sorted(CustomerTag.objects.filter(customer_id=customer_id)
                       .values_list("pk", "tag__name")),
        "contacts": sorted(ContactLink.objects.filter(organisation_id=customer_id)
                           .values_list("pk", "person_id", "is_primary")),
        "employers": sorted(ContactLink.objects.filter(person_id=customer_id)
                            .values_list("pk", "organisation_id", "is_primary")),
        "interactions": sorted(Interaction.objects.filter(customer_id=customer_id)
                               .values_list("pk", flat=True)),
        "events": sorted(Event.objects.filter(customer_id=customer_id).values_list("pk", flat=True)),
        "follow_ups": sorted(FollowUpTask.objects.filter(customer_id=customer_id)
                             .values_list("pk", flat=True)),
        "orders": sorted(Order.objects.filter(customer_id=customer_id).values_list("pk", flat=True)),
        "tickets": sorted(Ticket.objects.filter(customer_id=customer_id)
                          .values_list("pk", flat=True)),
    }


def tag_named(name: str) -> Tag:
    return Tag.objects.get(name=name)
