"""Predictions as segment fields (save, reload, recount; the owner's scope decides) and as
customer-list columns and filters."""

from __future__ import annotations

import pytest
from django.utils import translation

from kehu.core.actor import Actor
from kehu.customers.listing import filters_from_query
from kehu.customers.selectors import customer_list
from kehu.prediction.models import CustomerPrediction
from kehu.prediction.services import clv_score
from kehu.segments import services as segments
from kehu.segments.models import Segment
from kehu.segments.selectors import segment_queryset

SYSTEM = Actor.system(via="system")
LAPSING = {"conditions": [{"field": "p_alive", "op": "lt", "value": 0.5}]}


@pytest.fixture
def scored(book):
    clv_score(actor=SYSTEM, full=True)
    return book


def _expected(user, **lookup):
    rows = CustomerPrediction.objects.filter(**lookup)
    visible = user.access.restrict(
        type(rows.first().customer).objects.filter(status="active"))
    return set(visible.filter(pk__in=rows.values("customer_id")).values_list("pk", flat=True))


@pytest.mark.django_db
def test_segment_on_p_alive_round_trip(scored, make_user):
    marketer = make_user("marketer")
    expected = _expected(marketer, p_alive__lt=0.5)
    assert expected, "the generated book has lapsing customers"
    segment = segments.segment_create(actor=Actor(user=marketer), name="流失风险",
                                      definition=LAPSING)
    again = Segment.objects.get(pk=segment.pk)
    assert again.definition["conditions"][0]["field"] == "p_alive"
    assert again.size == len(expected)
    assert set(again.memberships.values_list("customer_id", flat=True)) == expected
    # Scores change, the refresh follows.
    CustomerPrediction.objects.filter(customer_id__in=list(expected)[:3]).update(p_alive=0.99)
    refreshed = segments.segment_refresh(actor=Actor(user=marketer), segment=again)
    assert refreshed.size == len(expected) - 3


@pytest.mark.django_db
def test_segment_fields_respect_record_scope(scored, rep):
    expected = _expected(rep, clv_12m__gte=0)
    got = set(segment_queryset(user=rep, definition={"conditions": [
        {"field": "clv_12m", "op": "gte", "value": 0}]}).values_list("pk", flat=True))
    assert got == expected
    assert all(c.owner_id == rep.pk for c in type(scored[0]).objects.filter(pk__in=got))
    many = set(segment_queryset(user=rep, definition={"conditions": [
        {"field": "expected_purchases_90d", "op": "gt", "value": 0}]}).values_list(
        "pk", flat=True))
    assert many == _expected(rep, expected_purchases_90d__gt=0)


@pytest.mark.django_db
def test_list_filters_and_columns(scored, make_user):
    marketer = make_user("marketer")
    page = customer_list(user=marketer, filters=filters_from_query(
        {"p_alive_below": "50"}), limit=200)
    assert {c.pk for c in page.items} == _expected(marketer, p_alive__lt=0.5)
    rich = customer_list(user=marketer, filters=filters_from_query({"clv_min": "20"}),
                         limit=200)
    assert {c.pk for c in rich.items} == _expected(marketer, clv_12m__gte=20)
    ignored = filters_from_query({"p_alive_below": "500"})
    assert "p_alive_below" not in ignored.extra


@pytest.mark.django_db
def test_list_page_shows_prediction_columns(scored, make_user, client):
    marketer = make_user("marketer")
    client.force_login(marketer)
    row = CustomerPrediction.objects.order_by("p_alive").first()
    with translation.override("en"):
        response = client.get("/customers/", {"cols": ["name", "p_alive", "clv_12m"],
                                              "p_alive_below": "100", "q": row.customer.name})
    assert response.status_code == 200
    text = response.content.decode()
    assert f"{round(row.p_alive * 100)}%" in text
    assert "P(alive)" in text or "仍活跃概率" in text


@pytest.mark.django_db
def test_list_api_filter(scored, make_user, api_client_for):
    marketer = make_user("marketer")
    body = api_client_for(marketer, scopes=("read",)).get(
        "/api/v1/customers", {"p_alive_below": 50, "limit": 200}).json()
    assert {c["id"] for c in body["items"]} == _expected(marketer, p_alive__lt=0.5)


@pytest.mark.django_db
def test_export_carries_prediction_columns(scored, make_user, client):
    import csv
    import io

    client.force_login(make_user("marketer"))
    row = CustomerPrediction.objects.select_related("customer").order_by("-clv_12m").first()
    response = client.get("/interchange/customers/export/", {
        "format": "csv", "q": row.customer.name, "cols": ["name", "p_alive", "clv_12m"]},
        HTTP_ACCEPT_LANGUAGE="en")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content)
                                       .decode("utf-8-sig"))))
    assert rows[0] == ["Name", "P(alive)", "12-month CLV (CNY)"]
    line = next(r for r in rows[1:] if r[0] == row.customer.name)
    assert float(line[1]) == pytest.approx(row.p_alive)
    assert line[2] == str(row.clv_12m)
