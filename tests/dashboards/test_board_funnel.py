"""销售漏斗: every step's count, amount, conversion and median days equal a plain-Python
recomputation of the fixture book, per role; each step's link opens exactly that many rows."""

from __future__ import annotations

import statistics
from decimal import Decimal

import pytest

from kehu.dashboards.boards import build_board, get_board
from kehu.dashboards.periods import named_period
from tests.dashboards.sales_book import DEALS, build_book

pytestmark = pytest.mark.django_db

RANK = {"lead": 0, "prospect": 1, "customer": 2, "loyal": 3, "churned": 2}
STEPS = ["lead", "prospect", "customer", "loyal"]


def _reached(spec) -> int:
    return max([RANK[spec.stage]] + [RANK[new] for _old, new, _d in spec.history])


def _lifecycle_expected(book, who):
    cohort = [s for s in book.mine(who) if s.created_days_ago <= 30]
    counts = [sum(1 for s in cohort if _reached(s) >= i) for i in range(4)]
    amounts = [sum((Decimal(s.monetary) for s in cohort if _reached(s) >= i), Decimal(0))
               for i in range(4)]
    stays: dict[str, list[float]] = {}
    for spec in cohort:
        entered = {}
        for old, new, day in spec.history:
            stays.setdefault(old, []).append(float(day - entered.get(old, 0)))
            entered[new] = day
    medians = {k: statistics.median(v) for k, v in stays.items()}
    return counts, amounts, medians


@pytest.fixture
def book():
    return build_book()


def _board(user, **params):
    return build_board(get_board("funnel"), user=user, period=named_period("last_30"),
                       params=params)


@pytest.mark.parametrize("who", [None, "a", "b"])
def test_lifecycle_funnel_equals_recomputation(book, who):
    user = {None: book.admin, "a": book.rep_a, "b": book.rep_b}[who]
    data = _board(user)
    counts, amounts, medians = _lifecycle_expected(book, who)
    rows = data.table("lifecycle").rows
    assert [r["count"] for r in rows] == counts
    assert [r["amount"] for r in rows] == amounts
    for i, row in enumerate(rows):
        expected = round(100 * counts[i] / counts[i - 1], 1) if i and counts[i - 1] else None
        assert row["conversion"] == expected
        assert row["drop_off"] == (round(100 - expected, 1) if expected is not None else None)
        median = medians.get(STEPS[i])
        assert row["median_days"] == (pytest.approx(median, abs=0.05) if median is not None
                                      else None)
    assert data.figure("new_customers").value == counts[0]
    assert data.figure("became_customers").value == counts[2]
    chart = data.chart("lifecycle").option["series"][0]["data"]
    assert [p["value"] for p in chart] == counts


def _deal_expected(who):
    mine = [d for d in DEALS if who is None or d[0] == who]
    reached = [max([0] + d[2]) for d in mine]
    counts = [sum(1 for r in reached if r >= i) for i in range(5)]
    amounts = [sum((Decimal(d[1]) for d, r in zip(mine, reached, strict=True) if r >= i),
                   Decimal(0)) for i in range(5)]
    first = [d[4] for d in mine if d[4] is not None]
    return counts, amounts, (statistics.median(first) if first else None)


@pytest.mark.parametrize("who", [None, "a", "b"])
def test_deal_funnel_equals_recomputation(book, who):
    user = {None: book.admin, "a": book.rep_a, "b": book.rep_b}[who]
    data = _board(user)
    counts, amounts, first_median = _deal_expected(who)
    rows = data.table("deals").rows
    assert len(rows) == 5  # the lost stage is not a step
    assert [r["count"] for r in rows] == counts
    assert [r["amount"] for r in rows] == amounts
    assert rows[0]["median_days"] == (pytest.approx(first_median, abs=0.05)
                                      if first_median is not None else None)
    assert data.figure("deals_opened").value == counts[0]
    assert data.figure("deals_won").value == counts[-1]
    assert data.figure("won_amount").value == float(amounts[-1])


@pytest.mark.parametrize("who", ["a", None])
def test_every_step_opens_the_rows_it_counts(book, client, who):
    user = {None: book.admin, "a": book.rep_a}[who]
    client.force_login(user)
    data = _board(user)
    for row in data.table("lifecycle").rows:
        page = client.get(row["url"])
        assert page.status_code == 200, row["url"]
        assert len(page.context["rows"]) == row["count"], row["url"]
    for row in data.table("deals").rows:
        page = client.get(row["url"])
        assert page.status_code == 200, row["url"]
        assert page.context["page"].paginator.count == row["count"], row["url"]


def test_deal_list_api_has_the_same_filter(book, api_client_for):
    data = _board(book.rep_a)
    step = data.table("deals").rows[1]
    query = step["url"].split("?", 1)[1].replace("pipeline=", "pipeline_id=").replace(
        "reached_stage=", "reached_stage_id=")
    answer = api_client_for(book.rep_a).get(f"/api/v1/deals?{query}")
    assert answer.status_code == 200, answer.content
    assert answer.json()["count"] == step["count"]


def test_page_renders_in_chinese_and_api_agrees(book, client, api_client_for):
    client.force_login(book.admin)
    page = client.get("/dashboard/funnel/?period=last_30")
    assert page.status_code == 200
    html = page.content.decode()
    assert "销售漏斗" in html and "生命周期漏斗" in html and "转化率" in html
    assert 'data-testid="chart-lifecycle"' in html and 'data-testid="chart-deals"' in html
    body = api_client_for(book.admin).get("/api/v1/dashboards/funnel?period=last_30").json()
    counts, _amounts, _medians = _lifecycle_expected(book, None)
    lifecycle = next(t for t in body["tables"] if t["key"] == "lifecycle")
    assert [r["count"] for r in lifecycle["rows"]] == counts


def test_deal_export_keeps_the_step_filter(book, client):
    from django.urls import reverse

    data = _board(book.admin)
    step = data.table("deals").rows[2]
    client.force_login(book.admin)
    query = step["url"].split("?", 1)[1]
    answer = client.get(f"{reverse('interchange:deals_export')}?{query}&format=csv")
    assert answer.status_code == 200
    body = b"".join(answer.streaming_content) if answer.streaming else answer.content
    lines = [line for line in body.decode("utf-8-sig").splitlines() if line.strip()]
    assert len(lines) - 1 == step["count"]


def test_a_second_pipeline_can_be_chosen(book):
    from kehu.core.actor import Actor
    from kehu.pipeline import services

    other = services.pipeline_create(actor=Actor(user=book.admin), name="渠道管道", stages=[
        {"name": "接触", "probability": 10, "kind": "open"},
        {"name": "成交", "probability": 100, "kind": "won"},
        {"name": "丢失", "probability": 0, "kind": "lost"}])
    data = _board(book.admin)
    control = next(c for c in data.controls if c.key == "pipeline")
    assert {value for value, _label in control.options} >= {str(other.pk)}
    chosen = _board(book.admin, pipeline=str(other.pk))
    assert [r["count"] for r in chosen.table("deals").rows] == [0, 0]
    assert next(c for c in chosen.controls if c.key == "pipeline").selected == str(other.pk)
