"""Scoring runs on the hand-checked book (docs/rfm.md), incremental against full, history,
lifecycle rules and permissions."""

from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.scoring import services
from kehu.scoring.models import (
    CustomerValue,
    CustomerValueChange,
    LifecycleStageChange,
    ScoringRun,
)
from kehu.transactions.services import order_update_status
from tests.factories import CustomerFactory, InteractionFactory
from tests.scoring.conftest import add_order
from tests.unchanged import db_snapshot

SYSTEM = Actor.system(via="system")


def values(book):
    rows = {v.customer_id: v for v in CustomerValue.objects.all()}
    return {name: rows[c.pk] for name, c in book.items()}


def table():
    return sorted(CustomerValue.objects.values_list(
        "customer_id", "last_order_at", "recency_days", "frequency", "monetary", "r_score",
        "f_score", "m_score", "rfm_segment", "value_tier", "last_activity_at"))


def test_full_run_scores_the_hand_checked_book(book):
    run = services.rfm_score(actor=SYSTEM, full=True)
    v = values(book)
    figures = {n: (r.recency_days, r.frequency, r.monetary, r.rfm_code, r.rfm_segment,
                   r.value_tier) for n, r in v.items()}
    assert figures == {
        "A": (1, 3, Decimal("600.00"), "443", "loyal", "general"),
        "B": (5, 1, Decimal("50.00"), "312", "about_to_sleep", "general"),
        "C": (30, 2, Decimal("2000.00"), "234", "at_risk", "general"),
        "D": (200, 1, Decimal("10.00"), "111", "hibernating", "dormant"),
        "E": (400, 0, Decimal("0.00"), "", "", "dormant"),
        "F": (None, 0, Decimal("0.00"), "", "", "no_purchases"),
    }
    assert (run.mode, run.scored, run.recomputed, run.changed) == ("full", 4, 6, 6)
    assert run.boundaries["frequency"] == [2, 2, 3, None]
    assert run.boundaries["recency_days"] == [30, 5, 1, None]
    assert AuditEntry.objects.filter(action="scoring.run", object_id=str(run.pk)).count() == 1


def test_customers_without_purchases_get_a_row_in_full_and_incremental_runs(book, rep):
    services.rfm_score(actor=SYSTEM, full=True)
    assert CustomerValue.objects.count() == len(book)  # every active customer, bought or not
    f = values(book)["F"]
    assert (f.r_score, f.f_score, f.m_score, f.rfm_segment, f.value_tier) == (
        None, None, None, "", "no_purchases")
    # A newcomer without orders gets its row from an incremental run; its first purchase
    # moves it out of "no purchases".
    newcomer = CustomerFactory(owner=rep)
    run = services.rfm_score(actor=SYSTEM)
    assert run.mode == "incremental"
    row = CustomerValue.objects.get(customer=newcomer)
    assert (row.rfm_code, row.value_tier) == ("", "no_purchases")
    add_order(newcomer, days_ago=1, amount="80")
    services.rfm_score(actor=SYSTEM)
    row.refresh_from_db()
    assert row.rfm_code != "" and row.value_tier != "no_purchases"
    assert CustomerValueChange.objects.filter(customer=newcomer, old_tier="no_purchases",
                                              new_tier=row.value_tier).count() == 1


def test_tier_thresholds_are_configurable(book):
    services.scoring_settings_update(actor=SYSTEM, changes={
        "high_spend_threshold": Decimal("1500"), "potential_min_r": 3})
    services.rfm_score(actor=SYSTEM, full=True)
    tiers = {n: r.value_tier for n, r in values(book).items()}
    assert tiers == {"A": "general", "B": "potential", "C": "high_value", "D": "dormant",
                     "E": "dormant", "F": "no_purchases"}
    entry = AuditEntry.objects.get(action="scoring.settings")
    assert entry.changes["high_spend_threshold"] == {"before": "50000.00", "after": "1500"}


def test_window_is_configurable(book):
    services.scoring_settings_update(actor=SYSTEM, changes={"window_days": 500})
    services.rfm_score(actor=SYSTEM)
    e = values(book)["E"]
    assert (e.frequency, e.monetary, e.window_days, e.r_score) == (1, Decimal("900.00"), 500, 1)


def test_settings_are_validated(db):
    with pytest.raises(ValidationFailed) as caught:
        services.scoring_settings_update(actor=SYSTEM, changes={"high_min_score": 9})
    assert list(caught.value.details) == ["high_min_score"]
    with pytest.raises(ValidationFailed) as caught:
        services.scoring_settings_update(actor=SYSTEM, changes={"colour": "red"})
    assert caught.value.details == {"colour": ["Unknown setting."]}


def test_ties_get_equal_scores(db, rep):
    twins = [CustomerFactory(owner=rep) for _ in range(2)]
    others = [CustomerFactory(owner=rep) for _ in range(3)]
    for c in twins:
        add_order(c, days_ago=7, amount="300")
    for i, c in enumerate(others):
        add_order(c, days_ago=50 + i, amount=str(10 + i))
    services.rfm_score(actor=SYSTEM, full=True)
    a, b = (CustomerValue.objects.get(customer=c) for c in twins)
    assert (a.r_score, a.f_score, a.m_score) == (b.r_score, b.f_score, b.m_score) == (4, 1, 4)


def test_incremental_equals_full_and_touches_only_changed(book, rep):
    first = services.rfm_score(actor=SYSTEM, full=True)
    assert first.mode == "full"
    untouched = services.rfm_score(actor=SYSTEM)
    assert (untouched.mode, untouched.recomputed, untouched.changed) == ("incremental", 0, 0)

    add_order(book["B"], days_ago=0.5, amount="4000")
    order_update_status(actor=SYSTEM, order=book["C"].orders.first(), status="returned")
    newcomer = CustomerFactory(owner=rep)
    add_order(newcomer, days_ago=3, amount="80")
    run = services.rfm_score(actor=SYSTEM)
    assert run.mode == "incremental"
    assert run.recomputed == 3
    incremental = table()
    again = services.rfm_score(actor=SYSTEM, full=True)
    assert again.changed == 0
    assert table() == incremental
    c = CustomerValue.objects.get(customer=book["C"])
    assert (c.frequency, c.monetary) == (1, Decimal("1000.00"))


def test_a_new_day_means_a_full_run(book):
    services.rfm_score(actor=SYSTEM, full=True)
    run = services.rfm_score(actor=SYSTEM, now=timezone.now() + timezone.timedelta(days=1))
    assert run.mode == "full"
    assert values(book)["A"].recency_days == 2


def test_history_only_when_segment_or_tier_changes(book):
    services.rfm_score(actor=SYSTEM, full=True)
    assert CustomerValueChange.objects.count() == 0
    services.rfm_score(actor=SYSTEM, full=True)
    assert CustomerValueChange.objects.count() == 0
    add_order(book["D"], days_ago=1, amount="90000")
    services.rfm_score(actor=SYSTEM)
    changes = {(c.customer_id, c.old_tier, c.new_tier, c.old_segment, c.new_segment)
               for c in CustomerValueChange.objects.all()}
    d = values(book)["D"]
    assert d.value_tier == "high_value"
    assert (book["D"].pk, "dormant", "high_value", "hibernating", d.rfm_segment) in changes
    assert all(old_tier != new_tier or old_seg != new_seg
               for _pk, old_tier, new_tier, old_seg, new_seg in changes)


def test_interaction_keeps_a_customer_awake(book):
    InteractionFactory(customer=book["E"], occurred_at=timezone.now())
    services.rfm_score(actor=SYSTEM, full=True)
    assert values(book)["E"].value_tier == "general"


def test_merged_customers_lose_their_row(book):
    services.rfm_score(actor=SYSTEM, full=True)
    book["F"].status = "merged"
    book["F"].save(update_fields=["status"])
    run = services.rfm_score(actor=SYSTEM, full=True)
    assert not CustomerValue.objects.filter(customer=book["F"]).exists()
    assert run.changed == 1


def test_lifecycle_rules(book, rep):
    services.scoring_settings_update(actor=SYSTEM, changes={"loyal_min_orders": 3,
                                                            "churn_days": 180})
    book["F"].lifecycle_stage = "prospect"
    book["F"].save(update_fields=["lifecycle_stage"])
    run = services.rfm_score(actor=SYSTEM, full=True)
    stages = {n: c.__class__.objects.get(pk=c.pk).lifecycle_stage for n, c in book.items()}
    assert stages == {"A": "loyal", "B": "customer", "C": "customer", "D": "churned",
                      "E": "churned", "F": "prospect"}
    assert run.lifecycle_changes == 5
    history = {(h.customer_id, h.from_stage, h.to_stage, h.rule, h.by_user_id)
               for h in LifecycleStageChange.objects.all()}
    assert (book["A"].pk, "lead", "loyal", "repeat_orders", None) in history
    assert (book["D"].pk, "lead", "churned", "no_order", None) in history
    assert (book["B"].pk, "lead", "customer", "first_order", None) in history
    # a churned customer buying again is a customer again; the second run changes nothing else
    add_order(book["D"], days_ago=0.1, amount="10")
    run = services.rfm_score(actor=SYSTEM)
    assert run.lifecycle_changes == 1
    assert book["D"].__class__.objects.get(pk=book["D"].pk).lifecycle_stage == "customer"


def test_lifecycle_rules_can_be_switched_off(book):
    services.scoring_settings_update(actor=SYSTEM, changes={"lifecycle_rules_enabled": False})
    run = services.rfm_score(actor=SYSTEM, full=True)
    assert run.lifecycle_changes == 0
    assert LifecycleStageChange.objects.count() == 0


def test_lifecycle_set_by_hand(customer, rep, actor_for):
    row = services.lifecycle_set(actor=actor_for(rep), customer=customer, stage="prospect",
                                 note="展会上感兴趣")
    assert row.lifecycle_stage == "prospect"
    change = LifecycleStageChange.objects.get()
    assert (change.from_stage, change.to_stage, change.by_user, change.rule, change.note) == (
        "lead", "prospect", rep, "", "展会上感兴趣")
    entry = AuditEntry.objects.filter(action="customer.update", object_id=str(customer.pk)).get()
    assert entry.changes["lifecycle_stage"] == {"before": "lead", "after": "prospect"}


def test_lifecycle_set_refuses_bad_stage_and_other_peoples_customers(
        customer, others_customer, make_user, rep, actor_for):
    from kehu.core.errors import NotFound

    outsider, reader = make_user("sales_rep"), make_user("read_only")
    before = db_snapshot()
    with pytest.raises(ValidationFailed) as caught:
        services.lifecycle_set(actor=actor_for(rep), customer=customer, stage="vip")
    assert caught.value.details == {"lifecycle_stage": ["Choose a valid stage."]}
    with pytest.raises(NotFound):
        services.lifecycle_set(actor=actor_for(outsider), customer=others_customer,
                               stage="loyal")
    with pytest.raises(PermissionDenied):
        services.lifecycle_set(actor=actor_for(reader), customer=customer, stage="loyal")
    assert LifecycleStageChange.objects.count() == 0
    assert db_snapshot() == before
    customer.refresh_from_db()
    assert customer.lifecycle_stage == "lead"


def test_scoring_needs_configure_permission(book, make_user, actor_for):
    rep, manager = actor_for(make_user("sales_rep")), actor_for(make_user("sales_manager"))
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        services.rfm_score(actor=rep)
    with pytest.raises(PermissionDenied):
        services.scoring_settings_update(actor=manager, changes={"window_days": 10})
    assert ScoringRun.objects.count() == 0
    assert CustomerValue.objects.count() == 0
    assert db_snapshot() == before
    run = services.rfm_score(actor=actor_for(make_user("marketer")))
    assert run.scored == 4
