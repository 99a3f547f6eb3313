"""The daily summaries: kept current by the domain events, equal to a full recomputation after
any sequence of changes, and equal to a plain count of the rows."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.utils import timezone

from kehu.core import events
from kehu.core.actor import Actor
from kehu.core.errors import ValidationFailed
from kehu.customers.models import Customer
from kehu.customers.services import customer_delete, customer_update
from kehu.dashboards import summaries
from kehu.dashboards.models import (
    DailyCustomerSummary,
    DailyInteractionSummary,
    DailyOrderSummary,
    ProfileSummary,
    SummaryLedger,
)
from kehu.dashboards.tasks import summaries_birthdays_task
from kehu.interactions.models import Interaction
from kehu.interactions.services import interaction_log
from kehu.scoring.models import CustomerValue
from kehu.transactions.models import Order, OrderLine
from kehu.transactions.services import order_create, order_update_status
from tests.factories import ProductFactory, TeamFactory, create_customer

pytestmark = pytest.mark.django_db

TABLES = (DailyCustomerSummary, DailyOrderSummary, DailyInteractionSummary, ProfileSummary)
SOURCES = ["web", "wechat", "offline", ""]
TIERS = ["high_value", "potential", "general", ""]
# A "today" of a year without 29 February, and birthdays whose age band moves in the next days
# (25 on 28 Feb; 35 on 1 March for one born on 29 February 1992; 55 on 1 March) or never.
TODAY = dt.date(2027, 2, 26)
BIRTHDAYS = [dt.date(2002, 2, 28), dt.date(1992, 2, 29), dt.date(1972, 3, 1),
             dt.date(1990, 6, 15), None]


def age_band(birthday, today):
    if birthday is None:
        return ""
    age = today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))
    return next(code for code, low in (("55_plus", 55), ("45_54", 45), ("35_44", 35),
                                       ("25_34", 25), ("under_25", 0)) if age >= low)


def dispatch():
    events.dispatch(only=[summaries.SUBSCRIBER])


def snapshot():
    return {model.__name__: summaries.summary_rows(model) for model in TABLES}


def plain_counts(today=TODAY):
    """The summaries computed the obvious way, from the rows, with no summary code."""
    def day(moment):
        return timezone.localtime(moment).date()

    live = {c.pk: c for c in Customer.objects.filter(status="active")}
    bought = set(Order.objects.filter(customer_id__in=live, status__in=Order.PURCHASE_STATUSES)
                 .values_list("customer_id", flat=True))
    customers = Counter((day(c.created_at), c.owner_id or 0, c.team_id or 0, c.source,
                         c.lifecycle_stage, c.pk in bought) for c in live.values())
    orders: dict = {}
    for order in Order.objects.filter(customer_id__in=live, status__in=Order.PURCHASE_STATUSES):
        c = live[order.customer_id]
        key = (day(order.ordered_at), c.owner_id or 0, c.team_id or 0, order.sales_channel,
               c.source)
        n, amount = orders.get(key, (0, Decimal(0)))
        orders[key] = (n + 1, amount + order.total_amount)
    interactions = Counter((day(i.occurred_at), i.actor_id or 0, live[i.customer_id].owner_id or 0,
                            live[i.customer_id].team_id or 0)
                           for i in Interaction.objects.filter(customer_id__in=live))
    tiers = dict(CustomerValue.objects.values_list("customer_id", "value_tier"))
    profile: Counter = Counter()
    for c in live.values():
        head = (c.owner_id or 0, c.team_id or 0, tiers.get(c.pk, ""))
        purchases = sorted(Order.objects.filter(customer=c, status__in=Order.PURCHASE_STATUSES),
                           key=lambda o: (o.ordered_at, o.pk))
        products = {line.product_id for line in OrderLine.objects.filter(order__in=purchases)}
        values = [("customers", ""), ("industry", c.industry), ("province", c.province),
                  ("company_size", c.company_size), ("source", c.source),
                  ("gender", c.gender), ("age_band", age_band(c.birthday, today)),
                  ("first_channel", purchases[0].sales_channel if purchases else "")]
        values += [("product", str(pk)) for pk in products]
        profile.update((*head, f, v) for f, v in values if f == "customers" or v)
    return {"DailyCustomerSummary": sorted((*k, n) for k, n in customers.items()),
            "ProfileSummary": sorted((*k, n) for k, n in profile.items()),
            "DailyOrderSummary": sorted((*k, *v) for k, v in orders.items()),
            "DailyInteractionSummary": sorted((*k, n) for k, n in interactions.items())}


@pytest.fixture(autouse=True)
def today(monkeypatch):
    day = {"today": TODAY}
    monkeypatch.setattr(summaries, "_today", lambda: day["today"])
    return day


@pytest.fixture
def world(make_user):
    teams = [TeamFactory(), TeamFactory()]
    reps = [make_user("sales_rep", team=teams[0]), make_user("sales_rep", team=teams[0]),
            make_user("sales_rep", team=teams[1])]
    return {"teams": teams, "reps": reps, "product": ProductFactory(unit_price="100.00"),
            "products": [ProductFactory(unit_price="50.00"), ProductFactory(unit_price="9.00")],
            "admin": Actor.system(via="system")}


def _set_tier(customer, tier):
    """A scoring run's write of one customer's tier: the row and its per-customer event."""
    from django.db import transaction

    old = CustomerValue.objects.filter(customer=customer).values_list(
        "value_tier", flat=True).first() or ""
    with transaction.atomic():
        CustomerValue.objects.update_or_create(customer=customer,
                                               defaults={"value_tier": tier,
                                                         "scored_at": timezone.now()})
        if old != tier:
            events.emit_many(actor=Actor.system(via="scoring"), events=[events.Related(
                type="value.tier_changed", object_type="customer", object_id=customer.pk,
                changes={"value_tier": {"before": old or None, "after": tier or None}})])


def _random_changes(world, rng: random.Random, steps: int):
    admin, reps, product = world["admin"], world["reps"], world["product"]
    now = timezone.now()
    for _step in range(steps):
        live = list(Customer.objects.filter(status="active"))
        action = rng.choice(["create", "create", "source", "owner", "delete", "interaction",
                             "interaction", "order", "order", "cancel", "lifecycle", "merge",
                             "tier", "tier", "profile", "profile"])
        if action == "create" or not live:
            owner = rng.choice(reps)
            create_customer(owner=owner, name=f"客户{rng.randrange(10**6)}",
                            source=rng.choice(SOURCES), birthday=rng.choice(BIRTHDAYS))
            continue
        customer = rng.choice(live)
        if action == "source":
            customer_update(actor=admin, customer=customer, expected_version=None,
                            changes={"source": rng.choice(SOURCES)})
        elif action == "owner":
            owner = rng.choice(reps)
            customer_update(actor=admin, customer=customer, expected_version=None,
                            changes={"owner": owner, "team": owner.team})
        elif action == "tier":
            _set_tier(customer, rng.choice(TIERS))
        elif action == "profile":
            customer_update(actor=admin, customer=customer, expected_version=None,
                            changes={"birthday": rng.choice(BIRTHDAYS),
                                     "gender": rng.choice(["male", "female", ""])})
        elif action == "lifecycle":
            customer_update(actor=admin, customer=customer, expected_version=None,
                            changes={"lifecycle_stage": rng.choice(["lead", "customer", "loyal"])})
        elif action == "delete":
            customer_delete(actor=admin, customer=customer)
        elif action == "interaction":
            owner = next((rep for rep in reps if rep.pk == customer.owner_id), None)
            actor = Actor(user=owner) if owner is not None and rng.random() < 0.8 else admin
            interaction_log(actor=actor, customer=customer, kind="call", summary="电话",
                            occurred_at=now - dt.timedelta(days=rng.randrange(20)))
        elif action == "order":
            order_create(actor=admin, customer=customer,
                         lines=[{"product": rng.choice([product, *world["products"]]),
                                 "quantity": rng.randrange(1, 4)}],
                         status=rng.choice(["paid", "completed", "pending"]),
                         sales_channel=rng.choice(["online", "store", ""]),
                         ordered_at=now - dt.timedelta(days=rng.randrange(20)))
        elif action == "cancel":
            order = Order.objects.filter(customer=customer, status__in=("pending", "paid")).first()
            if order is not None:
                order_update_status(actor=admin, order=order, status="cancelled")
        elif action == "merge" and len(live) > 2:
            from kehu.identity.services import customer_merge

            other = rng.choice([c for c in live if c.pk != customer.pk])
            if other.kind == customer.kind:
                try:
                    customer_merge(actor=admin, survivor_id=customer.pk, other_ids=[other.pk])
                except ValidationFailed:  # they disagree on the birthday: nothing merged
                    pass
        if rng.random() < 0.3:
            dispatch()  # the subscriber runs now and then, as the worker would


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_incremental_summaries_equal_a_full_recomputation(world, seed):
    rng = random.Random(seed)
    _random_changes(world, rng, 45)
    dispatch()
    incremental = snapshot()
    assert incremental == plain_counts()
    assert summaries.summaries_check() == []
    ledgers = dict(SummaryLedger.objects.values_list("customer_id", "contribution"))
    summaries.summaries_rebuild()
    assert snapshot() == incremental
    assert dict(SummaryLedger.objects.values_list("customer_id", "contribution")) == ledgers
    # and it goes on incrementally after a rebuild
    _random_changes(world, rng, 15)
    dispatch()
    assert snapshot() == plain_counts()


@pytest.mark.parametrize("seed", [4, 5])
def test_birthdays_move_age_bands_day_by_day(world, today, seed):
    rng = random.Random(seed)
    for birthday in BIRTHDAYS * 3:
        customer = create_customer(owner=rng.choice(world["reps"]), birthday=birthday)
        _set_tier(customer, rng.choice(TIERS))
    _random_changes(world, rng, 20)
    dispatch()
    assert snapshot() == plain_counts(TODAY)
    moved = 0
    for days in range(1, 5):  # 27 Feb … 2 March 2027
        today["today"] = TODAY + dt.timedelta(days=days)
        moved += summaries_birthdays_task.call_local()  # the worker's periodic task
        assert snapshot() == plain_counts(today["today"]), today["today"]
        assert summaries.summaries_check() == []
    assert moved >= 3
    assert ProfileSummary.objects.filter(feature="age_band").exists()


def test_owner_reassignment_moves_every_count(world):
    first, _second, third = world["reps"]
    customer = create_customer(owner=first, source="web")
    order_create(actor=world["admin"], customer=customer,
                 lines=[{"product": world["product"], "quantity": 2}], status="paid")
    interaction_log(actor=Actor(user=first), customer=customer, kind="call", summary="电话")
    dispatch()
    assert DailyOrderSummary.objects.get().owner_id == first.pk
    customer_update(actor=world["admin"], customer=customer, expected_version=None,
                    changes={"owner": third, "team": third.team})
    dispatch()
    for model in TABLES:
        assert {(row.owner_id, row.team_id) for row in model.objects.all()} == {
            (third.pk, third.team_id)}
    assert DailyInteractionSummary.objects.get().actor_id == first.pk
    customer_delete(actor=world["admin"], customer=Customer.objects.get(pk=customer.pk))
    dispatch()
    assert all(not model.objects.exists() for model in TABLES)
    assert not SummaryLedger.objects.exists()


def test_a_replayed_event_counts_once(world):
    customer = create_customer(owner=world["reps"][0], source="web")
    dispatch()
    event = events.Event(id=0, type="customer.created", object_type="customer",
                         object_id=str(customer.pk), object_repr="", customer_id=customer.pk,
                         actor=events.EventActor(None, "", "system"), changes_json="",
                         audit_seq=None, occurred_at=timezone.now())
    summaries.on_event(event)
    summaries.on_event(event)
    assert DailyCustomerSummary.objects.get().customers == 1


def test_rebuild_command(world, capsys):
    create_customer(owner=world["reps"][0], source="web")
    DailyCustomerSummary.objects.all().delete()  # as if changed behind the services' back
    with pytest.raises(SystemExit):
        call_command("dashboards", "rebuild-summaries", "--check")
    call_command("dashboards", "rebuild-summaries")
    assert "dailycustomersummary 1 rows" in capsys.readouterr().out
    call_command("dashboards", "rebuild-summaries", "--check")
    assert DailyCustomerSummary.objects.get().customers == 1
