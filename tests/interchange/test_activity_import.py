"""Importing interactions and events: customers by identifier, types in Chinese and English,
times as people type them, properties from extra columns, idempotent re-import, reports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone, translation

from kehu.core.actor import Actor
from kehu.core.errors import PermissionDenied
from kehu.interactions.models import Event, Interaction
from kehu.interchange.kinds import EXTERNAL_SYSTEM, CellInvalid, parse_moment, parse_number
from kehu.interchange.mapping import suggest_mapping
from kehu.interchange.models import ImportJob
from kehu.interchange.selectors import import_row_errors
from kehu.interchange.services import EXTERNAL_SYSTEM as CUSTOMERS_EXTERNAL_SYSTEM
from kehu.interchange.services import import_job_create, import_job_run
from tests.factories import create_customer
from tests.unchanged import db_snapshot

TZ = timezone.get_fixed_timezone(8 * 60)


@pytest.fixture
def wang(db):
    return create_customer(name="王芳", mobile="13812345678", email="wang@example.com")


def write_csv(path: Path, header, rows) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def run(actor, path: Path, kind: str, **options) -> ImportJob:
    job = import_job_create(actor=actor, file=path, filename=path.name, kind=kind,
                            overrides=options.pop("overrides", ()), options=options)
    return import_job_run(job_id=job.pk, actor=actor)


def counts(job):
    return job.rows_done, job.created, job.updated, job.unchanged, job.rejected


def errors(job):
    return [(e.row, e.column, e.value, e.reason) for e in import_row_errors(job)]


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-03-05 14:30", dt.datetime(2024, 3, 5, 14, 30, tzinfo=TZ)),
    ("2024/3/5 14:30:15", dt.datetime(2024, 3, 5, 14, 30, 15, tzinfo=TZ)),
    ("2024年3月5日 14时30分", dt.datetime(2024, 3, 5, 14, 30, tzinfo=TZ)),
    ("2024-03-05T06:30:00Z", dt.datetime(2024, 3, 5, 14, 30, tzinfo=TZ)),
    ("2024-03-05T14:30:00+08:00", dt.datetime(2024, 3, 5, 14, 30, tzinfo=TZ)),
    ("20240305", dt.datetime(2024, 3, 5, 0, 0, tzinfo=TZ)),
    ("２０２４-０３-０５ ０９:０５", dt.datetime(2024, 3, 5, 9, 5, tzinfo=TZ)),
])
def test_times_as_people_type_them(settings, text, expected):
    settings.TIME_ZONE = "Asia/Shanghai"
    assert parse_moment(text) == expected


@pytest.mark.parametrize("text", ["2024-02-30", "昨天", "2024-03-05 25:00", "14:30"])
def test_impossible_times(text):
    with pytest.raises(CellInvalid):
        parse_moment(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("1,280.50", "1280.50"), ("￥99", "99"), ("3件", "3"), ("(12.00)", "-12.00"),
    ("-5", "-5"), ("１２", "12"), ("99元", "99"), ("RMB 10", "10")])
def test_numbers_as_people_type_them(text, expected):
    assert str(parse_number(text)) == expected


def test_external_ids_are_looked_up_where_the_customers_import_files_them():
    assert EXTERNAL_SYSTEM == CUSTOMERS_EXTERNAL_SYSTEM


@pytest.mark.parametrize(("kind", "header", "field"), [
    ("orders", "订单号", "order_no"), ("orders", "订单编号", "order_no"),
    ("orders", "Order No", "order_no"), ("orders", "商品编码", "sku"), ("orders", "SKU", "sku"),
    ("orders", "商品名称", "product_name"), ("orders", "数量", "quantity"),
    ("orders", "单价", "unit_price"), ("orders", "金额", "amount"),
    ("orders", "实付金额", "amount"), ("orders", "下单时间", "ordered_at"),
    ("orders", "订单日期", "ordered_at"), ("orders", "订单状态", "status"),
    ("orders", "客户手机", "mobile"), ("orders", "会员编号", "external_id"),
    ("orders", "优惠金额", "discount"), ("orders", "支付方式", "payment_method"),
    ("interactions", "互动类型", "kind"), ("interactions", "渠道", "channel"),
    ("interactions", "时间", "occurred_at"), ("interactions", "内容", "summary"),
    ("interactions", "备注", "summary"), ("interactions", "结果", "outcome"),
    ("interactions", "客户邮箱", "email"),
    ("events", "事件名称", "event_type"), ("events", "发生时间", "occurred_at"),
    ("events", "来源", "source"), ("events", "页面", "property"),
    ("events", "Event Name", "event_type"),
])
def test_header_synonyms_per_kind(kind, header, field):
    assert suggest_mapping([header], kind=kind) == {0: field}


INTERACTIONS = ["客户手机", "互动类型", "方向", "渠道", "时间", "内容", "结果"]


def test_interactions_import_and_reimport(actor, wang, tmp_path):
    path = write_csv(tmp_path / "i.csv", INTERACTIONS, [
        ["13812345678", "电话", "呼入", "400热线", "2024-03-05 14:30", "询问保修", "已解答"],
        ["13812345678", "拜访", "", "", "2024/3/6 10:00", "上门演示", ""],
        ["13812345678", "拜访", "", "", "2024/3/6 10:00", "上门演示", ""],
        ["13900000000", "电话", "", "", "2024-03-07", "打错了", ""],
        ["13812345678", "飞鸽", "", "", "2024-03-07", "x", ""],
        ["13812345678", "", "", "", "2024-03-07", "", ""],
    ])
    with translation.override("en"):
        job = run(actor, path, "interactions")
        assert counts(job) == (6, 2, 0, 1, 3)
        assert errors(job) == [
            (5, "客户手机", "13900000000", "No customer has this identifier."),
            (6, "互动类型", "飞鸽", "“飞鸽” is not one of the choices."),
            (7, "内容", "", "Write what happened.")]
    rows = list(Interaction.objects.order_by("occurred_at").values_list(
        "customer_id", "kind", "direction", "channel", "summary", "outcome", "occurred_at"))
    assert rows == [
        (wang.pk, "call", "inbound", "400热线", "询问保修", "已解答",
         dt.datetime(2024, 3, 5, 14, 30, tzinfo=TZ)),
        (wang.pk, "visit", "outbound", "", "上门演示", "", dt.datetime(2024, 3, 6, 10, tzinfo=TZ))]
    again = run(actor, path, "interactions")
    assert counts(again) == (6, 0, 0, 3, 3)
    assert Interaction.objects.count() == 2


EVENTS = ["客户邮箱", "事件名称", "发生时间", "来源", "页面", "商品"]


def test_events_import_properties_and_reimport(actor, wang, tmp_path):
    path = write_csv(tmp_path / "e.csv", EVENTS, [
        ["WANG@example.com", "浏览商品", "2024-03-05 14:30:00", "web", "/p/1", "保温杯"],
        ["wang@example.com", "coupon_used", "2024-03-05 14:31", "", "", ""],
        ["wang@example.com", "page_view", "2024-03-05 14:32", "app", "/home", ""],
        ["wang@example.com", "坏 事件!", "2024-03-05 14:33", "", "", ""],
        ["nobody@example.com", "page_view", "2024-03-05 14:34", "", "", ""],
        ["wang@example.com", "page_view", "", "", "", ""],
    ])
    with translation.override("en"):
        job = run(actor, path, "events")
        assert counts(job) == (6, 3, 0, 0, 3)
        assert errors(job) == [
            (5, "事件名称", "坏 事件!", "Use lower-case letters, digits and _ . : - (at most 40)."),
            (6, "客户邮箱", "nobody@example.com", "No customer has this identifier."),
            (7, "发生时间", "", "Give the time.")]
    events = list(Event.objects.order_by("occurred_at").values_list(
        "event_type", "source", "properties"))
    assert events == [("product_view", "web", {"页面": "/p/1", "商品": "保温杯"}),
                      ("coupon_used", "", {}), ("page_view", "app", {"页面": "/home"})]
    assert counts(run(actor, path, "events")) == (6, 0, 0, 3, 3)
    assert Event.objects.count() == 3


def test_activity_needs_interaction_add(make_user, wang, tmp_path):
    steward = make_user("data_steward")
    path = write_csv(tmp_path / "e.csv", EVENTS, [["wang@example.com", "page_view",
                                                   "2024-03-05", "", "", ""]])
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        import_job_create(actor=Actor(user=steward), file=path, filename="e.csv", kind="events")
    assert db_snapshot() == before


def test_out_of_scope_customers_are_not_found(make_user, tmp_path):
    rep = make_user("sales_rep")
    other = make_user("sales_rep")
    create_customer(name="别人的客户", mobile="13700000000", owner=other)
    rep.role.permissions = [*rep.role.permissions, "customer.import"]
    rep.role.save()
    path = write_csv(tmp_path / "i.csv", INTERACTIONS, [
        ["13700000000", "电话", "", "", "2024-03-05", "试探", ""]])
    with translation.override("en"):
        job = run(Actor(user=rep), path, "interactions")
        assert errors(job) == [(2, "客户手机", "13700000000", "No customer has this identifier.")]
    assert Interaction.objects.count() == 0


def test_cli_events_json(admin_user, wang, tmp_path, capsys):
    path = write_csv(tmp_path / "e.csv", ["手机", "事件", "时间", "城市"],
                     [["13812345678", "app_login", "2024-03-05 08:00", "杭州"]])
    call_command("import", str(path), "--kind", "events", "--map", "城市=property", "--json")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {k: summary[k] for k in ("rows", "created", "unchanged", "rejected")} == {
        "rows": 1, "created": 1, "unchanged": 0, "rejected": 0}
    assert Event.objects.get().properties == {"城市": "杭州"}


def test_interactions_skip_invalid_fields_imports_rows_without_their_bad_cells(
        actor, wang, tmp_path):
    """With --skip-invalid-fields a bad kind, direction, channel or outcome is reported and
    left out (the empty cell's default applies); a bad time or summary still rejects."""
    path = write_csv(tmp_path / "i.csv", INTERACTIONS, [
        ["13812345678", "飞鸽", "侧向", "4" * 200, "2024-03-05 14:30", "询问保修", "已解答"],
        ["13812345678", "电话", "", "", "2024-02-30", "x", ""],
    ])
    with translation.override("en"):
        plain = run(actor, path, "interactions", dry_run=True)
        assert counts(plain) == (2, 0, 0, 0, 2)
        job = run(actor, path, "interactions", skip_invalid_fields=True)
        assert counts(job) == (2, 1, 0, 0, 1)
        assert [(row, column) for row, column, _value, _reason in errors(job)] == [
            (2, "互动类型"), (2, "方向"), (2, "渠道"), (3, "时间")]
    assert list(Interaction.objects.values_list("kind", "direction", "channel", "summary",
                                                "outcome")) == [
        ("note", "outbound", "", "询问保修", "已解答")]


def test_events_skip_invalid_fields_leaves_out_a_too_long_source(actor, wang, tmp_path):
    path = write_csv(tmp_path / "e.csv", EVENTS, [
        ["wang@example.com", "page_view", "2024-03-05 14:30", "s" * 500, "/home", ""],
        ["wang@example.com", "坏 事件!", "2024-03-05 14:33", "", "", ""]])
    assert counts(run(actor, path, "events", dry_run=True)) == (2, 0, 0, 0, 2)
    job = run(actor, path, "events", skip_invalid_fields=True)
    assert counts(job) == (2, 1, 0, 0, 1)
    assert [(row, column) for row, column, _v, _r in errors(job)] == [(2, "来源"), (3, "事件名称")]
    assert list(Event.objects.values_list("event_type", "source", "properties")) == [
        ("page_view", "", {"页面": "/home"})]
