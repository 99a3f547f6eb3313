"""Role home pages in a real browser at phone width (390 px): a sales rep, a manager, a
service agent, a data steward, compliance and an administrator each land on their own
sections, labelled in Chinese, with no horizontal overflow; the service desk draws its
board's charts (non-empty canvas)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from kehu.core.actor import Actor
from kehu.interactions.models import FollowUpTask
from kehu.pipeline.models import Deal
from kehu.transactions import ticket_services
from kehu.transactions.models import Ticket
from tests.browser.conftest import login
from tests.factories import PASSWORD, TeamFactory, create_customer
from tests.pipeline.helpers import make_deal

pytestmark = pytest.mark.django_db(transaction=True)

# role -> (username, the sections its home shows, a Chinese heading it carries)
ROLES = {
    "sales_rep": ("rep", ["tasks", "stalled_deals", "win_back"], "我的停滞商机"),
    "sales_manager": ("manager", ["alerts", "team"], "本月团队"),
    "service_agent": ("agent", ["queue"], "我的工单队列与 SLA"),
    "data_steward": ("steward", ["quality", "duplicates"], "重复客户队列"),
    "compliance_auditor": ("auditor", ["privacy", "audit_alerts"], "审计告警"),
    "admin": ("admin", ["system", "errors"], "系统状态"),
}


@pytest.fixture
def office(make_user):
    team = TeamFactory(name="华东销售组")
    users = {role: make_user(role, username=name, team=team)
             for role, (name, _sections, _heading) in ROLES.items()}
    rep = users["sales_rep"]
    customer = create_customer(owner=rep, team=team, name="张伟")
    deal = make_deal(rep, customer=customer, title="ERP 升级")
    Deal.objects.filter(pk=deal.pk).update(stage_entered_at=timezone.now() - dt.timedelta(days=60))
    FollowUpTask.objects.create(customer=customer, assignee=rep, title="回访报价",
                                due_date=timezone.localdate() - dt.timedelta(days=2))
    agent = users["service_agent"]
    ticket = ticket_services.ticket_open(actor=Actor(user=agent), customer=customer,
                                         kind="service_request", subject="打印机卡纸",
                                         assignee=agent)
    Ticket.objects.filter(pk=ticket.pk).update(status="resolved", resolved_at=timezone.now(),
                                               satisfaction=5)
    ticket_services.ticket_open(actor=Actor(user=agent), customer=customer,
                                kind="inquiry", subject="发票抬头", assignee=agent)
    return users


def _overflow(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_each_role_lands_on_its_sections_at_phone_width(phone, office):
    for role, (username, sections, heading) in ROLES.items():
        phone.context.clear_cookies()
        login(phone, username, PASSWORD)
        phone.goto("/")
        holder = phone.get_by_test_id("home-sections")
        expect(holder).to_be_visible()
        keys = phone.eval_on_selector_all(
            "[data-testid=home-sections] > section",
            "els => els.map(el => el.dataset.testid.replace('section-', ''))")
        assert keys == sections, role
        expect(holder).to_contain_text(heading)
        assert _overflow(phone) <= 0, f"{role}: the home page is wider than the screen"
    # The rep's stalled deal opens the deal list showing it.
    phone.context.clear_cookies()
    login(phone, "rep", PASSWORD)
    phone.goto("/")
    expect(phone.get_by_test_id("figure-stalled_deals")).to_contain_text("1")
    phone.get_by_test_id("figure-stalled_deals").click()
    expect(phone.locator("main")).to_contain_text("ERP 升级")


def test_service_desk_draws_its_board(phone, office):
    login(phone, "agent", PASSWORD)
    phone.goto("/service/")
    board = phone.get_by_test_id("service-board")
    board.scroll_into_view_if_needed()
    expect(board.get_by_test_id("figure-open")).to_contain_text("1")
    chart = board.get_by_test_id("chart-csat")
    expect(chart.locator("canvas")).to_have_count(1)
    painted = chart.evaluate("""box => {
        const canvas = box.querySelector('canvas');
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) return true; }
        return false; }""")
    assert painted
    expect(board).to_contain_text("客户满意度趋势")
    assert _overflow(phone) <= 0
