"""流失预警: the at-risk count, value at stake and the table equal a plain-Python recomputation
of the fixture book, per role; the numbers open as many rows; one click creates a task."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kehu.dashboards.boards import build_board, get_board
from kehu.dashboards.periods import named_period
from tests.dashboards.sales_book import build_book

pytestmark = pytest.mark.django_db

AT_RISK_SEGMENTS = {"about_to_sleep", "hibernating", "at_risk", "cant_lose"}


@pytest.fixture
def book():
    return build_book(with_deals=False)


def _board(user):
    return build_board(get_board("churn"), user=user, period=named_period("month"), params={})


def _at_risk(specs):
    return [s for s in specs
            if s.segment in AT_RISK_SEGMENTS or (s.churn and s.churn[1] in ("medium", "high"))]


def _stake(spec) -> Decimal:
    return Decimal(spec.clv) if spec.clv else Decimal(spec.monetary)


@pytest.mark.parametrize("who", [None, "a", "b"])
def test_figures_and_table_equal_recomputation(book, who):
    user = {None: book.admin, "a": book.rep_a, "b": book.rep_b}[who]
    data = _board(user)
    risky = _at_risk(book.mine(who))
    assert data.figure("at_risk").value == len(risky)
    assert data.figure("value_at_stake").value == float(sum(_stake(s) for s in risky))
    assert data.figure("high_risk").value == sum(1 for s in risky if s.churn and
                                                 s.churn[1] == "high")
    rows = data.table("at_risk").rows
    expected = sorted(risky, key=lambda s: -_stake(s))
    assert [r["name"] for r in rows] == [s.name for s in expected]
    assert [r["stake"] for r in rows] == [_stake(s) for s in expected]
    owners = {"a": book.rep_a, "b": book.rep_b}
    assert [r["owner"] for r in rows] == [owners[s.owner].display_name for s in expected]
    for row, spec in zip(rows, expected, strict=True):
        assert (row["contact"] is not None) == (spec.contact_days_ago is not None)
        assert row["risk"] == (round(100 * spec.churn[0], 1) if spec.churn else None)
        assert row["task_url"] == f"/insights/churn/{book.customers[spec.name].pk}/task/"


def test_numbers_open_the_rows_they_count(book, client):
    client.force_login(book.rep_a)
    data = _board(book.rep_a)
    page = client.get(data.figure("at_risk").url)
    assert len(page.context["rows"]) == data.figure("at_risk").value
    for chart in data.charts:
        for point in chart.option["series"][0]["data"]:
            if point.get("url"):
                rows = client.get(point["url"]).context["rows"]
                assert len(rows) == (point["value"] if chart.key != "owners" else len(
                    _at_risk(book.mine("a")))), point["url"]


def test_one_click_creates_the_follow_up(book, client):
    from kehu.interactions.models import FollowUpTask

    client.force_login(book.rep_a)
    asleep = book.customers["甲三"]  # hibernating, no churn score: a win-back call
    answer = client.post(f"/insights/churn/{asleep.pk}/task/", HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and 'data-testid="task-created"' in answer.content.decode()
    task = FollowUpTask.objects.get(customer=asleep)
    assert task.assignee == book.rep_a and "甲三" in task.title
    scored = book.customers["甲二"]
    client.post(f"/insights/churn/{scored.pk}/task/", HTTP_HX_REQUEST="true")
    assert "80%" in FollowUpTask.objects.get(customer=scored).title
    safe = book.customers["甲一"]  # champions, no churn score: nothing to do
    answer = client.post(f"/insights/churn/{safe.pk}/task/", HTTP_HX_REQUEST="true")
    assert 'role="alert"' in answer.content.decode()
    assert not FollowUpTask.objects.filter(customer=safe).exists()
    other = book.customers["乙一"]  # rep B's: not in rep A's scope
    assert client.post(f"/insights/churn/{other.pk}/task/").status_code == 404
    assert not FollowUpTask.objects.filter(customer=other).exists()


def test_without_churn_scores_rfm_alone_decides(book):
    from kehu.insights.models import CustomerChurn

    CustomerChurn.objects.all().delete()
    data = _board(book.admin)
    risky = [s for s in book.specs if s.segment in AT_RISK_SEGMENTS]
    assert data.figure("at_risk").value == len(risky)
    assert data.notes and any("RFM" in note for note in data.notes)


def test_page_renders_in_chinese_with_task_buttons(book, client):
    client.force_login(book.admin)
    page = client.get("/dashboard/churn/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "流失预警" in html and "风险价值" in html and "创建任务" in html
    assert html.count('data-testid="action-task"') == len(_at_risk(book.specs))
