"""Importing deals and payments: headers in Chinese, the report by row and column, stages
and owners by name, idempotent re-import, nothing half-written, permissions."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.utils import translation

from kehu.core.actor import Actor
from kehu.core.errors import PermissionDenied
from kehu.interchange.models import ImportJob
from kehu.interchange.selectors import import_row_errors
from kehu.interchange.services import import_job_create, import_job_run
from kehu.pipeline.models import Deal, DealStageHistory, Instalment, Payment
from tests.factories import create_customer
from tests.pipeline.helpers import signed_contract, today

pytestmark = pytest.mark.django_db


def write_csv(path: Path, header, rows) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def run(actor, path: Path, kind: str) -> ImportJob:
    with translation.override("en"):
        job = import_job_create(actor=actor, file=path, filename=path.name, kind=kind)
        return import_job_run(job_id=job.pk, actor=actor)


def counts(job):
    return job.rows_done, job.created, job.updated, job.unchanged, job.rejected


def errors(job):
    return [(e.row, e.column, e.reason) for e in import_row_errors(job)]


@pytest.fixture
def rep(make_user):
    """A rep whose role may also import (own record scope)."""
    from kehu.accounts.models import Role

    role = Role.objects.create(code="rep_importer", name="Rep who imports", record_scope="own",
                               permissions=["customer.view", "customer.add", "customer.import",
                                            "deal.manage"])
    user = make_user("sales_rep", username="zhangsan", display_name="张三")
    user.role = role
    user.save(update_fields=["role"])
    return user


DEAL_HEADER = ["客户手机", "商机名称", "金额", "预计成交日期", "阶段", "负责人", "来源", "输单原因"]


def test_deals_import_with_report_by_row_and_column(tmp_path, rep):
    create_customer(owner=rep, name="王芳", mobile="13812345678")
    create_customer(owner=rep, name="李雷", mobile="13900001111")
    close = (today() + dt.timedelta(days=30)).isoformat()
    path = write_csv(tmp_path / "商机.csv", DEAL_HEADER, [
        ["13812345678", "打印机集采", "￥12,800.50", close, "方案报价", "张三", "展会", ""],
        ["13900001111", "年度维保", "5000", close, "赢单", "zhangsan", "", ""],
        ["13900001111", "旧项目", "3000", close, "输单", "", "", ""],           # no reason
        ["13700000000", "无名客户", "100", close, "", "", "", ""],              # no customer
        ["13812345678", "坏金额", "一万", "2026-02-30", "不存在", "李四", "", ""],
    ])
    job = run(Actor(user=rep), path, "deals")
    assert counts(job) == (5, 2, 0, 0, 3)
    found = errors(job)
    assert (4, "输单原因", "Say why the deal was lost.") in found
    assert (5, "客户手机", "No customer has this identifier.") in found
    assert {c for r, c, _m in found if r == 6} == {"金额", "预计成交日期", "阶段", "负责人"}
    first = Deal.objects.get(title="打印机集采")
    assert (first.amount, first.stage.name, first.probability, first.source, first.owner_id) == (
        Decimal("12800.50"), "方案报价", 50, "exhibition", rep.pk)
    won = Deal.objects.get(title="年度维保")
    assert won.status == "won" and DealStageHistory.objects.filter(deal=won).count() == 2
    assert not Deal.objects.filter(title="旧项目").exists()  # nothing half-written
    again = run(Actor(user=rep), path, "deals")
    assert counts(again)[1:4] == (0, 0, 2) and Deal.objects.count() == 2


def test_deals_import_from_xlsx(tmp_path, rep):
    create_customer(owner=rep, name="王芳", mobile="13812345678")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["客户手机", "商机名称", "金额", "预计成交日期"])
    sheet.append(["13812345678", "官网改版", 2000, dt.datetime(2026, 12, 31)])
    path = tmp_path / "deals.xlsx"
    book.save(path)
    job = run(Actor(user=rep), path, "deals")
    assert counts(job) == (1, 1, 0, 0, 0)
    assert Deal.objects.get().expected_close_date == dt.date(2026, 12, 31)


def test_out_of_scope_customer_is_no_customer(tmp_path, make_user, rep):
    other = make_user("sales_rep")
    create_customer(owner=other, name="别人的客户", mobile="13812345678")
    path = write_csv(tmp_path / "d.csv", DEAL_HEADER[:4],
                     [["13812345678", "项目", "10", today().isoformat()]])
    job = run(Actor(user=rep), path, "deals")
    assert counts(job)[4] == 1 and not Deal.objects.exists()


def test_deals_import_needs_deal_manage(tmp_path, make_user):
    steward = make_user("data_steward")  # may import, may not manage deals
    path = write_csv(tmp_path / "d.csv", DEAL_HEADER[:4], [["1", "x", "1", "2026-01-01"]])
    with pytest.raises(PermissionDenied):
        import_job_create(actor=Actor(user=steward), file=path, filename="d.csv", kind="deals")


def test_payments_import(tmp_path, admin_user):
    contract = signed_contract(admin_user, amount="3000.00", plan=[
        {"due_date": today(), "amount": "1000"},
        {"due_date": today() + dt.timedelta(days=30), "amount": "2000"}])
    path = write_csv(tmp_path / "回款.csv", ["合同编号", "回款日期", "回款金额", "付款方式", "流水号"], [
        [contract.number, today().isoformat(), "1,500.00", "银行转账", "CMB-001"],
        [contract.number, today().isoformat(), "5000", "转账", "CMB-002"],       # too much
        ["HT-NOPE", today().isoformat(), "10", "现金", ""],                        # no contract
        [contract.number, "明天", "10", "信用卡", ""],                              # date, method
    ])
    job = run(Actor(user=admin_user), path, "payments")
    assert counts(job) == (4, 1, 0, 0, 3)
    found = errors(job)
    assert any(r == 3 and c == "回款金额" and "1500.00" in m for r, c, m in found)
    assert (4, "合同编号", "No contract has this number.") in found
    assert {c for r, c, _m in found if r == 5} == {"回款日期", "付款方式"}
    payment = Payment.objects.get()
    assert (payment.amount, payment.method, payment.reference) == (
        Decimal("1500.00"), "bank_transfer", "CMB-001")
    assert [i.paid_amount for i in Instalment.objects.order_by("sequence")] == [
        Decimal("1000.00"), Decimal("500.00")]
    again = run(Actor(user=admin_user), path, "payments")
    assert again.unchanged == 1 and Payment.objects.count() == 1


def test_deal_export_is_scoped_and_audited(client, make_user):
    from kehu.core.models import AuditEntry
    from tests.pipeline.helpers import make_deal

    manager = make_user("sales_manager")
    mine = make_deal(manager, title="我的项目")
    make_deal(make_user("sales_rep"), title="别人的项目")
    client.force_login(manager)
    response = client.get("/interchange/deals/export/?format=csv")
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    assert response.status_code == 200 and "我的项目" in body and "别人的项目" not in body
    assert "10000.00" in body and str(mine.expected_close_date) in body
    entry = AuditEntry.objects.filter(action="deal.export").get()
    assert entry.changes["rows"] == 1
    assert client.get("/interchange/payments/export/?format=xlsx").status_code == 200
