"""高价值客户画像: shares and lifts equal a plain-Python recomputation of the fixture book, per
role; every bar opens as many rows as it counts; a masked birthday yields no age breakdown and
cannot be drilled into."""

from __future__ import annotations

import pytest
from django.utils import timezone

from kehu.dashboards.boards import build_board, get_board
from kehu.dashboards.periods import named_period
from tests.dashboards.sales_book import build_book
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def book():
    return build_book(with_deals=False)


def _board(user, **params):
    return build_board(get_board("portrait"), user=user, period=named_period("month"),
                       params=params)


def _age_band(birthday):
    if birthday is None:
        return ""
    today = timezone.localdate()
    age = today.year - birthday.year - ((today.month, today.day) < (birthday.month, birthday.day))
    for code, low, high in (("under_25", 0, 24), ("25_34", 25, 34), ("35_44", 35, 44),
                            ("45_54", 45, 54), ("55_plus", 55, 200)):
        if low <= age <= high:
            return code
    return ""


FEATURES = {
    "industry": lambda s: [s.industry], "province": lambda s: [s.province],
    "source": lambda s: [s.source], "gender": lambda s: [s.gender],
    "age_band": lambda s: [_age_band(s.birthday)],
    "first_channel": lambda s: [s.orders[0][0]] if s.orders else [],
}


def _expected(base, group, feature, values_of):
    out = {}
    for value in {v for s in group for v in values_of(s)} - {""}:
        g = sum(1 for s in group if value in values_of(s))
        b = sum(1 for s in base if value in values_of(s))
        share, base_share = g / len(group), b / len(base)
        out[value] = (g, b, round(100 * share, 1), round(100 * base_share, 1),
                      round(share / base_share, 2))
    return out


def _shown(data, key):
    option = data.chart(f"feature-{key}").option
    group, base = option["series"][0]["data"], option["series"][1]["data"]
    return group, base


@pytest.mark.parametrize("who", [None, "a", "b"])
def test_shares_and_lifts_equal_recomputation(book, who):
    user = {None: book.admin, "a": book.rep_a, "b": book.rep_b}[who]
    data = _board(user)
    base = book.mine(who)
    group = [s for s in base if s.tier == "high_value"]
    assert data.figure("group_size").value == len(group)
    assert data.figure("base_size").value == len(base)
    rows = {(r["feature"], r["value"]): r for r in data.table("over").rows}
    for key, values_of in FEATURES.items():
        expected = _expected(base, group, key, values_of)
        group_points, base_points = _shown(data, key)
        got = {}
        for g, b in zip(group_points, base_points, strict=True):
            assert g["code"] == b["code"]
            got[g["code"]] = (g["count"], b["count"], g["value"], b["value"], g["lift"])
        assert got == expected, key
        for value, (g, _b, _gs, _bs, lift) in expected.items():
            over = lift >= 1.2 and g >= 2
            assert ((key, value) in rows) == over, (key, value)
    # Products: distinct buyers of each product
    bought = {}
    for spec in group:
        for _channel, product in spec.orders:
            bought.setdefault(product, set()).add(spec.name)
    group_points, _base_points = _shown(data, "product")
    assert sorted(p["count"] for p in group_points) == sorted(len(v) for v in bought.values())


def test_every_bar_opens_the_rows_it_counts(book, client):
    client.force_login(book.rep_a)
    data = _board(book.rep_a)
    checked = 0
    for chart in data.charts:
        for series in chart.option["series"]:
            for point in series["data"]:
                page = client.get(point["url"])
                assert page.status_code == 200, point["url"]
                assert len(page.context["rows"]) == point["count"], point["url"]
                checked += 1
    assert checked >= 20


def test_masked_birthday_gives_no_age_breakdown(book, client):
    viewer = UserFactory(role_code="read_only")  # birthday masked by default, scoring.view
    assert not viewer.access.may_condition_on("customer.birthday")
    data = _board(viewer)
    assert not [c for c in data.charts if c.key == "feature-age_band"]
    assert not [r for r in data.table("over").rows if r["feature"] == "age_band"]
    assert any("生日" in note or "irthday" in note for note in data.notes)
    client.force_login(viewer)
    page = client.get("/customers/?age_band=25_34")
    assert page.context["error"] is not None
    assert not page.context["rows"]
    admin_data = _board(book.admin)
    assert admin_data.chart("feature-age_band")


def test_a_segment_as_the_group(book, client):
    from kehu.segments.models import Segment, SegmentMembership

    segment = Segment.objects.create(name="回购客户", definition={"match": "all", "conditions": []})
    members = [book.customers["甲三"], book.customers["乙二"], book.customers["甲一"]]
    for customer in members:
        SegmentMembership.objects.create(segment=segment, customer=customer)
    data = _board(book.rep_a, segment=str(segment.pk))
    assert data.figure("group_size").value == 2  # 乙二 is rep B's
    group_points, _base = _shown(data, "industry")
    client.force_login(book.rep_a)
    for point in group_points:
        assert f"segment={segment.pk}" in point["url"]
        assert len(client.get(point["url"]).context["rows"]) == point["count"]
    assert data.controls[0].selected == str(segment.pk)


def test_page_renders_in_chinese(book, client):
    client.force_login(book.admin)
    page = client.get("/dashboard/portrait/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "高价值客户画像" in html and "行业" in html and "提升度" in html
    assert 'data-testid="chart-feature-industry"' in html


def test_birthday_dates_are_not_in_the_board(book):
    data = _board(book.admin)
    text = str(data.as_json())
    for spec in book.specs:
        if spec.birthday:
            assert spec.birthday.isoformat() not in text


def test_api_takes_the_segment_and_says_when_it_cannot(book, api_client_for):
    from kehu.segments.models import Segment, SegmentMembership

    segment = Segment.objects.create(name="样本", definition={"match": "all", "conditions": []})
    SegmentMembership.objects.create(segment=segment, customer=book.customers["甲一"])
    body = api_client_for(book.rep_a).get(
        f"/api/v1/dashboards/portrait?segment={segment.pk}").json()
    figures = {f["key"]: f["value"] for f in body["figures"]}
    assert figures["group_size"] == 1 and figures["base_size"] == len(book.mine("a"))
    assert body["controls"][0]["selected"] == str(segment.pk)
    missing = api_client_for(book.rep_a).get("/api/v1/dashboards/portrait?segment=999999").json()
    assert any(note.startswith("segment:") for note in missing["notes"])
    assert {f["key"]: f["value"] for f in missing["figures"]}["group_size"] == 2  # high value


@pytest.mark.parametrize("who", ["admin", "a", "masked"])
def test_summary_and_direct_queries_give_the_same_board(book, who):
    from kehu.dashboards import board_portrait
    from kehu.dashboards.models import ProfileSummary

    user = {"admin": book.admin, "a": book.rep_a,
            "masked": UserFactory(role_code="read_only")}[who]

    def built(summary):
        return board_portrait.build(user=user, period=named_period("month"), params={},
                                    summary=summary).as_json()

    from_summary = built(True)
    assert from_summary == built(False)
    assert from_summary["charts"] and from_summary["tables"][0]["rows"]
    ProfileSummary.objects.all().delete()  # the tier's counts really come from the summary
    assert built(True)["figures"][0]["value"] == 0
