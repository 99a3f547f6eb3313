"""Deals: creation defaults, stage moves with history, won/lost rules, refused moves change
nothing, the order of a won deal, pipelines with their stages."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from kehu.core.actor import Actor
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.models import DomainEvent
from kehu.pipeline import services
from kehu.pipeline.models import Deal, DealStageHistory, Pipeline
from tests.factories import ProductFactory, create_customer
from tests.pipeline.helpers import make_deal, stage, today

pytestmark = pytest.mark.django_db


@pytest.fixture
def rep(make_user):
    return make_user("sales_rep")


def test_default_pipeline_has_the_six_stages():
    pipeline = Pipeline.objects.get(is_default=True)
    assert [(s.name, s.probability, s.kind) for s in pipeline.stages.all()] == [
        ("初步接洽", 10, "open"), ("需求确认", 30, "open"), ("方案报价", 50, "open"),
        ("谈判审批", 70, "open"), ("赢单", 100, "won"), ("输单", 0, "lost")]


def test_create_takes_defaults_from_the_first_stage_and_the_owner(rep):
    deal = make_deal(rep, amount="12345.678")
    deal.refresh_from_db()
    assert deal.stage.name == "初步接洽" and deal.probability == 10
    assert deal.amount == Decimal("12345.68") and deal.status == "open"
    assert deal.owner == rep and deal.forecast_category == "pipeline"
    history = list(DealStageHistory.objects.filter(deal=deal))
    assert len(history) == 1 and history[0].exited_at is None
    assert DomainEvent.objects.filter(type="deal.created", object_id=str(deal.pk)).exists()


def test_amount_from_lines_and_contacts_with_roles(rep):
    org = create_customer(owner=rep, name="华东机械有限公司", kind="organisation")
    person = create_customer(owner=rep, name="李娜")
    from kehu.customers.services import contact_link_save

    contact_link_save(actor=Actor(user=rep), organisation=org, person=person,
                      job_title="采购经理", decision_role="decision_maker")
    product = ProductFactory(unit_price="199.00")
    deal = services.deal_create(
        actor=Actor(user=rep), customer=org, title="打印机采购",
        expected_close_date=today(), lines=[{"product": product.pk, "quantity": 3}],
        contacts=[{"person": person.pk, "decision_role": "decision_maker"}])
    assert deal.amount == Decimal("597.00")
    assert [(c.person_id, c.decision_role) for c in deal.contacts.all()] == [
        (person.pk, "decision_maker")]
    stranger = create_customer(owner=rep, name="王五")
    with pytest.raises(ValidationFailed) as exc:
        services.deal_update(actor=Actor(user=rep), deal=deal, changes={
            "contacts": [{"person": stranger.pk}]})
    assert "contacts[0]" in exc.value.details


def test_move_closes_the_old_stay_and_opens_the_next(rep):
    deal = make_deal(rep)
    services.deal_move(actor=Actor(user=rep), deal=deal, stage=stage("方案报价"))
    deal.refresh_from_db()
    assert deal.probability == 50 and deal.forecast_category == "best_case"
    stays = list(DealStageHistory.objects.filter(deal=deal).order_by("id"))
    assert [s.stage.name for s in stays] == ["初步接洽", "方案报价"]
    assert stays[0].exited_at is not None and stays[1].exited_at is None
    event = DomainEvent.objects.get(type="deal.stage_changed")
    assert event.changes["stage_name"] == {"before": "初步接洽", "after": "方案报价"}


def test_win_is_final_and_emits_deal_won(rep):
    deal = make_deal(rep)
    services.deal_move(actor=Actor(user=rep), deal=deal, stage=stage("赢单"))
    deal.refresh_from_db()
    assert deal.status == "won" and deal.probability == 100 and deal.closed_at is not None
    assert DomainEvent.objects.filter(type="deal.won", object_id=str(deal.pk)).count() == 1
    before = DomainEvent.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        services.deal_move(actor=Actor(user=rep), deal=deal, stage=stage("需求确认"))
    assert "stage" in exc.value.details
    deal.refresh_from_db()
    assert deal.stage.name == "赢单" and DomainEvent.objects.count() == before


def test_lost_needs_a_reason_and_nothing_changes_without_it(rep):
    deal = make_deal(rep)
    with pytest.raises(ValidationFailed) as exc:
        services.deal_move(actor=Actor(user=rep), deal=deal, stage=stage("输单"))
    assert exc.value.details == {"lost_reason": ["Say why the deal was lost."]}
    deal.refresh_from_db()
    assert deal.status == "open" and DealStageHistory.objects.filter(deal=deal).count() == 1
    services.deal_move(actor=Actor(user=rep), deal=deal, stage=stage("输单"),
                       lost_reason="价格高于竞品")
    deal.refresh_from_db()
    assert deal.status == "lost" and deal.lost_reason == "价格高于竞品" and deal.probability == 0
    assert DomainEvent.objects.filter(type="deal.lost").count() == 1
    # a lost deal may be reopened; the reason goes
    services.deal_move(actor=Actor(user=rep), deal=deal, stage=stage("需求确认"))
    deal.refresh_from_db()
    assert deal.status == "open" and deal.lost_reason == "" and deal.closed_at is None


def test_same_stage_and_foreign_stage_refused(rep):
    deal = make_deal(rep)
    with pytest.raises(ValidationFailed):
        services.deal_move(actor=Actor(user=rep), deal=deal, stage=stage("初步接洽"))
    other = services.pipeline_create(actor=Actor.system(via="system"), name="渠道", stages=[
        {"name": "报备", "probability": 20}, {"name": "成交", "probability": 100, "kind": "won"},
        {"name": "丢单", "probability": 0, "kind": "lost"}])
    with pytest.raises(ValidationFailed) as exc:
        services.deal_move(actor=Actor(user=rep), deal=deal, stage=other.stages.first())
    assert "another pipeline" in exc.value.details["stage"][0]


def test_closed_deal_amount_is_fixed(rep):
    deal = make_deal(rep)
    services.deal_move(actor=Actor(user=rep), deal=deal, stage=stage("赢单"))
    with pytest.raises(ValidationFailed):
        services.deal_update(actor=Actor(user=rep), deal=deal, changes={"amount": "1.00"})
    deal.refresh_from_db()
    assert deal.amount == Decimal("10000.00")


def test_out_of_scope_deal_is_not_found_and_unchanged(make_user, rep):
    other = make_user("sales_rep")
    deal = make_deal(other)
    with pytest.raises(NotFound):
        services.deal_move(actor=Actor(user=rep), deal=deal, stage=stage("需求确认"))
    with pytest.raises(NotFound):
        services.deal_update(actor=Actor(user=rep), deal=deal, changes={"title": "x"})
    deal.refresh_from_db()
    assert deal.stage.name == "初步接洽" and deal.title == "ERP 项目"


def test_read_only_may_not_write(make_user, rep):
    viewer = make_user("read_only")
    customer = create_customer(owner=rep)
    with pytest.raises(PermissionDenied):
        services.deal_create(actor=Actor(user=viewer), customer=customer, title="x",
                             amount="1", expected_close_date=today())
    assert not Deal.objects.exists()


def test_won_deal_makes_its_order_once(rep):
    product = ProductFactory(unit_price="50.00")
    deal = make_deal(rep, amount=None, lines=[{"product": product.pk, "quantity": 4}])
    with pytest.raises(ValidationFailed):
        services.deal_create_order(actor=Actor(user=rep), deal=deal)
    services.deal_move(actor=Actor(user=rep), deal=deal, stage=stage("赢单"))
    order = services.deal_create_order(actor=Actor(user=rep), deal=deal)
    assert order.total_amount == Decimal("200.00") and order.customer_id == deal.customer_id
    deal.refresh_from_db()
    assert deal.order_id == order.pk
    with pytest.raises(ValidationFailed):
        services.deal_create_order(actor=Actor(user=rep), deal=deal)


def test_pipeline_stage_rules(rep, make_user):
    with pytest.raises(PermissionDenied):  # a rep does not configure pipelines
        services.pipeline_create(actor=Actor(user=rep), name="x", stages=[])
    actor = Actor(user=make_user("sales_manager"))
    with pytest.raises(ValidationFailed) as exc:
        services.pipeline_create(actor=actor, name="坏", stages=[
            {"name": "A", "probability": 10}, {"name": "A", "probability": 120}])
    assert "stages[1]" in exc.value.details and "stages" in exc.value.details
    assert not Pipeline.objects.filter(name="坏").exists()
    pipeline = Pipeline.objects.get(is_default=True)
    deal = make_deal(rep)
    stages = [{"id": s.pk, "name": s.name, "probability": s.probability, "kind": s.kind,
               "forecast_category": s.forecast_category} for s in pipeline.stages.all()]
    # removing the stage that holds the deal is refused
    with pytest.raises(ValidationFailed):
        services.pipeline_update(actor=actor, pipeline=pipeline, name=pipeline.name,
                                 stages=stages[1:], is_default=True)
    stages[1]["name"] = "需求确认（已访谈）"
    services.pipeline_update(actor=actor, pipeline=pipeline, name=pipeline.name,
                             stages=stages, is_default=True)
    assert pipeline.stages.get(pk=stages[1]["id"]).name == "需求确认（已访谈）"
    deal.refresh_from_db()
    assert deal.stage.name == "初步接洽"
    assert deal.expected_close_date >= today() - dt.timedelta(days=1)


def test_days_in_stage_and_stalled_deals(rep):
    from django.utils import timezone

    from kehu.pipeline import selectors

    fresh = make_deal(rep, title="新项目")
    old = make_deal(rep, title="老项目")
    Deal.objects.filter(pk=old.pk).update(
        stage_entered_at=timezone.now() - dt.timedelta(days=15))  # 初步接洽: stalled at 14
    pipeline = Pipeline.objects.get(is_default=True)
    cards = {d["title"]: d for d in selectors.board(rep, pipeline)[0].deals}
    assert (cards["老项目"]["days_in_stage"], cards["老项目"]["stalled"]) == (15, True)
    assert (cards["新项目"]["days_in_stage"], cards["新项目"]["stalled"]) == (0, False)
    assert [d.pk for d in selectors.deal_list(rep, stalled=True)] == [old.pk]
    assert fresh.pk != old.pk
