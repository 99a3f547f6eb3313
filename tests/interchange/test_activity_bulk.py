"""The set-based orders and interactions imports: the same records, history and last activity
as the services write one by one, whatever the chunk size, in a number of queries that does
not grow with the rows."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from kehu.core.audit import audit_verify
from kehu.core.models import AuditEntry
from kehu.customers.models import Customer
from kehu.interactions.models import Event, Interaction
from kehu.interactions.services import interaction_log
from kehu.interchange import services as interchange_services
from kehu.transactions.models import Order
from kehu.transactions.services import order_create, order_update_status
from tests.factories import ProductFactory, create_customer
from tests.interchange.test_activity_import import INTERACTIONS
from tests.interchange.test_activity_import import errors as activity_errors
from tests.interchange.test_activity_import import run as run_activity
from tests.interchange.test_activity_import import write_csv as write_activity_csv
from tests.interchange.test_orders_import import counts, errors, run, write_csv

TZ = timezone.get_fixed_timezone(8 * 60)


@pytest.fixture
def shop(db):
    return {
        "wang": create_customer(name="王芳", mobile="13812345678"),
        "li": create_customer(name="李雷", mobile="13912345678"),
        "cup": ProductFactory(sku="CUP-1", name="保温杯", unit_price=Decimal("99.00")),
        "tea": ProductFactory(sku="TEA-2", name="龙井茶", unit_price=Decimal("268.00")),
    }


def _line(number, mobile, sku, quantity, at, status="", price="99"):
    return [number, mobile, sku, "", quantity, price, "", at, status, ""]


MIXED = [
    _line("M-1", "13812345678", "CUP-1", "2", "2024-03-05 10:00", "已完成"),
    _line("M-1", "13812345678", "TEA-2", "1", "2024-03-05 10:00", price="268"),
    _line("M-2", "13912345678", "CUP-1", "1", "2024-03-07 09:00", "已取消"),
    _line("M-3", "13812345678", "CUP-1", "abc", "2024-03-06 10:00"),  # rejected
    _line("M-3", "13812345678", "TEA-2", "1", "2024-03-06 10:00"),
    _line("M-4", "13912345678", "CUP-1", "1", "2024-03-04 08:00", "已付款"),
    _line("M-5", "13812345678", "TEA-2", "-1", "2024-03-08 11:00"),  # a return: refunded
    _line("M-1", "13812345678", "CUP-1", "2", "2024-03-05 10:00"),  # not adjacent: rejected
    _line("M-6", "13800000000", "CUP-1", "1", "2024-03-05 10:00"),  # no customer
]


def _orders() -> list[tuple]:
    return [(o.number, o.customer.name, o.status, o.ordered_at, o.total_amount,
             o.payment_method, [(line.product.sku, line.quantity, line.unit_price, line.amount)
                                for line in o.lines.order_by("id")])
            for o in Order.objects.order_by("number")]


def _history(since: int) -> list[tuple]:
    """The audit entries after `since`, without the ids that differ between runs."""
    entries = []
    for entry in AuditEntry.objects.filter(seq__gt=since).order_by("seq"):
        changes = {k: v for k, v in entry.changes.items() if k != "customer"}
        entries.append((entry.action, entry.object_type, entry.object_repr, changes))
    return entries


def _last_activity() -> dict[str, dt.datetime | None]:
    return dict(Customer.objects.values_list("name", "last_activity_at"))


def test_chunk_boundaries_give_the_results_of_one_chunk(actor, shop, tmp_path, monkeypatch):
    path = write_csv(tmp_path / "mixed.csv", MIXED)
    outcomes = []
    for chunk_rows in (5000, 1, 2):
        monkeypatch.setattr(interchange_services, "CHUNK_ROWS", chunk_rows)
        since = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        with translation.override("en"):
            job = run(actor, path)
            outcomes.append((counts(job), errors(job), _orders(), _history(since),
                             _last_activity()))
        Order.objects.all().delete()
        Customer.objects.update(last_activity_at=None)
    assert outcomes[1] == outcomes[0]
    assert outcomes[2] == outcomes[0]
    assert outcomes[0][0] == (9, 5, 0, 0, 4)
    assert [number for number, *_rest in outcomes[0][2]] == ["M-1", "M-2", "M-4", "M-5"]
    assert outcomes[0][4] == {"王芳": dt.datetime(2024, 3, 8, 11, tzinfo=TZ),
                              "李雷": dt.datetime(2024, 3, 4, 8, tzinfo=TZ)}
    assert audit_verify().ok


def test_audit_entries_are_those_the_services_write(actor, shop, tmp_path):
    path = write_csv(tmp_path / "o.csv", [
        _line("A-1", "13812345678", "CUP-1", "2", "2024-03-05 10:00", "已付款"),
        _line("A-1", "13812345678", "TEA-2", "1", "2024-03-05 10:00", price="250"),
    ])
    run(actor, path)
    imported = AuditEntry.objects.get(action="order.create", object_repr="A-1")
    by_service = order_create(
        actor=actor, customer=shop["wang"], number="S-1", status="paid",
        ordered_at=dt.datetime(2024, 3, 5, 10, tzinfo=timezone.get_current_timezone()),
        lines=[{"product": shop["cup"], "quantity": 2, "unit_price": Decimal("99")},
               {"product": shop["tea"], "quantity": 1, "unit_price": Decimal("250")}])
    service = AuditEntry.objects.get(action="order.create", object_repr="S-1")
    assert imported.changes.pop("number") == {"before": None, "after": "A-1"}
    assert service.changes.pop("number") == {"before": None, "after": "S-1"}
    assert imported.changes == service.changes
    assert imported.changes["total_amount"] == {"before": None, "after": "448.00"}
    assert (imported.object_type, imported.object_id) == (
        "order", str(Order.objects.get(number="A-1").pk))
    # A status move: one "order.status" entry with the service's changes.
    shipped = write_csv(tmp_path / "s.csv", [
        _line("A-1", "13812345678", "CUP-1", "2", "2024-03-05 10:00", "已发货"),
        _line("A-1", "13812345678", "TEA-2", "1", "2024-03-05 10:00", price="250"),
    ])
    assert counts(run(actor, shipped)) == (2, 0, 2, 0, 0)
    order_update_status(actor=actor, order=by_service, status="shipped")
    moves = list(AuditEntry.objects.filter(action="order.status").order_by("seq"))
    assert [entry.object_repr for entry in moves] == ["A-1", "S-1"]
    assert moves[0].changes == moves[1].changes == {
        "status": {"before": "paid", "after": "shipped"}}
    assert Order.objects.get(number="A-1").status == "shipped"
    assert audit_verify().ok


def test_last_activity_moves_forward_never_back_and_not_for_cancelled(actor, shop, tmp_path):
    later = dt.datetime(2024, 6, 1, 12, tzinfo=TZ)
    Customer.objects.filter(pk=shop["li"].pk).update(last_activity_at=later)
    path = write_csv(tmp_path / "o.csv", [
        _line("L-1", "13812345678", "CUP-1", "1", "2024-03-05 10:00"),
        _line("L-2", "13812345678", "CUP-1", "1", "2024-04-05 10:00"),
        _line("L-3", "13812345678", "CUP-1", "1", "2024-03-01 10:00"),
        _line("L-4", "13812345678", "CUP-1", "1", "2024-05-05 10:00", "已取消"),
        _line("L-5", "13912345678", "CUP-1", "1", "2024-03-05 10:00"),
    ])
    assert counts(run(actor, path)) == (5, 5, 0, 0, 0)
    assert _last_activity() == {"王芳": dt.datetime(2024, 4, 5, 10, tzinfo=TZ), "李雷": later}
    versions = set(Customer.objects.values_list("version", flat=True))
    assert versions == {1}  # the touch is not a change of the card


def test_queries_do_not_grow_with_the_orders(actor, shop, tmp_path):
    def queries_for(orders: int, name: str) -> int:
        rows = []
        for n in range(orders):
            rows += [_line(f"{name}-{n}", "13812345678", "CUP-1", "1", "2024-03-05 10:00"),
                     _line(f"{name}-{n}", "13912345678" if n % 2 else "13812345678",
                           "TEA-2", "1", "2024-03-05 10:00", price="268")]
        path = write_csv(tmp_path / f"{name}.csv", rows)
        with CaptureQueriesContext(connection) as captured:
            job = run(actor, path)
        assert job.rejected == 2 * (orders // 2)  # orders whose lines name two customers
        return len(captured.captured_queries)

    queries_for(2, "warm")  # first-use queries (the audit chain head …) out of the way
    assert queries_for(4, "few") == queries_for(40, "many")


def test_interactions_history_activity_and_chunks(actor, shop, tmp_path, monkeypatch):
    path = write_activity_csv(tmp_path / "i.csv", INTERACTIONS, [
        ["13812345678", "电话", "呼入", "400热线", "2024-03-05 14:30", "询问保修", "已解答"],
        ["13812345678", "拜访", "", "", "2024-03-09 10:00", "上门演示", ""],
        ["13912345678", "微信", "", "", "2024-03-02 10:00", "发了报价", ""],
        ["13812345678", "拜访", "", "", "2024-03-09 10:00", "上门演示", ""],  # in-file repeat
        ["13812345678", "电话", "", "", "2099-01-01 10:00", "未来", ""],  # refused by the rule
    ])
    results = []
    for chunk_rows in (5000, 2):
        monkeypatch.setattr(interchange_services, "CHUNK_ROWS", chunk_rows)
        since = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
        with translation.override("en"):
            job = run_activity(actor, path, "interactions")
            results.append((counts(job), activity_errors(job), _history(since),
                            _last_activity(),
                            list(Interaction.objects.order_by("occurred_at").values_list(
                                "customer__name", "kind", "direction", "summary", "actor"))))
        Interaction.objects.all().delete()
        Customer.objects.update(last_activity_at=None)
    assert results[1] == results[0]
    assert results[0][0] == (5, 3, 0, 1, 1)
    assert results[0][1] == [(6, "时间", "2099-01-01 10:00", "The time cannot be in the future.")]
    assert results[0][3] == {"王芳": dt.datetime(2024, 3, 9, 10, tzinfo=TZ),
                             "李雷": dt.datetime(2024, 3, 2, 10, tzinfo=TZ)}
    assert [row[4] for row in results[0][4]] == [actor.user.pk] * 3
    # The entry interaction_log writes for the same interaction.
    since = AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first()
    interaction_log(actor=actor, customer=shop["wang"], kind="call", summary="询问保修",
                    occurred_at=dt.datetime(2024, 3, 5, 14, 30, tzinfo=TZ), direction="inbound",
                    channel="400热线", outcome="已解答")
    assert results[0][2][0] == _history(since)[0]
    assert results[0][2][0][:3] == ("interaction.create", "interaction", "王芳")
    assert len(results[0][2]) == 3
    assert audit_verify().ok


def test_activity_dry_run_writes_nothing(actor, shop, tmp_path):
    path = write_activity_csv(tmp_path / "i.csv", INTERACTIONS, [
        ["13812345678", "电话", "", "", "2024-03-05 14:30", "询问保修", ""]])
    before = AuditEntry.objects.count()
    job = run_activity(actor, path, "interactions", dry_run=True)
    assert counts(job) == (1, 1, 0, 0, 0)
    assert (Interaction.objects.count(), AuditEntry.objects.count()) == (0, before)
    assert Customer.objects.get(pk=shop["wang"].pk).last_activity_at is None


def test_events_reimport_in_another_zone_is_unchanged(actor, shop, tmp_path):
    header = ["客户手机", "事件名称", "发生时间", "来源", "页面"]
    path = write_activity_csv(tmp_path / "e.csv", header, [
        ["13812345678", "page_view", "2024-03-05 14:30:00", "web", "/p/1"],
        ["13812345678", "page_view", "2024-03-05 14:30:00", "web", "/p/2"]])
    assert counts(run_activity(actor, path, "events")) == (2, 2, 0, 0, 0)
    utc = write_activity_csv(tmp_path / "utc.csv", header, [
        ["13812345678", "page_view", "2024-03-05T06:30:00Z", "web", "/p/1"],
        ["13812345678", "page_view", "2024-03-05T06:30:00Z", "web", "/p/3"]])
    assert counts(run_activity(actor, utc, "events")) == (2, 1, 0, 1, 0)
    assert sorted(e.properties["页面"] for e in Event.objects.all()) == ["/p/1", "/p/2", "/p/3"]
