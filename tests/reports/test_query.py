"""The query engine: figures equal an independent computation, scope, masking, bounds."""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.core.errors import ValidationFailed
from kehu.reports import query
from kehu.reports.query import run_report, validate_spec


def _month(order):
    return timezone.localtime(order.ordered_at).date().replace(day=1).isoformat()


def _visible(book, user):
    if user == book["manager"]:
        return [o for o in book["orders"] if o.customer.owner in (book["rep_a"], book["rep_b"])]
    return [o for o in book["orders"] if o.customer.owner == user]


def test_sum_by_month_and_region_equals_python(book):
    spec = {"subject": "orders", "measure": {"kind": "sum", "field": "total_amount"},
            "group_by": [{"field": "date", "bucket": "month"}, {"field": "region"}],
            "chart": "pivot"}
    result = run_report(spec, user=book["manager"])
    expected = defaultdict(Decimal)
    for order in _visible(book, book["manager"]):
        expected[(_month(order)[:7], order.customer.region)] += order.total_amount
    got = {(c.keys[0][:7], c.keys[1]): c.value for c in result.rows}
    assert got == dict(expected)
    assert result.total == sum(expected.values())
    # Row order: months chronologically.
    assert [c.keys[0][:7] for c in result.rows] == sorted(c.keys[0][:7] for c in result.rows)
    assert sum(c.value for c in result.first_totals) == result.total


def test_rep_counts_only_their_book(book):
    spec = {"subject": "orders", "measure": {"kind": "count"},
            "group_by": [{"field": "region"}], "chart": "bar"}
    for user in (book["rep_a"], book["rep_b"], book["manager"]):
        result = run_report(spec, user=user)
        expected = Counter(o.customer.region for o in _visible(book, user))
        assert {c.keys[0]: c.value for c in result.rows} == dict(expected)
        assert result.total == sum(expected.values())


def test_distinct_customers_and_where_and_filters(book):
    spec = {"subject": "orders", "measure": {"kind": "distinct_customers"},
            "group_by": [{"field": "order.sales_channel"}], "chart": "pie",
            "where": {"order.status": ["paid"]},
            "filters": {"type": "group", "match": "all", "conditions": [
                {"type": "field", "field": "region", "op": "eq", "value": "华东"}]}}
    result = run_report(spec, user=book["manager"])
    expected = defaultdict(set)
    for order in _visible(book, book["manager"]):
        if order.status == "paid" and order.customer.region == "华东":
            expected[order.sales_channel].add(order.customer_id)
    assert {c.keys[0]: c.value for c in result.rows} == {k: len(v) for k, v in expected.items()}
    assert result.total == len(set().union(*expected.values()))
    assert {c.labels[0] for c in result.rows} <= {"线上商城", "门店", "Online shop", "Store"}


def test_city_groups_within_province(book):
    spec = {"subject": "customers", "measure": {"kind": "count"},
            "group_by": [{"field": "city"}], "chart": "table"}
    result = run_report(spec, user=book["rep_a"])
    assert {tuple(c.keys[0]): c.value for c in result.rows} == {
        ("上海市", "上海市"): 1, ("江苏省", "南京市"): 1, ("广东省", "广州市"): 1}
    assert "江苏省 · 南京市" in {c.labels[0] for c in result.rows}


def test_masked_field_cannot_be_grouped_or_filtered(book, make_user):
    viewer = make_user("read_only")
    from kehu.accounts.models import Role

    role = Role.objects.get(code="read_only")
    role.permissions = [*role.permissions, "report.view"]
    role.field_permissions = {"customer.birthday": "masked", "customer.address": "hidden"}
    role.save()
    viewer = type(viewer).objects.get(pk=viewer.pk)
    grouped = {"subject": "customers", "group_by": [{"field": "birthday", "bucket": "month"}],
               "chart": "bar"}
    with pytest.raises(ValidationFailed) as caught:
        run_report(grouped, user=viewer)
    assert "group_by[0].field" in caught.value.details
    assert "生日" in str(caught.value.details) or "Birthday" in str(caught.value.details)
    filtered = {"subject": "customers", "chart": "table", "filters": {
        "type": "group", "match": "all", "conditions": [
            {"type": "field", "field": "birthday", "op": "after", "value": "1990-02-01"}]}}
    with pytest.raises(ValidationFailed) as caught:
        run_report(filtered, user=viewer)
    assert any(path.startswith("filters.") for path in caught.value.details)
    # The same spec is fine for someone who sees birthdays in clear.
    assert run_report(grouped, user=book["rep_a"]).total == 3


@pytest.mark.parametrize(("spec", "path"), [
    ({"subject": "planets"}, "subject"),
    ({"subject": "orders", "measure": {"kind": "median"}}, "measure.kind"),
    ({"subject": "orders", "measure": {"kind": "sum", "field": "weight"}}, "measure.field"),
    ({"subject": "orders", "group_by": [{"field": "nope"}]}, "group_by[0].field"),
    ({"subject": "orders", "group_by": [{"field": "date", "bucket": "hour"}]},
     "group_by[0].bucket"),
    ({"subject": "orders", "group_by": [{"field": "region"}] * 3}, "group_by"),
    ({"subject": "orders", "group_by": [{"field": "region"}], "chart": "pivot"}, "chart"),
    ({"subject": "orders", "where": {"order.status": ["lost"]}}, "where.order.status"),
    ({"subject": "orders", "period": {"key": "decade"}}, "period"),
    ({"subject": "orders", "colour": "red"}, "colour"),
    ({"subject": "orders", "group_by": [{"field": "tags"}]}, "group_by[0].field"),
])
def test_bad_specs_name_the_field(book, spec, path):
    with pytest.raises(ValidationFailed) as caught:
        validate_spec(spec, user=book["manager"])
    assert path in caught.value.details


def test_validation_is_idempotent(book):
    spec = {"subject": "orders", "group_by": [{"field": "date"}]}
    once = validate_spec(spec, user=book["manager"])
    assert validate_spec(once, user=book["manager"]) == once
    assert once["group_by"] == [{"field": "date", "bucket": "month"}]


def test_groups_are_bounded_and_the_rest_is_other(book, monkeypatch):
    monkeypatch.setattr(query, "MAX_GROUPS", 2)
    spec = {"subject": "orders", "measure": {"kind": "count"},
            "group_by": [{"field": "order.sales_channel"}, {"field": "city"}], "chart": "table"}
    result = run_report(spec, user=book["manager"])
    assert result.truncated
    assert len(result.rows) == 3 and result.rows[-1].keys[0] == query.OTHER
    assert sum(c.value for c in result.rows) == result.total
    distinct = dict(spec, measure={"kind": "distinct_customers"})
    result = run_report(distinct, user=book["manager"])
    assert result.rows[-1].value >= 0 and result.truncated


def test_period_filters_on_the_subject_date(book):
    spec = {"subject": "orders", "chart": "table",
            "period": {"key": "custom", "from": "2025-02-01", "to": "2025-02-28"}}
    result = run_report(spec, user=book["rep_a"])
    expected = [o for o in _visible(book, book["rep_a"]) if _month(o).startswith("2025-02")]
    assert result.total == len(expected)


def test_tickets_and_order_lines_subjects(book):
    tickets = run_report({"subject": "tickets", "group_by": [{"field": "ticket.kind"}]},
                         user=book["rep_b"])
    assert {c.keys[0]: c.value for c in tickets.rows} == {"complaint": 1, "service_request": 2}
    lines = run_report({"subject": "order_lines", "chart": "table"}, user=book["rep_b"])
    assert lines.total == 0


@pytest.mark.parametrize("spec", [
    ["orders"], {"subject": ["orders"]}, {"subject": "orders", "measure": {"kind": ["sum"]}},
    {"subject": "orders", "measure": {"kind": "sum", "field": {"a": 1}}},
    {"subject": "orders", "group_by": [{"field": "date", "bucket": ["month"]}]},
    {"subject": "orders", "group_by": [{"field": 5}]}, {"subject": "orders", "group_by": "date"},
    {"subject": "orders", "chart": ["bar"]}, {"subject": "orders", "period": {"key": 5}},
    {"subject": "orders", "where": {"order.status": [{"a": 1}]}},
    {"subject": "orders", "where": {"order.salesperson": ["x"]}},
    {"subject": "orders", "filters": [1]}, {"subject": "orders", "measure": "count"},
])
def test_garbage_is_refused_not_crashed(book, spec):
    with pytest.raises(ValidationFailed):
        validate_spec(spec, user=book["rep_a"])


def test_group_by_a_custom_field(book):
    from tests.factories import CustomFieldFactory

    CustomFieldFactory(key="grade", label="等级", field_type="choice", choices=["A", "B"])
    for index, customer in enumerate(book["customers"][:3]):
        customer.custom = {"grade": "A" if index < 2 else "B"}
        customer.save(update_fields=["custom"])
    spec = {"subject": "customers", "group_by": [{"field": "custom.grade"}], "chart": "pie"}
    result = run_report(spec, user=book["rep_a"])
    assert {c.keys[0]: c.value for c in result.rows} == {"A": 2, "B": 1}
    from kehu.reports.query import cell_rows, read_drill_token

    for cell in result.rows:
        token = cell.url.split("report_cell=")[1]
        from urllib.parse import unquote

        raw, chosen = read_drill_token(unquote(token))
        assert cell_rows(raw, chosen, user=book["rep_a"])[1].count() == cell.value
