"""Bulk writers emit one event per changed record: the customers, orders, interactions and
events imports, a segment refresh (entered/left), a rule tag's sync and a scoring run."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

import pytest

from kehu.core.actor import Actor
from kehu.core.events import as_delivered
from kehu.core.models import AuditEntry, DomainEvent
from kehu.customers.models import Customer
from kehu.interchange.services import import_job_create, import_job_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor(admin_user):
    return Actor(user=admin_user)


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def run(actor, path: Path, kind: str = "customers"):
    job = import_job_create(actor=actor, file=path, filename=path.name, kind=kind)
    return import_job_run(job_id=job.pk, actor=actor)


def since(mark: int) -> list[DomainEvent]:
    return as_delivered(DomainEvent.objects.filter(id__gt=mark).order_by("id"))


def last_id() -> int:
    return DomainEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_customers_import_emits_one_event_per_changed_row(actor, tmp_path):
    header = ["客户名称", "手机", "性别", "身份证号"]
    run(actor, write_csv(tmp_path / "a.csv", header, [
        ["王芳", "13812345678", "女", ""], ["李雷", "13912345678", "男", ""]]))
    mark = last_id()
    job = run(actor, write_csv(tmp_path / "b.csv", header, [
        ["王芳", "13812345678", "女", ""],            # unchanged: no event
        ["李雷", "13912345678", "女", ""],            # changed
        ["赵敏", "13712345678", "女", "11010519491231002X"],  # new
        ["周芷若", "13612345678", "女", ""],          # new
        ["坏行", "12345", "", ""],                    # rejected: no event
    ]))
    assert (job.created, job.updated, job.unchanged, job.rejected) == (2, 1, 1, 1)
    events = since(mark)
    assert Counter(e.type for e in events) == {"customer.created": 2,
                                               "customer.field_changed": 1,
                                               "import.finished": 1}
    by_customer = {e.customer_id: e for e in events if e.type.startswith("customer.")}
    li = Customer.objects.get(name="李雷")
    assert by_customer[li.pk].changes["gender"] == {"before": "male", "after": "female"}
    zhao = Customer.objects.get(name="赵敏")
    created = by_customer[zhao.pk].changes
    assert created["name"] == {"before": None, "after": "赵敏"}
    assert created["mobile"] == {"ref": "customer.mobile", "cleared": False}
    assert created["id_number"] == {"ref": "customer.id_number", "cleared": False}
    assert "11010519491231002X" not in str(created) and "13712345678" not in str(created)
    # Each event points at its own audit entry, of its own customer.
    for event in by_customer.values():
        entry = AuditEntry.objects.get(seq=event.audit_seq)
        assert (entry.object_type, entry.object_id) == ("customer", event.object_id)
        assert entry.action == {"customer.created": "customer.create",
                                "customer.field_changed": "customer.update"}[event.type]
    finished = events[-1]
    assert (finished.type, finished.object_id, finished.changes["created"],
            finished.changes["updated"]) == ("import.finished", str(job.pk), 2, 1)


def test_a_dry_run_emits_nothing(actor, tmp_path):
    mark = last_id()
    job = import_job_create(actor=actor, file=write_csv(tmp_path / "a.csv", ["客户名称"],
                                                        [["王芳"]]),
                            filename="a.csv", options={"dry_run": True})
    import_job_run(job_id=job.pk, actor=actor)
    assert since(mark) == []


def test_orders_interactions_and_events_imports_emit_per_record(actor, tmp_path):
    from kehu.customers.services import customer_create
    from kehu.transactions.services import product_create

    wang = customer_create(actor=actor, name="王芳", mobile="13812345678")
    product_create(actor=actor, sku="CUP-1", name="保温杯", unit_price="99.00")
    orders = ["订单号", "客户手机", "商品编码", "商品名称", "数量", "单价", "实付金额", "下单时间",
              "订单状态", "支付方式"]
    mark = last_id()
    run(actor, write_csv(tmp_path / "o.csv", orders, [
        ["SO-1", "13812345678", "CUP-1", "保温杯", "1", "99", "99", "2024-03-05 10:00", "已付款", ""],
        ["SO-2", "13812345678", "CUP-1", "保温杯", "2", "99", "198", "2024-03-06 10:00", "待付款",
         ""]]), "orders")
    created = [e for e in since(mark) if e.type == "order.created"]
    assert [(e.customer_id, e.changes["number"]["after"]) for e in created] == [
        (wang.pk, "SO-1"), (wang.pk, "SO-2")]
    # The same file again, one status moved: one order.status_changed, nothing else.
    mark = last_id()
    run(actor, write_csv(tmp_path / "o2.csv", orders, [
        ["SO-1", "13812345678", "CUP-1", "保温杯", "1", "99", "99", "2024-03-05 10:00", "已发货",
         ""]]), "orders")
    moved = [e for e in since(mark) if e.type != "import.finished"]
    assert [(e.type, e.changes["status"]) for e in moved] == [
        ("order.status_changed", {"before": "paid", "after": "shipped"})]

    mark = last_id()
    run(actor, write_csv(tmp_path / "i.csv", ["客户手机", "互动类型", "时间", "内容"], [
        ["13812345678", "电话", "2024-03-05 14:30", "询问保修"],
        ["13812345678", "拜访", "2024-03-06 10:00", "上门演示"],
        ["13812345678", "拜访", "2024-03-06 10:00", "上门演示"]]), "interactions")
    logged = [e for e in since(mark) if e.type == "interaction.logged"]
    assert [e.changes["summary"]["after"] for e in logged] == ["询问保修", "上门演示"]
    assert {e.customer_id for e in logged} == {wang.pk}

    mark = last_id()
    run(actor, write_csv(tmp_path / "e.csv", ["客户手机", "事件名称", "发生时间", "来源", "页面"], [
        ["13812345678", "page_view", "2024-03-05 14:30", "web", "/a"],
        ["13812345678", "page_view", "2024-03-05 14:31", "web", "/b"],
        ["13812345678", "add_to_cart", "2024-03-05 14:32", "app", ""]]), "events")
    ingested = [e for e in since(mark) if e.type == "event.ingested"]
    from kehu.interactions.models import Event

    assert [e.changes["event_type"]["after"] for e in ingested] == list(
        Event.objects.order_by("pk").values_list("event_type", flat=True))
    assert len(ingested) == 3
    assert sorted(int(e.object_id) for e in ingested) == sorted(
        Event.objects.values_list("pk", flat=True))
    assert all("/a" not in str(e.changes) for e in ingested)  # properties referenced


def test_segment_refresh_and_rule_tag_emit_per_member(actor):
    from kehu.customers.services import customer_create, customer_update
    from kehu.segments.services import segment_create, segment_refresh

    east = {"type": "group", "match": "all",
            "conditions": [{"type": "field", "field": "city", "op": "eq", "value": "上海市"}]}
    a = customer_create(actor=actor, name="王芳", address="上海市浦东新区世纪大道100号")
    b = customer_create(actor=actor, name="李雷", address="上海市黄浦区南京东路1号")
    customer_create(actor=actor, name="赵敏", address="北京市朝阳区建国路1号")
    mark = last_id()
    segment = segment_create(actor=actor, name="上海客户", definition=east, tag_name="上海")
    events = since(mark)
    entered = sorted(e.customer_id for e in events if e.type == "segment.entered")
    tagged = sorted(e.customer_id for e in events if e.type == "tag.added")
    assert entered == tagged == sorted([a.pk, b.pk])
    refresh = next(e for e in events if e.type == "segment.refreshed")
    assert (refresh.changes["joined"], refresh.changes["left"]) == (2, 0)
    assert all(e.audit_seq is not None for e in events)

    customer_update(actor=actor, customer=b, expected_version=None,
                    changes={"address": "北京市朝阳区建国路2号"})
    mark = last_id()
    segment_refresh(actor=actor, segment=segment)
    events = since(mark)
    assert [(e.type, e.customer_id) for e in events if e.type != "segment.refreshed"] == [
        ("segment.left", b.pk), ("tag.removed", b.pk)]
    left = next(e for e in events if e.type == "segment.left")
    assert left.changes == {"segment": {"before": {"id": segment.pk, "name": "上海客户"},
                                        "after": None}}


def test_scoring_run_emits_tier_and_lifecycle_changes_per_customer(actor):
    from kehu.customers.services import customer_create
    from kehu.scoring.models import CustomerValue
    from kehu.scoring.services import rfm_score
    from kehu.transactions.services import order_create, order_update_status, product_create

    product = product_create(actor=actor, sku="CUP-1", name="保温杯", unit_price="99.00")
    buyers = [customer_create(actor=actor, name=f"客户{i}") for i in range(3)]
    for buyer in buyers:
        order = order_create(actor=actor, customer=buyer, lines=[{"product": product,
                                                                   "quantity": 1}])
        order_update_status(actor=actor, order=order, status="paid")
    mark = last_id()
    rfm_score(actor=actor)
    events = since(mark)
    tiers = {e.customer_id: e.changes["value_tier"]["after"] for e in events
             if e.type == "value.tier_changed"}
    assert tiers == dict(CustomerValue.objects.filter(customer__in=buyers)
                         .values_list("customer_id", "value_tier"))
    stages = {e.customer_id: e.changes for e in events if e.type == "lifecycle.changed"}
    assert stages == {b.pk: {"lifecycle_stage": {"before": "lead", "after": "customer"},
                             "rule": "first_order"} for b in buyers}
    assert sum(e.type == "scoring.run_finished" for e in events) == 1
    # Nothing moved: a second run emits only its own finish.
    mark = last_id()
    rfm_score(actor=actor, full=True)
    assert [e.type for e in since(mark)] == ["scoring.run_finished"]
