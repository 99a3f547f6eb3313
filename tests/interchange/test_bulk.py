"""The set-based customers import (interchange.bulk): history, chunk boundaries, the worker,
ID numbers, field permissions and record scope, exactly as the card's services decide."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from django.utils import translation

from kehu.accounts.models import Role
from kehu.core.actor import Actor
from kehu.core.audit import audit_verify
from kehu.core.models import AuditEntry
from kehu.customers.models import Address, Customer, Identifier
from kehu.customers.services import bulk as customers_bulk
from kehu.customers.services.identity import id_number_index
from kehu.interchange import bulk
from kehu.interchange.models import ImportJob
from kehu.interchange.selectors import import_row_errors
from kehu.interchange.services import import_job_create, import_job_run
from tests.factories import create_customer
from tests.interchange.conftest import committed_elsewhere

HEADER = ["客户名称", "手机", "邮箱", "性别", "生日", "身份证号", "地址", "备注"]
ID_NUMBER = "11010519491231002X"  # GB 11643's own example: born 1949-12-31, female


def write_csv(path: Path, rows, header=HEADER) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def run(actor, path: Path, **options) -> ImportJob:
    job = import_job_create(actor=actor, file=path, filename=path.name, options=options)
    return import_job_run(job_id=job.pk, actor=actor)


def counts(job: ImportJob) -> tuple[int, int, int, int, int]:
    return job.rows_done, job.created, job.updated, job.unchanged, job.rejected


def row(name, mobile="", email="", gender="", birthday="", id_number="", address="", notes=""):
    return [name, mobile, email, gender, birthday, id_number, address, notes]


def test_every_changed_row_keeps_its_own_history_and_the_chain_verifies(actor, tmp_path):
    path = write_csv(tmp_path / "a.csv", [row("张三", "13812345678", notes="第一次"),
                                          row("张三", "13812345678", notes="第二次"),
                                          row("张三", "13812345678", notes="第三次")])
    job = run(actor, path)
    assert counts(job) == (3, 1, 2, 0, 0)
    customer = Customer.objects.get()
    assert (customer.notes, customer.version) == ("第三次", 3)
    entries = list(AuditEntry.objects.filter(object_type="customer",
                                             object_id=str(customer.pk)).order_by("seq"))
    assert [e.action for e in entries] == ["customer.create", "customer.update",
                                           "customer.update"]
    assert entries[0].changes["notes"] == {"before": None, "after": "第一次"}
    assert entries[0].changes["mobile"] == {"before": None, "after": "+8613812345678"}
    assert entries[1].changes == {"notes": {"before": "第一次", "after": "第二次"},
                                  "version": {"before": 1, "after": 2}}
    assert entries[2].changes == {"notes": {"before": "第二次", "after": "第三次"},
                                  "version": {"before": 2, "after": 3}}
    report = audit_verify()
    assert report.ok and report.checked == AuditEntry.objects.count()


def _book(actor, tmp_path, name: str) -> list[tuple]:
    rows = []
    for i in range(23):
        rows.append(row(f"客户{i}", f"138{i:08d}", f"c{i}@example.com", "男" if i % 2 else "女"))
        if i % 4 == 1:  # the same customer again, later in the file, with more data
            rows.append(row(f"客户{i}", f"+86 138{i:08d}",
                            f"second{i}@example.com", notes=f"again {i}"))
        if i % 7 == 3:
            rows.append(row(f"坏{i}", "12345"))
    job = run(actor, write_csv(tmp_path / name, rows))
    state = sorted(Customer.objects.values_list(
        "name", "primary_mobile", "primary_email", "gender", "notes", "version"))
    identifiers = sorted(Identifier.objects.values_list("kind", "value", "is_primary"))
    return [counts(job), state, identifiers]


def test_chunk_boundaries_and_the_worker_give_the_same_result(actor, tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK_ROWS", 1000)
    monkeypatch.setattr(bulk, "WORKERS", 0)
    whole = _book(actor, tmp_path, "whole.csv")
    assert whole[0] == (32, 23, 6, 0, 3)
    for chunk, workers in ((2, 0), (5, 1)):
        Identifier.objects.all().delete()
        Address.objects.all().delete()
        Customer.objects.all().delete()
        monkeypatch.setattr(bulk, "CHUNK_ROWS", chunk)
        monkeypatch.setattr(bulk, "WORKERS", workers)
        assert _book(actor, tmp_path, f"part{chunk}.csv") == whole, (chunk, workers)
    assert audit_verify().ok


def test_id_number_fills_birthday_and_gender_and_is_stored_blind(actor, tmp_path):
    job = run(actor, write_csv(tmp_path / "a.csv", [
        row("王芳", "13812345678", id_number=ID_NUMBER, address="浙江省杭州市西湖区文三路1号")]))
    assert counts(job) == (1, 1, 0, 0, 0)
    customer = Customer.objects.get()
    assert (str(customer.birthday), customer.gender, customer.id_number_masked) == (
        "1949-12-31", "female", "110***********002X")
    assert customer.id_number_index == id_number_index(ID_NUMBER)
    assert ID_NUMBER not in customer.id_number_encrypted
    assert Identifier.objects.get(kind=Identifier.ID_NUMBER).value == id_number_index(ID_NUMBER)
    assert (customer.province, customer.city, customer.region) == ("浙江省", "杭州市", "华东")
    assert Address.objects.get().raw == "浙江省杭州市西湖区文三路1号"
    assert not AuditEntry.objects.filter(changes__icontains=ID_NUMBER).exists()
    # Matched by the ID number alone; a birthday that disagrees with the stored one rejects.
    again = run(actor, write_csv(tmp_path / "b.csv", [
        row("王芳", id_number=ID_NUMBER.lower(), address="浙江省杭州市西湖区文三路1号"),
        row("王芳", email="wf@example.com", id_number=ID_NUMBER)]))
    assert counts(again) == (2, 0, 1, 1, 0)
    assert Customer.objects.get().primary_email == "wf@example.com"


def test_a_landline_then_a_mobile_makes_the_mobile_primary(actor, tmp_path):
    job = run(actor, write_csv(tmp_path / "a.csv", [row("赵六", "010-62345678"),
                                                    row("赵六", "010-62345678",
                                                        email="z@example.com"),
                                                    row("赵六", "13912345678",
                                                        email="z@example.com")]))
    # The third row has no identifier of the first two but its email: it matches by email.
    assert counts(job) == (3, 1, 2, 0, 0)
    customer = Customer.objects.get()
    assert customer.primary_mobile == "+8613912345678"
    assert sorted(customer.identifiers.values_list("kind", "value", "is_primary")) == [
        ("email", "z@example.com", True), ("landline", "+861062345678", True),
        ("mobile", "+8613912345678", True)]


def test_field_permissions_of_the_role_apply(make_user, tmp_path):
    steward = Actor(user=make_user("data_steward"), via="web")  # ID numbers: masked, no edit
    with translation.override("en"):
        job = run(steward, write_csv(tmp_path / "a.csv", [
            row("王芳", "13812345678", id_number=ID_NUMBER), row("李四", "13912345678")]))
    assert counts(job) == (2, 1, 0, 0, 1)
    assert [(e.row, e.column, e.value, e.reason) for e in import_row_errors(job)] == [
        (2, "身份证号", "110***********002X", "Your role may not change this field.")]
    assert list(Customer.objects.values_list("name", flat=True)) == ["李四"]


def test_customers_outside_the_scope_are_not_touched(make_user, tmp_path):
    Role.objects.filter(code="data_steward").update(record_scope="own")
    importer = make_user("data_steward")
    other = create_customer(owner=make_user("sales_rep"), name="别人的客户",
                            mobile="13812345678")
    actor = Actor(user=importer, via="web")
    with translation.override("en"):
        job = run(actor, write_csv(tmp_path / "a.csv", [row("改名", "13812345678", notes="x"),
                                                        row("新客户", "13912345678")]))
    assert counts(job) == (2, 1, 0, 0, 1)
    assert [(e.row, e.column, e.reason) for e in import_row_errors(job)] == [
        (2, "手机", "Already recorded for another customer.")]
    other.refresh_from_db()
    assert (other.name, other.notes, other.version) == ("别人的客户", "", 1)
    assert Customer.objects.get(name="新客户").owner == importer


def test_unknown_owner_rejects_or_is_skipped(actor, tmp_path, make_user):
    make_user("sales_rep", username="xiaoli")
    header = ["客户名称", "手机", "负责人"]
    rows = [["甲", "13812345678", "xiaoli"], ["乙", "13912345678", "nobody"]]
    with translation.override("en"):
        job = run(actor, write_csv(tmp_path / "a.csv", rows, header=header))
        skipped = run(actor, write_csv(tmp_path / "b.csv", rows, header=header),
                      skip_invalid_fields=True)
    assert counts(job) == (2, 1, 0, 0, 1)
    assert [(e.row, e.column, e.reason) for e in import_row_errors(job)] == [
        (3, "负责人", "No active user “nobody”.")]
    assert counts(skipped) == (2, 1, 0, 1, 0)
    assert [(e.row, e.column) for e in import_row_errors(skipped)] == [(3, "负责人")]
    assert dict(Customer.objects.values_list("name", "owner__username")) == {
        "甲": "xiaoli", "乙": "root"}


def test_a_created_row_is_audited_with_exactly_what_the_card_snapshot_holds(actor, tmp_path):
    """The bulk create entry is built directly in JSON form: it must equal the generic
    diff of an empty state against the customer's audited snapshot (dates as text)."""
    from kehu.core.audit import canonical, diff
    from kehu.customers.services._common import snapshot

    path = write_csv(tmp_path / "a.csv", [row("王五", "13812345678", "wu@example.com", "女",
                                              "1949-12-31", ID_NUMBER, "北京市朝阳区建国路1号",
                                              "老客户")])
    run(actor, path)
    customer = Customer.objects.select_related("owner", "team").get()
    entry = AuditEntry.objects.get(action="customer.create", object_id=str(customer.pk))
    expected = {name: change for name, change in canonical(
        diff({}, snapshot(customer))).items() if change["after"] not in (None, "", [], {})}
    expected["version"] = {"before": None, "after": 1}
    assert entry.changes == expected
    assert entry.changes["birthday"] == {"before": None, "after": "1949-12-31"}
    assert entry.changes["id_number"]["after"] == customer.id_number_masked


def _full_state() -> dict[str, list]:
    skip = {"id", "created_at", "updated_at", "id_number_encrypted"}  # fresh per run
    columns = [f.attname for f in Customer._meta.concrete_fields if f.attname not in skip]
    by_id = {pk: i for i, pk in enumerate(Customer.objects.order_by("id")
                                          .values_list("id", flat=True))}
    return {
        "customers": list(Customer.objects.order_by("id").values_list(*columns)),
        "identifiers": sorted((by_id[c], k, s, v, p, last4, source) for c, k, s, v, p, last4,
                              source in Identifier.objects.values_list(
                                  "customer_id", "kind", "system", "value", "is_primary",
                                  "last4", "source")),
        "addresses": sorted((by_id[c], *rest) for c, *rest in Address.objects.values_list(
            "customer_id", "province", "city", "district", "detail", "region", "raw",
            "is_primary")),
        "audit": [(e.action, by_id.get(int(e.object_id)), e.object_repr, e.changes)
                  for e in AuditEntry.objects.filter(object_type="customer").order_by("seq")],
    }


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_the_worker_and_small_chunks_store_exactly_what_one_process_stores(
        actor, tmp_path, monkeypatch, skip_invalid):
    """Created, matched, refused as a duplicate, retried without a bad field: every
    customer, identifier, address and audit entry must equal the single-process run's."""
    rows = [row("张三", "13812345678", "zs@example.com", "男", "1949-12-31", "",
                "北京市朝阳区建国路1号", "一"),
            row("李四", "13912345678", "ls@example.com", "", "", ID_NUMBER, "上海市徐汇区漕溪北路2号"),
            row("王五", "13712345678", "zs@example.com", "女", "1990/1/2"),  # email taken
            row("张三", "138 1234 5678", "zs2@example.com", notes="二"),  # same mobile: update
            row("赵六", "0571-88888888", "", "", "19900102", "", "浙江省杭州市西湖区文三路3号"),
            row("钱七", "12345"),  # invalid mobile
            row("孙八", "13612345678", "sb@example.com", "男")]
    path = write_csv(tmp_path / "book.csv", rows)
    states = []
    for workers, chunk in ((0, 1000), (1, 3)):
        Identifier.objects.all().delete()
        Address.objects.all().delete()
        Customer.objects.all().delete()
        AuditEntry.objects.filter(object_type="customer").delete()
        monkeypatch.setattr(bulk, "WORKERS", workers)
        monkeypatch.setattr(bulk, "CHUNK_ROWS", chunk)
        job = run(actor, path, precedence=["mobile"], skip_invalid_fields=skip_invalid)
        states.append((counts(job), _full_state()))
    assert states[0][0] == ((7, 6, 1, 0, 0) if skip_invalid else (7, 4, 1, 0, 2))
    assert states[1] == states[0]


def test_a_chunk_that_meets_a_concurrent_unique_row_runs_again(actor, tmp_path, monkeypatch):
    """On PostgreSQL another writer can commit a mobile between a chunk's lookups and its
    inserts: the unique constraint fails the chunk, which is rolled back and run again
    (its lookups then see that row). Simulated: the first identifier insert of the second
    chunk raises. The result equals an undisturbed run's, with nothing written twice."""
    from django.db import IntegrityError

    rows = [row(f"客户{i}", f"138{i:08d}", f"c{i}@example.com", notes=f"n{i}")
            for i in range(9)]
    path = write_csv(tmp_path / "a.csv", rows)
    monkeypatch.setattr(bulk, "CHUNK_ROWS", 4)
    monkeypatch.setattr(bulk, "WORKERS", 0)
    real_insert, calls = customers_bulk.insert_rows, []

    def insert_rows(model, names, values):
        if model is Identifier:
            calls.append(model)
            if len(calls) == 2:
                raise IntegrityError("UNIQUE constraint failed: identifier_live_unique")
        return real_insert(model, names, values)

    monkeypatch.setattr(customers_bulk, "insert_rows", insert_rows)
    job = run(actor, path)
    assert counts(job) == (9, 9, 0, 0, 0)
    assert len(calls) == 4  # chunks of 4, 4, 1 and the second one again
    assert Customer.objects.count() == 9 and Identifier.objects.count() == 18
    assert AuditEntry.objects.filter(action="customer.create").count() == 9
    assert audit_verify().ok


def test_a_chunk_still_conflicting_after_its_attempts_fails_the_job(actor, tmp_path,
                                                                     monkeypatch):
    from django.db import IntegrityError

    from kehu.core import bulkdb

    path = write_csv(tmp_path / "a.csv", [row("张三", "13812345678")])
    attempts = []

    def insert_rows(*args):
        attempts.append(args[0])
        raise IntegrityError("UNIQUE constraint failed")

    monkeypatch.setattr(customers_bulk, "insert_rows", insert_rows)
    with pytest.raises(IntegrityError):
        run(actor, path)
    job = ImportJob.objects.get()
    assert (job.status, job.rows_done, Customer.objects.count()) == (ImportJob.FAILED, 0, 0)
    assert len(attempts) == bulkdb.CONFLICT_ATTEMPTS == 3


@pytest.mark.skipif(not os.environ.get("DATABASE_URL"),
                    reason="SQLite lets one writer at a time: a concurrent card save waits "
                           "for the chunk, so the conflict cannot arise there")
@pytest.mark.django_db(transaction=True)
def test_a_mobile_saved_on_a_card_during_a_chunk_is_updated_not_duplicated(
        admin_user, tmp_path, monkeypatch):
    """PostgreSQL, for real: while a chunk is between its lookups and its inserts, another
    connection commits a customer with one of the chunk's mobiles. The chunk's insert fails
    on the live-identifier constraint, the chunk runs again, and that row now updates the
    card's customer instead of creating a second one."""
    actor = Actor(user=admin_user, via="web")
    path = write_csv(tmp_path / "a.csv", [row(f"客户{i}", f"139{i:08d}", notes="导入")
                                          for i in range(3)])
    monkeypatch.setattr(bulk, "WORKERS", 0)
    real_load, loads = customers_bulk._ChunkWriter._load, []

    def load(self, prepared):
        real_load(self, prepared)
        loads.append(len(self.cards))
        if len(loads) == 1:
            # The same person (same name) registered at the front desk meanwhile.
            committed_elsewhere(lambda: create_customer(name="客户1", mobile="13900000001"))

    monkeypatch.setattr(customers_bulk._ChunkWriter, "_load", load)
    job = run(actor, path)
    assert counts(job) == (3, 2, 1, 0, 0)
    assert loads == [0, 1]  # the chunk ran again and then found the card's customer
    customer = Customer.objects.get(primary_mobile="+8613900000001")
    # The card's customer, updated by the row (a filled cell wins, as in any upsert).
    assert (customer.name, customer.notes, customer.version) == ("客户1", "导入", 2)
    assert list(AuditEntry.objects.filter(object_id=str(customer.pk)).order_by("seq")
                .values_list("action", flat=True)) == ["customer.create", "customer.update"]
    assert Customer.objects.count() == 3
    assert audit_verify().ok
