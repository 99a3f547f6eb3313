"""One filter parser (customers.listing.filters_from_query) for the list page, the API, the
export and the duplicate scan: every filter selects the same customers on each. Before,
the API could not filter by value tier or RFM and the page could not by province."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.customers import services
from kehu.scoring.models import CustomerValue
from tests.factories import CustomFieldFactory, create_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def book(admin_user):
    CustomFieldFactory(key="level", label="等级", field_type="number")
    actor = Actor(user=admin_user, via="web")
    people = [
        create_customer(name="张三", mobile="13800000001", address="浙江省杭州市西湖区文三路1号",
                        lifecycle_stage="customer", source="展会", custom={"level": 3}),
        create_customer(name="李四", mobile="13800000002", address="江苏省南京市玄武区中山路2号",
                        lifecycle_stage="lead", source="官网", custom={"level": 1}),
        create_customer(name="王五", mobile="13800000003", address="广东省深圳市南山区科技园3号",
                        lifecycle_stage="loyal", source="展会"),
        create_customer(name="赵六", email="zhao@example.com", lifecycle_stage="lead"),
        create_customer(name="某某科技有限公司", kind="organisation", email="info@moumou.cn",
                        address="广东省广州市天河区体育西路4号", source="官网"),
    ]
    services.tag_add(actor=actor, customer=people[0], name="VIP")
    services.tag_add(actor=actor, customer=people[2], name="VIP")
    now = timezone.now()
    for customer, tier, segment, scores in (
            (people[0], "high_value", "champions", (5, 4, 5)),
            (people[1], "dormant", "hibernating", (1, 1, 2)),
            (people[2], "high_value", "loyal", (4, 4, 4))):
        CustomerValue.objects.create(
            customer=customer, r_score=scores[0], f_score=scores[1], m_score=scores[2],
            value_tier=tier, rfm_segment=segment, frequency=3, monetary=Decimal("100"),
            scored_at=now, last_order_at=now - timedelta(days=3), recency_days=3)
    return people


FILTERS = [
    {"province": "广东省"}, {"region": "华东"}, {"lifecycle": "lead"}, {"source": "展会"},
    {"kind": "organisation"}, {"tag": "VIP"}, {"q": "张三"}, {"custom": "level=>=2"},
    {"value_tier": "high_value"}, {"rfm_segment": "hibernating"}, {"r_score": "5"},
    {"m_score": "4"}, {"province": "广东省", "tag": "VIP"},
]


def _page(client, params) -> set[str]:
    response = client.get(reverse("customers:list"), params)
    assert response.status_code == 200
    return {c.name for c in response.context["page"].items}


def _api(client, params) -> set[str]:
    response = client.get("/api/v1/customers", {**params, "limit": 200})
    assert response.status_code == 200, response.content
    return {c["name"] for c in response.json()["items"]}


def _export(client, params) -> set[str]:
    response = client.get("/api/v1/customers/export", {**params, "columns": "name"})
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content) if response.streaming else response.content
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    return {row[0] for row in rows[1:] if row}


@pytest.mark.parametrize("params", FILTERS, ids=lambda p: ",".join(p))
def test_every_filter_selects_the_same_customers_everywhere(book, admin_user, client,
                                                            api_client_for, params):
    client.force_login(admin_user)
    api = api_client_for(admin_user)
    on_page = _page(client, params)
    assert 0 < len(on_page) < len(book), params  # a real narrowing, not all or nothing
    assert _api(api, params) == on_page
    assert _export(api, params) == on_page


def test_the_page_keeps_its_custom_field_spelling(book, admin_user, client):
    client.force_login(admin_user)
    assert _page(client, {"cf_level": ">=2"}) == _page(client, {"custom": "level=>=2"}) == {
        "张三"}


def test_the_duplicate_scan_reads_the_same_filters(book, admin_user):
    from kehu.identity.scan import _scan_queryset

    actor = Actor(user=admin_user, via="web")
    names = set(_scan_queryset(actor, {"province": "广东省", "value_tier": "high_value"})
                .values_list("name", flat=True))
    assert names == {"王五"}


def _cli(user, params, tmp_path) -> set[str]:
    from django.core.management import call_command

    out = tmp_path / "out.csv"
    args = [str(out), "--columns", "name", "--as", user.username]
    for key, value in params.items():
        args += ["--filter", f"{key}={value}"]
    call_command("export", *args, stdout=io.StringIO())
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    return {row[0] for row in rows[1:] if row}


@pytest.mark.parametrize("params", [
    {"value_tier": "high_value"}, {"rfm_segment": "hibernating"}, {"r_score": "5"},
    {"province": "广东省", "tag": "VIP"}, {"stale_days": "1", "value_tier": "dormant"},
], ids=lambda p: ",".join(p))
def test_the_command_line_export_reads_every_filter_too(book, admin_user, client, tmp_path,
                                                        params):
    """The value filters are registered by the scoring app; the CLI offered only the built-in
    ones before (a `--filter value_tier=…` was refused)."""
    client.force_login(admin_user)
    assert _cli(admin_user, params, tmp_path) == _page(client, params)


def test_a_value_filter_needs_the_value_layer(book, make_user, client, api_client_for):
    """The value tier is not shown to a role without scoring.view, so it cannot be
    filtered by either (it would tell who is high value)."""
    agent = make_user("service_agent")
    response = api_client_for(agent).get("/api/v1/customers", {"value_tier": "high_value"})
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "permission_denied"
    client.force_login(agent)
    page = client.get(reverse("customers:list"))
    keys = {f["key"] for f in page.context["extra_filters"]}
    assert "value_tier" not in keys and "quality_below" in keys
