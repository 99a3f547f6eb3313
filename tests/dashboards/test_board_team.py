"""团队绩效: every figure and row equals a plain count over the fixture book, in the viewer's
scope; drill-downs list as many rows as the number says."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.dashboards.board_team import BOARD, MEASURES
from kehu.dashboards.boards import build_board
from kehu.interactions.models import FollowUpTask, Interaction
from kehu.pipeline.models import Deal
from kehu.transactions.models import Order, Ticket
from tests.dashboards.book import listed, make_book

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(make_user):
    return make_book(make_user)


def expected_row(book, viewer, person) -> dict:
    """One person's measures, computed by hand over the customers the viewer may see."""
    period = book.period
    since, until = period.start_dt(), period.end_dt()
    seen = {c.pk: c for c in book.visible(viewer)}
    inter = [i for i in Interaction.objects.filter(customer_id__in=seen, actor=person)
             if since <= i.occurred_at < until]
    new = [c for c in seen.values() if c.owner_id == person.pk
           and period.start <= timezone.localtime(c.created_at).date() <= period.end]
    converted = [c for c in new if c.lifecycle_stage in ("customer", "loyal", "churned")]
    orders = [o for o in Order.objects.filter(customer_id__in=seen,
                                              status__in=Order.PURCHASE_STATUSES)
              if seen[o.customer_id].owner_id == person.pk and since <= o.ordered_at < until]
    won = [d for d in Deal.objects.filter(owner=person, status="won")
           if d.customer_id in seen and since <= d.closed_at < until]
    tickets = [t for t in Ticket.objects.filter(assignee=person, customer_id__in=seen)
               if since <= t.resolved_at < until]
    rated = [t.satisfaction for t in tickets if t.satisfaction]
    overdue = FollowUpTask.objects.filter(assignee=person, status="open", customer_id__in=seen,
                                          due_date__lt=timezone.localdate()).count()
    revenue = sum((o.total_amount for o in orders), Decimal(0))
    hours = sum((t.resolved_at - t.opened_at).total_seconds() for t in tickets) / 3600
    return {
        "follow_ups": len(inter), "contacted": len({i.customer_id for i in inter}),
        "overdue": overdue, "new_customers": len(new),
        "conversion": round(100 * len(converted) / len(new), 1) if new else None,
        "deals_won": len(won), "won_amount": float(sum((d.amount for d in won), Decimal(0))),
        "aov": round(float(revenue) / len(orders), 2) if orders else None,
        "tickets_resolved": len(tickets),
        "resolution_hours": round(hours / len(tickets), 1) if tickets else None,
        "csat": round(sum(rated) / len(rated), 2) if rated else None,
    }


def build(user, **params):
    return build_board(BOARD, user=user, period=params.pop("period", None) or BOOK_PERIOD[0],
                       params=params)


BOOK_PERIOD: list = []


@pytest.fixture(autouse=True)
def _period(book):
    BOOK_PERIOD[:] = [book.period]
    yield
    BOOK_PERIOD.clear()


@pytest.mark.parametrize("who", ["rep", "manager", "admin"])
def test_every_row_equals_a_plain_count(book, who):
    viewer = {"rep": book.reps[0], "manager": book.manager, "admin": book.admin}[who]
    data = build(viewer)
    rows = {row["id"]: row for row in data.table("reps").rows}
    expected_people = {"rep": {book.reps[0].pk},
                       "manager": {book.reps[0].pk, book.reps[1].pk, book.manager.pk},
                       "admin": {u.pk for u in [*book.reps, book.manager, book.admin]}}[who]
    assert set(rows) == expected_people
    for person in [*book.reps, book.manager, book.admin]:
        if person.pk in rows:
            got = {key: rows[person.pk][key] for key in MEASURES}
            assert got == expected_row(book, viewer, person), person.display_name


def test_rep_sees_only_own_numbers(book):
    rep = book.reps[0]
    data = build(rep)
    own = expected_row(book, rep, rep)
    assert data.figure("new_customers").value == own["new_customers"] == 3
    assert data.figure("follow_ups").value == own["follow_ups"] == 4
    assert data.figure("deals_won").value == 1
    assert data.figure("won_amount").value == 20000.0
    # 3 purchases in the period (300 + 100 + 500); the refunded one is not a purchase
    assert data.figure("aov").value == own["aov"] == 300.0
    assert data.figure("overdue").value == 2


def test_manager_totals_cover_the_team(book):
    data = build(book.manager)
    seen = {c.pk for c in book.visible(book.manager)}
    period = book.period
    new = [c for c in book.visible(book.manager)
           if period.start <= timezone.localtime(c.created_at).date() <= period.end]
    assert data.figure("new_customers").value == len(new)
    assert data.figure("follow_ups").value == Interaction.objects.filter(
        customer_id__in=seen, occurred_at__gte=period.start_dt(),
        occurred_at__lt=period.end_dt()).count()
    teams = {row["name"]: row for row in data.table("teams").rows}
    assert set(teams) == {"华东一组"}
    rows = [r for r in data.table("reps").rows]
    assert teams["华东一组"]["follow_ups"] == sum(r["follow_ups"] for r in rows)


def test_ranking_and_bad_measure(book):
    data = build(book.admin, rank_by="won_amount")
    amounts = [row["won_amount"] for row in data.table("reps").rows]
    assert amounts == sorted(amounts, reverse=True)
    assert [row["rank"] for row in data.table("reps").rows] == list(range(1, len(amounts) + 1))
    bad = build(book.admin, rank_by="nonsense")
    assert bad.notes and bad.notes[0].startswith("rank_by:")


def test_trend_has_both_periods(book):
    data = build(book.admin)
    series = data.chart("trend").option["series"]
    assert len(series) == 4
    assert sum(series[0]["data"]) == data.figure("follow_ups").value
    assert sum(series[2]["data"]) == data.figure("new_customers").value


def test_drill_downs_list_as_many_rows_as_the_figure(book, client, api_client_for):
    for viewer in (book.manager, book.admin):
        api = api_client_for(viewer)
        data = build(viewer)
        for row in data.table("reps").rows:
            assert listed(api, row["new_customers_url"]) == row["new_customers"]
        assert listed(api, data.figure("new_customers").url) == data.figure("new_customers").value
        converted = listed(api, data.figure("conversion").url)
        assert data.figure("conversion").value == round(
            100 * converted / data.figure("new_customers").value, 1)
    client.force_login(book.manager)
    page = client.get(build(book.manager).table("reps").rows[0]["new_customers_url"])
    assert page.status_code == 200
    overdue = client.get(build(book.manager).figure("overdue").url)
    assert overdue.status_code == 200


def test_page_and_api(book, client, api_client_for):
    client.force_login(book.reps[0])
    page = client.get("/dashboard/team/?period=last_30&rank_by=won_amount")
    assert page.status_code == 200
    assert 'data-testid="table-reps"' in page.content.decode()
    body = api_client_for(book.reps[0]).get("/api/v1/dashboards/team?period=last_30").json()
    assert [row["id"] for row in body["tables"][0]["rows"]] == [book.reps[0].pk]
    admin = api_client_for(book.admin).get(
        "/api/v1/dashboards/team?period=last_30&rank_by=won_amount").json()
    amounts = [row["won_amount"] for row in admin["tables"][0]["rows"]]
    assert amounts == sorted(amounts, reverse=True) and amounts[0] == 20000.0
