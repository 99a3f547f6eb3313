"""The board framework: periods, the registry, the page and the API agree and refuse bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from kehu.dashboards import boards as registry
from kehu.dashboards.boards import Board, BoardData, Chart, Column, Figure, Table
from kehu.dashboards.periods import MAX_DAYS, PeriodError, named_period, parse_period

TODAY = dt.date(2026, 12, 7)  # a Monday


@pytest.mark.parametrize(("key", "start", "end"), [
    ("today", TODAY, TODAY),
    ("week", TODAY, TODAY),
    ("month", dt.date(2026, 12, 1), TODAY),
    ("quarter", dt.date(2026, 10, 1), TODAY),
    ("year", dt.date(2026, 1, 1), TODAY),
    ("last_30", dt.date(2026, 11, 8), TODAY),
])
def test_named_periods(key, start, end):
    period = named_period(key, TODAY)
    assert (period.start, period.end) == (start, end)
    assert period.days == (end - start).days + 1


def test_custom_period_and_previous():
    period = parse_period({"period": "custom", "from": "2025-03-01", "to": "2025-03-31"}, today=TODAY)
    assert (period.start, period.end, period.days) == (dt.date(2025, 3, 1), dt.date(2025, 3, 31), 31)
    before = period.previous()
    assert (before.start, before.end) == (dt.date(2025, 1, 29), dt.date(2025, 2, 28))
    assert period.as_query() == {"period": "custom", "from": "2025-03-01", "to": "2025-03-31"}


@pytest.mark.parametrize(("params", "field"), [
    ({"period": "decade"}, "period"),
    ({"period": "custom", "from": "2025-13-01", "to": "2025-12-01"}, "from"),
    ({"period": "custom", "from": "2025-03-01", "to": "2025-02-01"}, "to"),
    ({"period": "custom", "from": "1900-01-01", "to": "1900-02-01"}, "from"),
    ({"period": "custom", "from": "2000-01-01", "to": "2020-01-01"}, "to"),
])
def test_bad_periods_name_the_field(params, field):
    with pytest.raises(PeriodError) as caught:
        parse_period(params, today=TODAY)
    assert str(caught.value).startswith(f"{field}:")


def test_longest_custom_period_is_accepted():
    start = dt.date(2020, 1, 1)
    period = parse_period({"period": "custom", "from": start.isoformat(),
                           "to": (start + dt.timedelta(days=MAX_DAYS - 1)).isoformat()})
    assert period.days == MAX_DAYS


@pytest.fixture
def probe_board():
    def build(*, user, period, params):
        return BoardData(
            figures=[Figure("count", "客户数", 1234, url="/customers/?x=1")],
            charts=[Chart("bars", "按来源", {"series": [{"type": "bar", "data": [
                {"value": 3, "name": "线下", "url": "/customers/?source=offline"}]}]})],
            tables=[Table("rows", "明细", [Column("name", "名称"), Column("amount", "金额", "money")],
                          [{"name": "张三", "amount": 1234.5, "url": "/customers/1/"}])])

    board = registry.register_board(Board(key="probe", title="探针看板", description="测试",
                                          permission="customer.view", build=build))
    yield board
    registry._BOARDS.pop("probe", None)


def test_board_page_and_api_show_the_same_data(probe_board, make_user, client, api_client_for):
    rep = make_user("sales_rep")
    client.force_login(rep)
    page = client.get("/dashboard/probe/?period=year")
    assert page.status_code == 200
    html = page.content.decode()
    assert "1,234" in html and "¥1,234.50" in html and 'href="/customers/1/"' in html
    assert 'data-option="opt-bars"' in html and 'id="opt-bars"' in html
    body = api_client_for(rep).get("/api/v1/dashboards/probe?period=year").json()
    assert body["period"]["key"] == "year"
    assert body["figures"][0]["value"] == 1234
    assert body["charts"][0]["option"]["series"][0]["data"][0]["url"] == "/customers/?source=offline"
    listed = api_client_for(rep).get("/api/v1/dashboards").json()
    assert "probe" in [item["key"] for item in listed]


def test_board_refused_without_its_permission(probe_board, make_user, client, api_client_for):
    nobody = make_user(None)
    client.force_login(nobody)
    assert client.get("/dashboard/probe/").status_code == 404
    assert api_client_for(nobody).get("/api/v1/dashboards/probe").status_code == 404
    assert "probe" not in [item["key"] for item in api_client_for(nobody).get(
        "/api/v1/dashboards").json()]


def test_bad_period_is_a_clear_error(probe_board, make_user, client, api_client_for):
    rep = make_user("sales_rep")
    client.force_login(rep)
    page = client.get("/dashboard/probe/?period=custom&from=2025-05-01&to=2025-04-01")
    assert page.status_code == 400
    assert "to:" in page.content.decode()
    answer = api_client_for(rep).get("/api/v1/dashboards/probe?period=custom&from=x&to=2025-04-01")
    assert answer.status_code == 422
    assert answer.json()["details"]["period"][0].startswith("from:")
