"""今日新增与渠道: new customers by source and owner, conversion and revenue by channel, equal to
plain counts over the fixture book in each viewer's scope; drill-downs list that many rows."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.dashboards.board_channels import BOARD, source_label
from kehu.dashboards.boards import build_board
from kehu.dashboards.periods import named_period
from kehu.transactions.models import Order
from tests.dashboards.book import listed, make_book

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(make_user):
    return make_book(make_user)


def created_in(customer, period) -> bool:
    return period.start <= timezone.localtime(customer.created_at).date() <= period.end


def expected(book, viewer):
    period = book.period
    seen = {c.pk: c for c in book.visible(viewer)}
    purchases = list(Order.objects.filter(customer_id__in=seen,
                                          status__in=Order.PURCHASE_STATUSES))
    bought = {o.customer_id for o in purchases}
    new = [c for c in seen.values() if created_in(c, period)]
    by_source: dict = defaultdict(lambda: {"new": 0, "converted": 0, "ordered": 0, "orders": 0,
                                           "revenue": Decimal(0)})
    for c in new:
        row = by_source[c.source]
        row["new"] += 1
        row["converted"] += c.lifecycle_stage in ("customer", "loyal", "churned")
        row["ordered"] += c.pk in bought
    for o in purchases:
        if period.start_dt() <= o.ordered_at < period.end_dt():
            by_source[seen[o.customer_id].source]["orders"] += 1
            by_source[seen[o.customer_id].source]["revenue"] += o.total_amount
    today, week = named_period("today"), named_period("week")
    return {
        "today": Counter(c.source for c in seen.values() if created_in(c, today)),
        "week": Counter(c.source for c in seen.values() if created_in(c, week)),
        "week_owner": Counter(c.owner_id for c in seen.values() if created_in(c, week)),
        "channels": by_source,
    }


@pytest.mark.parametrize("who", ["rep", "manager", "admin"])
def test_figures_equal_plain_counts(book, who, api_client_for):
    viewer = {"rep": book.reps[0], "manager": book.manager, "admin": book.admin}[who]
    data = build_board(BOARD, user=viewer, period=book.period, params={})
    want = expected(book, viewer)
    assert data.figure("new_today").value == sum(want["today"].values())
    assert data.figure("new_week").value == sum(want["week"].values())
    channels = want["channels"]
    assert data.figure("new_period").value == sum(r["new"] for r in channels.values())
    assert data.figure("converted").value == sum(r["converted"] for r in channels.values())
    assert data.figure("ordered").value == sum(r["ordered"] for r in channels.values())
    assert data.figure("revenue").value == float(sum(r["revenue"] for r in channels.values()))
    rows = {row["code"]: row for row in data.table("channels").rows}
    assert set(rows) == set(channels)
    for code, row in rows.items():
        assert (row["new"], row["converted"], row["ordered"], row["orders"], row["revenue"]) == (
            channels[code]["new"], channels[code]["converted"], channels[code]["ordered"],
            channels[code]["orders"], float(channels[code]["revenue"])), code
        assert row["source"] == source_label(code)
    by_source = data.chart("new_by_source").option
    week_series = by_source["series"][1]["data"]
    assert {item["name"]: item["value"] for item in week_series} == {
        source_label(s): n for s, n in want["week"].items()}
    owners = data.chart("new_by_owner").option["series"][0]["data"]
    assert sorted(item["value"] for item in owners) == sorted(want["week_owner"].values())
    # drill-downs: each number's list holds that many customers
    api = api_client_for(viewer)
    for key in ("new_today", "new_week", "new_period", "converted", "ordered"):
        figure = data.figure(key)
        assert listed(api, figure.url) == figure.value, key
    for row in rows.values():
        for key in ("new", "converted", "ordered"):
            if row[f"{key}_url"]:
                assert listed(api, row[f"{key}_url"]) == row[key], (row["code"], key)
    for item in [*week_series, *owners]:
        if item.get("url"):
            assert listed(api, item["url"]) == item["value"]


def test_rep_sees_only_own_book(book):
    rep = book.reps[1]  # a2: c4 (web, today), c5 (no source, loyal, ordered), c8 reassigned
    data = build_board(BOARD, user=rep, period=book.period, params={})
    rows = {row["code"]: row for row in data.table("channels").rows}
    assert rows["web"]["new"] == 1 and rows[""]["converted"] == 1 and rows[""]["ordered"] == 1
    assert rows["offline"]["new"] == 1  # the customer reassigned to a2
    assert rows[""]["source"] == "No source" or rows[""]["source"] == "无来源"


def test_page_renders(book, client):
    client.force_login(book.manager)
    page = client.get("/dashboard/channels/?period=last_30")
    assert page.status_code == 200
    assert 'data-testid="chart-funnel"' in page.content.decode()
