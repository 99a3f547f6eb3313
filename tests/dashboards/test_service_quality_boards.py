"""The service board and the data-quality board: figures equal independent computations on a
small fixture, in the viewer's scope; the page, the API and the embed agree; the queue and
the quality page link to them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.accounts.models import Role
from kehu.core.actor import Actor
from kehu.dashboards.boards import build_board, get_board
from kehu.dashboards.periods import named_period
from kehu.quality.models import CustomerQuality, QualitySnapshot
from kehu.service.models import TicketSLA
from kehu.transactions import ticket_services
from kehu.transactions.models import Ticket
from tests.factories import TeamFactory, UserFactory, create_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(make_user):
    team = TeamFactory(name="客服一组")
    agent = make_user("service_agent", team=team)
    own_role = Role.objects.create(code="own_desk", name="本人工单", record_scope="own",
                                   permissions=["customer.view", "ticket.manage",
                                                "quality.view"])
    rep = UserFactory(role=own_role, team=team)
    mine = create_customer(owner=rep, team=team, name="张伟")
    theirs = create_customer(owner=agent, team=team, name="王芳")
    now = timezone.now()
    act = Actor(user=agent)

    def ticket(customer, subject, *, age_days=1, breached=False, resolved=None, rating=None):
        t = ticket_services.ticket_open(actor=act, customer=customer, kind="service_request",
                                        subject=subject, assignee=agent,
                                        opened_at=now - dt.timedelta(days=age_days))
        TicketSLA.objects.update_or_create(ticket=t, defaults={
            "computed_at": now, "resolution_target": 3600,
            "due_at": (now - dt.timedelta(hours=1)) if breached else (
                now + dt.timedelta(days=3)),
            "resolution_breached": breached})
        if resolved is not None:
            Ticket.objects.filter(pk=t.pk).update(
                status="resolved", resolved_at=now - dt.timedelta(days=resolved),
                satisfaction=rating)
        return t

    ticket(mine, "卡纸", breached=True)
    ticket(mine, "换墨盒", resolved=0, rating=5)
    ticket(theirs, "发票", resolved=0, rating=2)
    ticket(theirs, "退货", breached=True, resolved=0, rating=4)
    ticket(theirs, "投诉", breached=True)
    ticket(theirs, "旧工单", age_days=90, resolved=60, rating=1)  # outside the last 30 days
    return {"agent": agent, "rep": rep, "mine": mine, "theirs": theirs}


def _independent(user_customers, start, now):
    rows = Ticket.objects.filter(customer__in=user_customers, merged_into__isnull=True)
    open_rows = rows.filter(status__in=("open", "in_progress", "waiting_customer"))
    rated = rows.filter(resolved_at__gte=start, satisfaction__isnull=False)
    ratings = [t.satisfaction for t in rated]
    return {
        "open": open_rows.count(),
        "breached": sum(1 for t in open_rows if TicketSLA.objects.filter(
            ticket=t).filter(resolution_breached=True).exists() or TicketSLA.objects.filter(
            ticket=t, due_at__lte=now).exists()),
        "opened": rows.filter(opened_at__gte=start).count(),
        "csat": round(100 * sum(1 for r in ratings if r >= 4) / len(ratings), 1)
        if ratings else None,
        "average_rating": round(sum(ratings) / len(ratings), 2) if ratings else None,
    }


def test_service_board_figures_equal_an_independent_count_per_scope(desk):
    period = named_period("last_30")
    board = get_board("service")
    now = timezone.now()
    for user, customers in ((desk["agent"], [desk["mine"], desk["theirs"]]),
                            (desk["rep"], [desk["mine"]])):
        data = build_board(board, user=user, period=period)
        expected = _independent(customers, period.start_dt(), now)
        got = {key: data.figure(key).value for key in expected}
        assert got == expected, user
    agent_data = build_board(board, user=desk["agent"], period=period)
    assert (agent_data.figure("open").value, agent_data.figure("breached").value,
            agent_data.figure("csat").value) == (2, 2, 66.7)
    rep_data = build_board(board, user=desk["rep"], period=period)
    assert (rep_data.figure("open").value, rep_data.figure("csat").value) == (1, 100.0)
    # The CSAT trend holds the period's ratings and nothing else.
    csat = agent_data.chart("csat").option
    assert [v for v in csat["series"][0]["data"] if v is not None] == [66.7]
    volume = agent_data.chart("volume").option
    assert sum(volume["series"][0]["data"]) == agent_data.figure("opened").value == 5


def test_service_figures_open_their_queues(client, desk, api_client_for):
    client.force_login(desk["agent"])
    data = build_board(get_board("service"), user=desk["agent"], period=named_period("last_30"))
    for key in ("open", "breached", "breaching"):
        figure = data.figure(key)
        page = client.get(figure.url)
        assert page.context["page"].paginator.count == figure.value, key
    # The queue page embeds the board; the embed is the board's body only.
    queue = client.get(reverse("service:queue")).content.decode()
    assert 'data-testid="service-board"' in queue and "embed=1" in queue
    embed = client.get(reverse("dashboards:board", args=["service"]) + "?embed=1&period=last_30")
    body = embed.content.decode()
    assert embed.status_code == 200 and "<html" not in body
    assert 'data-testid="chart-csat"' in body and 'data-testid="figure-breached"' in body
    api = api_client_for(desk["agent"]).get("/api/v1/dashboards/service?period=last_30")
    figures = {f["key"]: f["value"] for f in api.json()["figures"]}
    assert figures["breached"] == data.figure("breached").value == 2


def test_quality_board_trend_and_figures(client, desk, make_user):
    steward = make_user("data_steward")
    today = timezone.localdate()
    now = timezone.now()
    CustomerQuality.objects.create(customer=desk["mine"], score=40, computed_at=now)
    CustomerQuality.objects.create(customer=desk["theirs"], score=90, computed_at=now)
    for back, score in ((100, 50.0), (20, 60.0), (10, 62.5), (0, 65.0)):
        QualitySnapshot.objects.create(
            day=today - dt.timedelta(days=back), customers=2, average_score=score,
            completeness=70.0, validity=80.0, freshness=90.0, invalid_customers=back,
            stale_customers=1, pending_duplicates=0, taken_at=now)
    board = get_board("quality")
    data = build_board(board, user=steward, period=named_period("last_90"))
    assert data.figure("average").value == 65.0  # (40 + 90) / 2
    assert data.figure("low").value == CustomerQuality.objects.filter(score__lt=50).count() == 1
    trend = data.chart("trend").option
    expected_days = [s.day.isoformat() for s in QualitySnapshot.objects.filter(
        day__gte=today - dt.timedelta(days=89)).order_by("day")]
    assert trend["xAxis"]["data"] == expected_days  # the 100-day-old snapshot is outside
    assert trend["series"][0]["data"] == [60.0, 62.5, 65.0]
    client.force_login(steward)
    assert len(client.get(data.figure("low").url).context["rows"]) == 1
    page = client.get(reverse("quality:dashboard")).content.decode()
    assert 'data-testid="quality-board-link"' in page
    # A user who sees only their own customers: their figures, and no whole-base trend.
    own = build_board(board, user=desk["rep"], period=named_period("last_90"))
    assert own.figure("average").value == 40.0 and own.figure("low").value == 1
    assert [c.key for c in own.charts] == ["bands"] and own.notes


def test_boards_are_listed_for_the_roles_that_may_open_them(make_user, api_client_for):
    listed = {role: {b["key"] for b in api_client_for(make_user(role)).get(
        "/api/v1/dashboards").json()} for role in ("service_agent", "data_steward", "sales_rep")}
    assert "service" in listed["service_agent"] and "quality" not in listed["service_agent"]
    assert "quality" in listed["data_steward"] and "service" not in listed["data_steward"]
    assert not {"service", "quality"} & listed["sales_rep"]
    assert api_client_for(make_user("sales_rep")).get(
        "/api/v1/dashboards/service").status_code == 404
