"""预测与目标: forecast against target, attainment per rep and team and coverage equal plain
sums over the fixture book's deals and targets, in each viewer's scope."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.dashboards.board_forecast import BOARD
from kehu.dashboards.boards import build_board
from kehu.dashboards.periods import named_period
from kehu.pipeline.models import Deal, Target
from kehu.pipeline.services import target_set
from tests.dashboards.book import make_book

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(make_user):
    book = make_book(make_user)
    today = timezone.localdate()
    quarter = (today.month - 1) // 3 + 1
    system = Actor.system(via="system")
    a1, a2, _b1 = book.reps
    target_set(actor=system, period_kind="quarter", year=today.year, period=quarter,
               amount="50000", user=a1)
    target_set(actor=system, period_kind="quarter", year=today.year, period=quarter,
               amount="10000", user=a2)
    target_set(actor=system, period_kind="quarter", year=today.year, period=quarter,
               amount="100000", team=book.teams[0])
    target_set(actor=system, period_kind="month", year=today.year, period=today.month,
               amount="20000", user=a1)
    return book


def visible_deals(book, viewer) -> list[Deal]:
    deals = list(Deal.objects.all())
    if viewer.is_superuser:
        return deals
    if viewer.role.code == "sales_manager":
        return [d for d in deals if d.owner_id == viewer.pk or d.team_id == viewer.team_id]
    return [d for d in deals if d.owner_id == viewer.pk]


def plain(deals, owner=None):
    """Won this quarter and the open weighted pipeline closing in it, by hand."""
    period = named_period("quarter")
    chosen = [d for d in deals if owner is None or d.owner_id == owner.pk]
    won = sum((d.amount for d in chosen if d.status == "won"
               and period.start_dt() <= d.closed_at), Decimal(0))
    weighted = sum((d.amount * d.probability / 100 for d in chosen if d.status == "open"
                    and period.start <= d.expected_close_date), Decimal(0))
    return won, weighted.quantize(Decimal("0.01"))


@pytest.mark.parametrize("who", ["rep", "manager", "admin"])
def test_attainment_and_coverage_equal_plain_sums(book, who):
    viewer = {"rep": book.reps[0], "manager": book.manager, "admin": book.admin}[who]
    data = build_board(BOARD, user=viewer, period=named_period("quarter"), params={})
    deals = visible_deals(book, viewer)
    won, weighted = plain(deals)
    target = {"rep": Decimal(50000), "manager": Decimal(60000), "admin": Decimal(60000)}[who]
    assert data.figure("won").value == float(won)
    assert data.figure("pipeline").value == float(weighted)
    assert data.figure("target").value == float(target)
    assert data.figure("attainment").value == round(float(100 * won / target), 1)
    assert data.figure("coverage").value == round(float(weighted / (target - won)), 2)
    rows = {row["id"]: row for row in data.table("reps").rows}
    for rep in book.reps:
        if rep.pk not in rows:
            assert who != "admin"
            continue
        rep_won, rep_weighted = plain(deals, rep)
        row = rows[rep.pk]
        assert (row["won"], row["pipeline"]) == (float(rep_won), float(rep_weighted))
        rep_target = Target.objects.filter(user=rep, period_kind="quarter").first()
        assert row["target"] == (float(rep_target.amount) if rep_target else None)
    if who == "rep":
        assert set(rows) == {book.reps[0].pk}
        assert data.table("teams").rows[0]["name"] == "华东一组"
    months = data.table("months").rows
    assert sum(row["won"] for row in months) == float(won)
    this_month = months[-1]
    assert this_month["target"] == 20000.0


def test_team_targets_when_no_person_has_one(book):
    Target.objects.filter(user__isnull=False).delete()
    data = build_board(BOARD, user=book.admin, period=named_period("quarter"), params={})
    assert data.figure("target").value == 100000.0
    teams = {row["name"]: row for row in data.table("teams").rows}
    won, weighted = plain([d for d in Deal.objects.all() if d.team_id == book.teams[0].pk])
    assert teams["华东一组"]["won"] == float(won)
    assert teams["华东一组"]["target"] == 100000.0
    assert teams["华南二组"]["target"] is None


def test_bad_target_kind_and_page(book, client):
    data = build_board(BOARD, user=book.admin, period=named_period("quarter"),
                       params={"target": "decade"})
    assert data.notes[0].startswith("target:")
    month = build_board(BOARD, user=book.reps[0], period=named_period("month"),
                        params={"target": "month"})
    assert month.figure("target").value == 20000.0
    client.force_login(book.manager)
    page = client.get("/dashboard/forecast/")
    assert page.status_code == 200
    assert 'data-testid="chart-by_month"' in page.content.decode()
