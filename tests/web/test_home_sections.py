"""Role home pages: each role lands on its own sections; every figure equals an independent
count on a small fixture, is scoped (a rep sees only their own), and opens a list holding
exactly that many rows. The audit log is on the audit page, never on home."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.core.audit import audit_record
from kehu.core.models import Job
from kehu.interactions.models import FollowUpTask, Interaction
from kehu.pipeline.models import Deal
from kehu.privacy.models import PrivacyRequest
from kehu.scoring.models import CustomerValue
from kehu.service.models import TicketSLA
from kehu.transactions import ticket_services
from kehu.web.home_sections import focus_of
from tests.factories import TeamFactory, create_customer
from tests.pipeline.helpers import make_deal

pytestmark = pytest.mark.django_db


def _home(client, user):
    client.force_login(user)
    response = client.get(reverse("web:home"))
    assert response.status_code == 200
    return response.context["home"], response.content.decode()


def _section(home, key):
    return next(s for s in home.sections if s.key == key)


def _figure(home, section, key):
    return next(f for f in _section(home, section).figures if f.key == key)


def _list_size(client, url) -> int:
    """How many rows the list behind a figure holds."""
    response = client.get(url)
    assert response.status_code == 200, url
    context = response.context
    if "rows" in context and "headers" in context and "columns" in context:  # customers
        return len(context["rows"])
    page = context.get("page")
    if page is not None and hasattr(page, "paginator"):
        return page.paginator.count
    if "jobs" in context:
        return len(context["jobs"])
    if "total" in context:  # the duplicate queue
        return context["total"]
    raise AssertionError(f"no list on {url}")


@pytest.fixture
def book(make_user):
    """Two reps in one team with a manager; each rep has deals, tasks and scored customers."""
    team = TeamFactory(name="华东销售组")
    manager = make_user("sales_manager", team=team, display_name="伍婷婷")
    rep = make_user("sales_rep", team=team, display_name="李娜")
    other = make_user("sales_rep", team=team, display_name="王强")
    now = timezone.now()
    today = timezone.localdate()
    customers = {}
    for owner, names in ((rep, ["张伟", "刘洋", "陈静"]), (other, ["王芳", "赵磊"])):
        for name in names:
            customers[name] = create_customer(owner=owner, team=team, name=name)
    tiers = {"张伟": ("dormant", "hibernating", "500"), "刘洋": ("general", "at_risk", "900"),
             "陈静": ("high_value", "champions", "5000"), "王芳": ("dormant", "at_risk", "700"),
             "赵磊": ("potential", "cant_lose", "300")}
    for name, (tier, segment, spend) in tiers.items():
        CustomerValue.objects.create(customer=customers[name], value_tier=tier,
                                     rfm_segment=segment, monetary=Decimal(spend), scored_at=now)
    # Deals: the rep's two open deals, one sitting in its stage for 60 days; the other rep's
    # stalled deal too (the manager sees both, the rep only theirs).
    stalled = make_deal(rep, customer=customers["张伟"], title="ERP 升级")
    make_deal(rep, customer=customers["刘洋"], title="新打印机")
    theirs = make_deal(other, customer=customers["王芳"], title="年度维保")
    Deal.objects.filter(pk__in=[stalled.pk, theirs.pk]).update(
        stage_entered_at=now - dt.timedelta(days=60))
    # Tasks: the rep has one overdue and one today; the other rep two overdue.
    FollowUpTask.objects.create(customer=customers["张伟"], assignee=rep, title="回访报价",
                                due_date=today - dt.timedelta(days=3))
    FollowUpTask.objects.create(customer=customers["刘洋"], assignee=rep, title="发合同",
                                due_date=today)
    for title in ("催款", "寄样品"):
        FollowUpTask.objects.create(customer=customers["王芳"], assignee=other, title=title,
                                    due_date=today - dt.timedelta(days=1))
    for _ in range(3):
        Interaction.objects.create(customer=customers["王芳"], kind="call", actor=other,
                                   occurred_at=now, summary="电话回访")
    return {"team": team, "manager": manager, "rep": rep, "other": other,
            "customers": customers, "stalled": stalled}


def test_focus_follows_the_built_in_role_then_the_permissions(make_user):
    from kehu.accounts.models import Role

    assert [focus_of(make_user(code)) for code in (
        "sales_rep", "sales_manager", "marketer", "service_agent", "data_steward",
        "compliance_auditor", "admin", "read_only")] == [
        "rep", "manager", "marketer", "agent", "steward", "compliance", "admin", "general"]
    custom = Role.objects.create(code="hotline", name="热线", record_scope="all",
                                 permissions=["customer.view", "ticket.manage"])
    from tests.factories import UserFactory

    assert focus_of(UserFactory(role=custom)) == "agent"
    assert focus_of(make_user("read_only", is_superuser=True)) == "admin"


def test_rep_sees_own_stalled_deals_and_customers_to_win_back(client, book):
    rep = book["rep"]
    home, page = _home(client, rep)
    assert home.focus == "rep"
    assert [s.key for s in home.sections] == ["tasks", "stalled_deals", "win_back"]
    today = timezone.localdate()
    for key, tab, expected in (("tasks_today", "today", FollowUpTask.objects.filter(
            assignee=rep, status="open", due_date=today).count()),
            ("tasks_overdue", "overdue", FollowUpTask.objects.filter(
                assignee=rep, status="open", due_date__lt=today).count())):
        figure = _figure(home, "tasks", key)
        assert figure.value == expected == 1 and f"tab={tab}" in figure.url
        assert _list_size(client, figure.url) == 1
    assert [row[3].text for row in _section(home, "tasks").rows] == ["回访报价", "发合同"]
    assert "催款" not in page  # the other rep's task
    # Independent count: the rep's open deals in their stage at least the stage's limit.
    now = timezone.now()
    expected = sum(1 for d in Deal.objects.filter(owner=rep, status="open").select_related(
        "stage") if (now - d.stage_entered_at).days >= d.stage.stalled_days)
    stalled = _figure(home, "stalled_deals", "stalled_deals")
    assert stalled.value == expected == 1
    assert _list_size(client, stalled.url) == 1
    assert [row[0].text for row in _section(home, "stalled_deals").rows] == ["ERP 升级"]
    # Win back: only the rep's own book (王芳 and 赵磊 are the other rep's).
    for key, code in (("value_tier", "dormant"), ("rfm_segment", "at_risk"),
                      ("rfm_segment", "cant_lose")):
        figure = _figure(home, "win_back", f"win_back_{code}")
        independent = CustomerValue.objects.filter(customer__owner=rep, **{key: code}).count()
        assert figure.value == independent, code
        assert _list_size(client, figure.url) == independent, code
    assert _figure(home, "win_back", "win_back_dormant").value == 1
    assert _figure(home, "win_back", "win_back_cant_lose").value == 0
    assert [row[0].text for row in _section(home, "win_back").rows] == ["刘洋", "张伟"]
    assert "王芳" not in page and "年度维保" not in page
    assert "我的停滞商机" in page and "需要挽回的客户" in page
    assert "win_back_p_alive" not in [f.key for f in _section(home, "win_back").figures]


def test_rep_win_back_counts_churn_probability_once_predicted(client, book):
    from kehu.prediction.models import CustomerPrediction

    rep, now = book["rep"], timezone.now()
    for name, p_alive in (("张伟", 0.2), ("刘洋", 0.8), ("王芳", 0.1)):
        CustomerPrediction.objects.create(customer=book["customers"][name], p_alive=p_alive,
                                          expected_purchases_90d=0.5, scored_at=now)
    home, _page = _home(client, rep)
    figure = _figure(home, "win_back", "win_back_p_alive")
    assert figure.value == CustomerPrediction.objects.filter(
        customer__owner=rep, p_alive__lt=0.5).count() == 1  # not 王芳: another rep's
    assert _list_size(client, figure.url) == 1


def test_manager_sees_team_and_alerts(client, book):
    manager = book["manager"]
    home, page = _home(client, manager)
    assert home.focus == "manager"
    assert [s.key for s in home.sections] == ["alerts", "team"]
    overdue = _figure(home, "alerts", "team_overdue")
    today = timezone.localdate()
    assert overdue.value == FollowUpTask.objects.filter(
        status="open", due_date__lt=today).count() == 3
    assert _list_size(client, overdue.url) == 3
    stalled = _figure(home, "alerts", "team_stalled")
    assert stalled.value == 2 and _list_size(client, stalled.url) == 2
    team = _section(home, "team")
    rows = {row[0].text: row for row in team.rows}
    assert set(rows) >= {"李娜", "王强", "伍婷婷"}
    # customers, overdue tasks, follow-ups logged this month
    assert [rows["李娜"][i].text for i in (1, 2, 3)] == ["3", "1", "0"]
    assert [rows["王强"][i].text for i in (1, 2, 3)] == ["2", "2", "3"]
    assert _list_size(client, rows["王强"][1].url) == 2
    assert _list_size(client, rows["王强"][2].url) == 2
    assert "告警" in page and "本月团队" in page


def test_marketer_sees_segments_tiers_and_channels(client, book, make_user):
    from kehu.segments.models import Segment

    marketer = make_user("marketer")
    Segment.objects.create(name="高价值华东", definition={"all": []}, size=12,
                           computed_at=timezone.now())
    home, page = _home(client, marketer)
    assert [s.key for s in home.sections] == ["segments", "tiers", "channels"]
    assert _figure(home, "segments", "segments").value == 1
    assert _section(home, "segments").rows[0][0].text == "高价值华东"
    dormant = _figure(home, "tiers", "tier_dormant")
    assert dormant.value == CustomerValue.objects.filter(value_tier="dormant").count() == 2
    assert _list_size(client, dormant.url) == 2
    channels = _section(home, "channels")
    total = sum(int(row[1].text) for row in channels.rows)
    assert total == 5  # the marketer sees every customer
    assert "客户分群" in page and "价值分层" in page


def _ticket(agent, customer, subject, *, breached=False, assignee=None):
    ticket = ticket_services.ticket_open(actor=Actor(user=agent), customer=customer,
                                         kind="service_request", subject=subject,
                                         assignee=assignee or agent)
    now = timezone.now()
    TicketSLA.objects.update_or_create(ticket=ticket, defaults={
        "computed_at": now, "resolution_target": 3600,
        "resolution_started_at": now - dt.timedelta(hours=2),
        "due_at": now - dt.timedelta(minutes=5) if breached else now + dt.timedelta(days=2),
        "resolution_due_at": now - dt.timedelta(minutes=5) if breached else None,
        "attention_at": now - dt.timedelta(minutes=30) if breached else None})
    return ticket


def test_agent_sees_own_queue_and_sla(client, book, make_user):
    agent = make_user("service_agent", display_name="客服小周")
    colleague = make_user("service_agent")
    customers = book["customers"]
    _ticket(agent, customers["张伟"], "打印机卡纸", breached=True)
    _ticket(agent, customers["刘洋"], "发票重开")
    _ticket(colleague, customers["王芳"], "退货", breached=True, assignee=colleague)
    home, page = _home(client, agent)
    assert [s.key for s in home.sections] == ["queue"]
    mine = _figure(home, "queue", "tickets_mine")
    breached = _figure(home, "queue", "tickets_breached")
    assert mine.value == 2 and _list_size(client, mine.url) == 2
    independent = sum(1 for s in TicketSLA.objects.filter(ticket__status="open")
                      if s.due_at and s.due_at <= timezone.now())
    assert breached.value == independent == 2 and _list_size(client, breached.url) == 2
    rows = _section(home, "queue").rows
    assert [row[2].text for row in rows] == ["打印机卡纸", "发票重开"]  # most urgent first
    assert rows[0][4].alert and not rows[1][4].alert
    assert "我的工单队列与 SLA" in page


def test_steward_sees_quality_and_duplicates(client, book, make_user):
    from kehu.identity.models import CandidateMember, DuplicateCandidate
    from kehu.quality.models import CustomerQuality

    steward = make_user("data_steward")
    now = timezone.now()
    for name, score in (("张伟", 30), ("刘洋", 45), ("陈静", 90)):
        CustomerQuality.objects.create(customer=book["customers"][name], score=score,
                                       computed_at=now)
    candidate = DuplicateCandidate.objects.create(status="pending", key="王芳|赵磊",
                                                  probability=0.9)
    for name in ("王芳", "赵磊"):
        CandidateMember.objects.create(candidate=candidate, customer=book["customers"][name])
    home, page = _home(client, steward)
    assert [s.key for s in home.sections] == ["quality", "duplicates"]
    low = _figure(home, "quality", "quality_low")
    assert low.value == CustomerQuality.objects.filter(score__lt=50).count() == 2
    assert _list_size(client, low.url) == 2
    assert _figure(home, "quality", "quality_average").value == 55.0
    assert _figure(home, "quality", "quality_unscored").value == 5 - 3
    duplicates = _figure(home, "duplicates", "duplicates")
    assert duplicates.value == 1 and _list_size(client, duplicates.url) == 1


def test_compliance_sees_privacy_requests_and_audit_alerts(client, book, make_user):
    from kehu.privacy.requests import request_open

    auditor = make_user("compliance_auditor")
    act = Actor(user=auditor)
    request_open(actor=act, kind="access", customer_id=book["customers"]["张伟"].pk)
    late = request_open(actor=act, kind="deletion", customer_id=book["customers"]["刘洋"].pk)
    PrivacyRequest.objects.filter(pk=late.pk).update(
        due_date=timezone.localdate() - dt.timedelta(days=2))
    audit_record(actor=Actor(user=book["rep"]), action="security.lookup_limit",
                 object_type="user", object_id=str(book["rep"].pk))
    audit_record(actor=Actor(user=book["rep"]), action="customer.update", object_type="customer")
    home, page = _home(client, auditor)
    assert [s.key for s in home.sections] == ["privacy", "audit_alerts"]
    open_requests = _figure(home, "privacy", "privacy_open")
    assert open_requests.value == PrivacyRequest.objects.exclude(
        status__in=PrivacyRequest.CLOSED).count() == 2
    assert _figure(home, "privacy", "privacy_overdue").value == 1
    rows = _section(home, "privacy").rows
    assert rows[0][4].alert  # the overdue one first, flagged
    alerts = _figure(home, "audit_alerts", "security_alerts")
    assert alerts.value == 1 and _list_size(client, alerts.url) == 1
    assert "个人信息请求" in page or "隐私" in page


def test_admin_sees_system_status(client, book, make_user):
    admin = make_user("admin")
    Job.objects.create(kind="dedup_scan", label="查重扫描", status=Job.FAILED, error="第 3 行格式错误",
                       finished_at=timezone.now())
    Job.objects.create(kind="dedup_scan", label="查重扫描二", status=Job.RUNNING)
    home, page = _home(client, admin)
    assert [s.key for s in home.sections] == ["system", "errors"]
    failed = _figure(home, "system", "jobs_failed")
    assert failed.value == 1 and _list_size(client, failed.url) == 1
    assert _figure(home, "system", "jobs_running").value == 1
    assert [row[0].text for row in _section(home, "system").rows] == [
        "数据库", "任务队列", "后台进程"]
    assert "第 3 行格式错误" in page


def test_audit_log_is_on_the_audit_page_not_on_home(client, book, make_user):
    auditor = make_user("compliance_auditor")
    audit_record(actor=Actor(user=book["rep"]), action="customer.special_probe",
                 object_type="customer", object_repr="张伟")
    _home_ctx, page = _home(client, auditor)
    assert "customer.special_probe" not in page and 'data-testid="recent-audit"' not in page
    audit = client.get(reverse("core:audit")).content.decode()
    assert "customer.special_probe" in audit


def test_a_user_without_a_role_gets_the_common_page_only(client, make_user):
    home, page = _home(client, make_user(None))
    assert home.focus == "general" and home.sections == []
    assert 'data-testid="home-sections"' not in page
