"""Insights in a real browser: the card's value layer shows churn risk with its factors and
next best actions (one click makes a task); the churn-warning list."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kehu.core.actor import Actor
from kehu.insights import services
from kehu.interactions.models import FollowUpTask
from kehu.scoring.services import rfm_score
from kehu.transactions.models import Ticket
from tests.browser.conftest import login
from tests.factories import PASSWORD, CustomerFactory, TeamFactory
from tests.insights.book import order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def at_risk(make_user):
    team = TeamFactory(name="华东销售组")
    rep = make_user("sales_rep", username="lina", display_name="李娜", team=team)
    now = timezone.now()
    customer = CustomerFactory(name="沉睡大客户", owner=rep, team=team)
    order(customer.pk, now - timedelta(days=400), amount="90000")
    order(customer.pk, now - timedelta(days=200), amount="80000")
    Ticket.objects.create(customer=customer, number="C-9", kind="complaint",
                          subject="打印机卡纸", opened_at=now - timedelta(days=2))
    system = Actor.system(via="system")
    rfm_score(actor=system, full=True)
    services.churn_score(actor=system, now=now)
    return rep, customer


def test_card_shows_churn_risk_factors_and_next_best_actions(page, at_risk):
    rep, customer = at_risk
    login(page, "lina", PASSWORD)
    page.goto(f"/customers/{customer.pk}/")
    box = page.get_by_test_id("insights")
    expect(box.get_by_test_id("churn-risk")).to_contain_text("高风险")
    expect(box.get_by_test_id("churn-factors")).to_contain_text("天未购买")
    actions = box.get_by_test_id("next-actions")
    expect(actions).to_contain_text("打印机卡纸")
    box.get_by_test_id("action-task-complaint").click()
    expect(page.get_by_test_id("task-created")).to_be_visible()
    assert FollowUpTask.objects.filter(customer=customer, title__contains="打印机卡纸").exists()


def test_churn_warning_list(page, at_risk):
    rep, customer = at_risk
    login(page, "lina", PASSWORD)
    page.goto("/insights/churn/")
    table = page.get_by_test_id("churn-list")
    expect(table).to_contain_text("沉睡大客户")
    expect(table).to_contain_text("李娜")
    expect(page.get_by_test_id("churn-overview")).to_contain_text("高风险")
    table.get_by_test_id("churn-task").first.click()
    expect(table.get_by_test_id("task-created")).to_be_visible()
    assert FollowUpTask.objects.filter(customer=customer).count() == 1
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/insights/churn/")
    expect(page.get_by_test_id("churn-list")).to_contain_text("沉睡大客户")
