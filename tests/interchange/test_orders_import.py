"""Importing orders: lines grouped by order number, customers by identifier, products by SKU
or name, amounts and dates as people type them, statuses in Chinese and English, refunds,
idempotent re-import, exact row/column/value/reason reports, the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone, translation

from kehu.core.actor import Actor
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.customers.services import identifier_add
from kehu.interchange.models import ImportJob
from kehu.interchange.selectors import import_row_errors
from kehu.interchange.services import import_job_create, import_job_run
from kehu.transactions.models import Order, OrderLine, Product
from tests.factories import ProductFactory, create_customer
from tests.interchange.conftest import committed_elsewhere
from tests.unchanged import db_snapshot

HEADER = ["订单号", "客户手机", "商品编码", "商品名称", "数量", "单价", "实付金额", "下单时间",
          "订单状态", "支付方式"]


@pytest.fixture
def shop(db):
    wang = create_customer(name="王芳", mobile="13812345678")
    li = create_customer(name="李雷", email="li@example.com")
    identifier_add(actor=Actor.system(via="system"), customer=li, kind="external",
                   value="VIP-7", system="import", source="import")
    cup = ProductFactory(sku="CUP-1", name="保温杯", unit_price=Decimal("99.00"))
    tea = ProductFactory(sku="TEA-2", name="龙井茶", unit_price=Decimal("268.00"))
    return {"wang": wang, "li": li, "cup": cup, "tea": tea}


def write_csv(path: Path, rows, *, header=HEADER, encoding="utf-8") -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def run(actor, path: Path, **options) -> ImportJob:
    overrides = options.pop("overrides", ())
    job = import_job_create(actor=actor, file=path, filename=path.name, overrides=overrides,
                            options=options, kind="orders")
    return import_job_run(job_id=job.pk, actor=actor)


def counts(job: ImportJob) -> tuple[int, int, int, int, int]:
    return job.rows_done, job.created, job.updated, job.unchanged, job.rejected


def errors(job: ImportJob) -> list[tuple[int, str, str, str]]:
    return [(e.row, e.column, e.value, e.reason) for e in import_row_errors(job)]


ROWS = [
    ["SO-1", "138 1234 5678", "CUP-1", "", "2", "99", "198.00", "2024/3/5 14:30", "已完成", "微信"],
    ["SO-1", "13812345678", "TEA-2", "", "1件", "¥268", "", "2024-03-05 14:30:00", "", ""],
    ["SO-2", "", "", "龙井茶", "3", "", "700", "2024年4月1日", "paid", "支付宝"],
]


def test_orders_lines_customers_products_and_values(actor, shop, tmp_path):
    with translation.override("en"):
        job = run(actor, write_csv(tmp_path / "orders.csv", ROWS))
        # SO-2 names no customer: rejected with the reason on the identifier column.
        assert counts(job) == (3, 2, 0, 0, 1)
        assert errors(job) == [(4, "客户手机", "", "Give the customer's mobile, email, ID "
                                                   "number or external id.")]
    order = Order.objects.get(number="SO-1")
    assert order.customer == shop["wang"]
    assert order.status == "completed"
    assert order.payment_method == "wechat_pay"
    assert order.ordered_at == dt.datetime(2024, 3, 5, 14, 30,
                                           tzinfo=timezone.get_current_timezone())
    assert [(line.product.sku, line.quantity, line.unit_price, line.amount)
            for line in order.lines.order_by("id")] == [
        ("CUP-1", Decimal("2.00"), Decimal("99.00"), Decimal("198.00")),
        ("TEA-2", Decimal("1.00"), Decimal("268.00"), Decimal("268.00"))]
    assert order.total_amount == Decimal("466.00")


def test_product_by_name_amount_discount_and_external_id(actor, shop, tmp_path):
    header = ["订单编号", "会员编号", "商品名称", "数量", "单价", "优惠金额", "订单日期", "状态"]
    path = write_csv(tmp_path / "o.csv", [
        ["A-9", "VIP-7", "龙井茶", "2", "268", "36", "20240401", "已付款"],
    ], header=header)
    job = run(actor, path)
    assert counts(job) == (1, 1, 0, 0, 0)
    order = Order.objects.get(number="A-9")
    assert order.customer == shop["li"]
    assert order.status == "paid"
    line = order.lines.get()
    assert (line.quantity, line.unit_price, line.amount) == (
        Decimal("2.00"), Decimal("250.00"), Decimal("500.00"))


def test_reimporting_the_same_file_changes_nothing_and_status_moves(actor, shop, tmp_path):
    path = write_csv(tmp_path / "orders.csv", ROWS[:2])
    assert counts(run(actor, path)) == (2, 2, 0, 0, 0)
    lines, orders = OrderLine.objects.count(), Order.objects.count()
    assert counts(run(actor, path)) == (2, 0, 0, 2, 0)
    assert (OrderLine.objects.count(), Order.objects.count()) == (lines, orders)
    paid = [r[:] for r in ROWS[:2]]
    paid[0][8] = "已付款"
    Order.objects.filter(number="SO-1").update(status="paid")
    shipped = [r[:] for r in paid]
    shipped[0][8] = "已发货"
    assert counts(run(actor, write_csv(tmp_path / "s.csv", shipped))) == (2, 0, 2, 0, 0)
    assert Order.objects.get(number="SO-1").status == "shipped"
    # shipped -> refunded is not a move the order service allows: reported, nothing changes.
    refunded = [r[:] for r in paid]
    refunded[0][8] = "已退款"
    with translation.override("en"):
        job = run(actor, write_csv(tmp_path / "r.csv", refunded))
        assert counts(job) == (2, 0, 0, 0, 2)
        assert errors(job) == [
            (2, "订单状态", "已退款", "An order cannot go from “Shipped” to “Refunded”."),
            (3, "订单号", "SO-1", "Row 2 of the same order is invalid, so the order was not "
                                  "imported.")]
    assert Order.objects.get(number="SO-1").status == "shipped"


def test_refund_rows_are_stored_as_refunded_orders(actor, shop, tmp_path):
    path = write_csv(tmp_path / "r.csv", [
        ["RF-1", "13812345678", "CUP-1", "", "-1", "99", "-99", "2024-05-01", "", ""],
        ["RF-2", "13812345678", "CUP-1", "", "1", "99", "", "2024-05-01", "已退货", ""],
        ["RF-3", "13812345678", "CUP-1", "", "-1", "99", "", "2024-05-01", "已完成", ""],
        ["RF-4", "13812345678", "CUP-1", "", "1", "99", "", "2024-05-01", "", ""],
        ["RF-4", "13812345678", "TEA-2", "", "-1", "268", "", "2024-05-01", "", ""],
    ])
    with translation.override("en"):
        job = run(actor, path)
        assert counts(job) == (5, 2, 0, 0, 3)
        assert errors(job) == [
            (4, "订单状态", "已完成", "A negative quantity or amount marks a return, but the "
                                     "status is “已完成”."),
            (5, "订单号", "RF-4", "Row 6 of the same order is invalid, so the order was not "
                                  "imported."),
            (6, "数量", "-1", "An order cannot mix sold and returned lines; give the return its "
                              "own order number.")]
    refund = Order.objects.get(number="RF-1")
    assert refund.status == "refunded"
    assert refund.total_amount == Decimal("99.00")
    assert Order.objects.get(number="RF-2").status == "returned"


def test_invalid_values_are_reported_with_row_column_value_reason(actor, shop, tmp_path):
    path = write_csv(tmp_path / "bad.csv", [
        ["B-1", "12345", "CUP-1", "", "1", "99", "", "2024-05-01", "", ""],
        ["B-2", "13900000000", "CUP-1", "", "1", "99", "", "2024-05-01", "", ""],
        ["B-3", "13812345678", "NOPE", "", "1", "99", "", "2024-05-01", "", ""],
        ["B-4", "13812345678", "CUP-1", "", "abc", "99", "", "2024-02-30", "", ""],
        ["B-5", "13812345678", "CUP-1", "", "1", "99", "", "2099-01-01", "已发", "比特币"],
        ["", "13812345678", "CUP-1", "", "1", "99", "", "2024-05-01", "", ""],
    ])
    with translation.override("en"):
        job = run(actor, path)
        assert counts(job) == (6, 0, 0, 0, 6)
        assert errors(job) == [
            (2, "客户手机", "12345", "Enter a valid phone number."),
            (3, "客户手机", "13900000000", "No customer has this identifier."),
            (4, "商品编码", "NOPE", "No product has the SKU “NOPE”; add it to the catalogue or "
                                   "import with the option to create missing products."),
            (5, "数量", "abc", "Enter a number such as 12.50."),
            (5, "下单时间", "2024-02-30", "This date does not exist."),
            (6, "订单状态", "已发", "“已发” is not one of the choices."),
            (6, "支付方式", "比特币", "“比特币” is not one of the choices."),
            (7, "订单号", "", "Give the order number.")]
    # A future time passes the cleaning and is refused by order_create itself.
    with translation.override("en"):
        job = run(actor, write_csv(tmp_path / "future.csv", [
            ["F-1", "13812345678", "CUP-1", "", "1", "99", "", "2099-01-01", "", ""]]))
        assert errors(job) == [(2, "下单时间", "2099-01-01", "The time cannot be in the future.")]
    assert Order.objects.count() == 0


def test_create_products_option_and_ambiguous_names(actor, shop, tmp_path):
    ProductFactory(sku="TEA-3", name="龙井茶", unit_price=Decimal("300.00"))
    path = write_csv(tmp_path / "p.csv", [
        ["N-1", "13812345678", "NEW-1", "新杯子", "1", "59", "", "2024-05-01", "", ""],
        ["N-2", "13812345678", "", "龙井茶", "1", "", "", "2024-05-01", "", ""],
    ])
    with translation.override("en"):
        job = run(actor, path, create_products=True)
        assert counts(job) == (2, 1, 0, 0, 1)
        assert errors(job) == [(3, "商品名称", "龙井茶", "2 products are named “龙井茶”; give "
                                                        "the SKU.")]
    product = Product.objects.get(sku="NEW-1")
    assert (product.name, product.unit_price) == ("新杯子", Decimal("59.00"))
    assert Order.objects.get(number="N-1").lines.get().product == product


def test_lines_of_an_order_must_be_adjacent_and_keep_one_customer(actor, shop, tmp_path):
    path = write_csv(tmp_path / "a.csv", [
        ["X-1", "13812345678", "CUP-1", "", "1", "", "", "2024-05-01", "", ""],
        ["X-2", "13812345678", "CUP-1", "", "1", "", "", "2024-05-01", "", ""],
        ["X-1", "13812345678", "TEA-2", "", "1", "", "", "2024-05-01", "", ""],
    ])
    with translation.override("en"):
        job = run(actor, path)
        assert counts(job) == (3, 2, 0, 0, 1)
        assert errors(job) == [(4, "订单号", "X-1", "The lines of order “X-1” must be next to "
                                                   "each other; it also appears at row 2.")]
        # Unchanged on re-import, and the same report.
        again = run(actor, path)
        assert counts(again) == (3, 0, 0, 2, 1)
        assert errors(again) == errors(job)


def test_required_columns_permission_and_dry_run(actor, make_user, shop, tmp_path):
    path = write_csv(tmp_path / "x.csv", [["SO-1", "2"]], header=["订单号", "数量"])
    steward = make_user("data_steward")  # may import customers, may not manage orders
    before = db_snapshot()
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        import_job_create(actor=actor, file=path, filename="x.csv", kind="orders")
    assert caught.value.code == "missing_column"
    assert str(caught.value.message) == (
        "“x.csv” has no column for Customer mobile / Customer email / Customer ID number / "
        "Customer external id; Order date; SKU / Product name; its columns are: 订单号、数量.")
    with pytest.raises(PermissionDenied):
        import_job_create(actor=Actor(user=steward), file=write_csv(tmp_path / "o.csv", ROWS),
                          filename="o.csv", kind="orders")
    assert db_snapshot() == before
    job = run(actor, write_csv(tmp_path / "o.csv", ROWS[:2]), dry_run=True)
    assert counts(job) == (2, 2, 0, 0, 0)
    assert Order.objects.count() == 0


def test_cli_orders_json_and_map(admin_user, shop, tmp_path, capsys):
    path = write_csv(tmp_path / "o.csv", [["SO-7", "13812345678", "CUP-1", "2", "2024-06-01"]],
                     header=["单据", "电话号", "SKU", "数量", "日期"])
    call_command("import", str(path), "--kind", "orders", "--map", "单据=order_no",
                 "--map", "电话号=mobile", "--json")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["rows"] == 1 and summary["created"] == 1 and summary["rejected"] == 0
    assert set(summary) == {"rows", "created", "updated", "unchanged", "rejected", "report"}
    call_command("import", str(path), "--kind", "orders", "--map", "单据=order_no",
                 "--map", "电话号=mobile", "--json")
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["created"], summary["unchanged"]) == (0, 1)
    with pytest.raises(CommandError, match="order_no"):
        call_command("import", str(path), "--kind", "orders", "--map", "单据=nothing")


def test_skip_invalid_fields_leaves_out_payment_channel_and_notes_only(actor, shop, tmp_path):
    """A bad payment method is reported and left out; a bad status, time or amount still
    rejects the whole order (an order without them would be another order)."""
    rows = [["SO-1", "13812345678", "CUP-1", "", "2", "99", "", "2024/3/5 14:30", "已完成",
             "贝壳"],
            ["SO-2", "13812345678", "TEA-2", "", "1", "268", "", "2024/3/6", "飞走了", "微信"]]
    path = write_csv(tmp_path / "orders.csv", rows)
    assert counts(run(actor, path, dry_run=True)) == (2, 0, 0, 0, 2)
    job = run(actor, path, skip_invalid_fields=True)
    assert counts(job) == (2, 1, 0, 0, 1)
    assert [(row, column) for row, column, _v, _r in errors(job)] == [(2, "支付方式"),
                                                                       (3, "订单状态")]
    order = Order.objects.get()
    assert (order.number, order.payment_method, order.status) == ("SO-1", "", "completed")
    again = run(actor, path, skip_invalid_fields=True)
    assert counts(again) == (2, 0, 0, 1, 1)


def test_an_orders_chunk_meeting_a_concurrent_order_number_runs_again(actor, shop, tmp_path,
                                                                       monkeypatch):
    """Another writer's order number committed between a chunk's lookups and its inserts
    fails the chunk on the unique constraint (PostgreSQL); the chunk is rolled back and run
    again. Simulated: the first write of the chunk raises; the result is an undisturbed
    run's, with the products it created and its skipped cells reported once."""
    from django.db import IntegrityError

    from kehu.interchange import orders_import

    real, calls = orders_import.orders_record_many, []

    def record(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("duplicate key value violates unique constraint")
        return real(**kwargs)

    monkeypatch.setattr(orders_import, "orders_record_many", record)
    rows = [["SO-1", "13812345678", "NEW-1", "新品", "2", "99", "", "2024/3/5 14:30", "已完成",
             "贝壳"]]
    job = run(actor, write_csv(tmp_path / "orders.csv", rows), create_products=True,
              skip_invalid_fields=True)
    assert counts(job) == (1, 1, 0, 0, 0) and len(calls) == 2
    assert [(row, column) for row, column, _v, _r in errors(job)] == [(2, "支付方式")]
    assert Product.objects.filter(sku="NEW-1").count() == 1
    assert (Order.objects.get().number, OrderLine.objects.count()) == ("SO-1", 1)


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"),
                    reason="SQLite lets one writer at a time: a concurrent order waits for "
                           "the chunk, so the conflict cannot arise there")
@pytest.mark.django_db(transaction=True)
def test_an_order_number_taken_elsewhere_during_a_chunk_is_reported_not_duplicated(
        admin_user, tmp_path, monkeypatch):
    """PostgreSQL, for real: between a chunk's lookups and its inserts another connection
    records order SO-1 for another customer (the chunk's own customers are locked, so an
    order for them waits for the chunk instead). The chunk's insert fails on the order
    number, the chunk runs again, and SO-1 is then found and reported as different."""
    from kehu.interchange import orders_import
    from kehu.transactions.services import order_create

    create_customer(name="王芳", mobile="13812345678")
    li = create_customer(name="李雷", mobile="13912345678")
    cup = ProductFactory(sku="CUP-1", name="保温杯", unit_price=Decimal("99.00"))
    actor = Actor(user=admin_user, via="web")
    when = timezone.make_aware(dt.datetime(2024, 3, 5, 14, 30))
    real, calls = orders_import.orders_record_many, []

    def record(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            committed_elsewhere(lambda: order_create(
                actor=Actor(user=admin_user, via="web"), customer=li,
                lines=[{"product": cup, "quantity": 2, "unit_price": Decimal("99.00")}],
                number="SO-1", ordered_at=when, status="completed"))
        return real(**kwargs)

    monkeypatch.setattr(orders_import, "orders_record_many", record)
    rows = [["SO-1", "13812345678", "CUP-1", "", "2", "99", "", "2024/3/5 14:30", "已完成", ""],
            ["SO-2", "13812345678", "CUP-1", "", "1", "99", "", "2024/3/6 10:00", "已完成", ""]]
    job = run(actor, write_csv(tmp_path / "orders.csv", rows))
    assert len(calls) == 2
    assert counts(job) == (2, 1, 0, 0, 1)
    assert [row for row, *_rest in errors(job)] == [2]
    assert sorted(Order.objects.values_list("number", "customer__name")) == [
        ("SO-1", "李雷"), ("SO-2", "王芳")]
