"""Importing customers: upsert counts, idempotence, reports, dry run, the CLI and kill/resume."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation

from kehu.core.actor import Actor
from kehu.core.errors import ValidationFailed
from kehu.core.models import AuditEntry
from kehu.core.normalize import NormalizationError, normalize_email, normalize_phone
from kehu.customers.models import Customer, Identifier
from kehu.interchange.models import ImportJob
from kehu.interchange.selectors import import_row_errors
from kehu.interchange.services import import_job_cancel, import_job_create, import_job_run
from kehu.interchange.tasks import import_job_task
from tests.unchanged import db_snapshot

HEADER = ["客户名称", "手机", "邮箱", "性别", "备注"]


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
                            options=options)
    return import_job_run(job_id=job.pk, actor=actor)


def counts(job: ImportJob) -> tuple[int, int, int, int, int]:
    return job.rows_done, job.created, job.updated, job.unchanged, job.rejected


def test_create_update_unchanged_counts(actor, tmp_path):
    first = write_csv(tmp_path / "a.csv", [["张三", "13812345678", "zs@example.com", "男", ""],
                                           ["李四", "13912345678", "", "女", "老客户"]])
    job = run(actor, first)
    assert job.status == ImportJob.DONE
    assert counts(job) == (2, 2, 0, 0, 0)
    second = write_csv(tmp_path / "b.csv", [["张三", "13812345678", "zs@example.com", "男", ""],
                                            ["李四", "139 1234 5678", "ls@example.com", "", ""],
                                            ["王五", "13712345678", "", "", ""]])
    job = run(actor, second)
    assert counts(job) == (3, 1, 1, 1, 0)
    li = Customer.objects.get(name="李四")
    assert (li.primary_email, li.notes, li.gender) == ("ls@example.com", "老客户", "female")
    assert Customer.objects.count() == 3


def test_reimporting_the_same_file_changes_nothing(actor, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["张三", "13812345678", "zs@example.com", "男", "备注"],
                                          ["李四", "13912345678", "ls@example.com", "女", ""]])
    run(actor, path)
    audits = AuditEntry.objects.count()
    versions = sorted(Customer.objects.values_list("id", "version"))
    job = run(actor, path)
    assert counts(job) == (2, 0, 0, 2, 0)
    assert AuditEntry.objects.count() == audits
    assert sorted(Customer.objects.values_list("id", "version")) == versions


def test_empty_cells_never_erase(actor, tmp_path):
    run(actor, write_csv(tmp_path / "a.csv",
                         [["张三", "13812345678", "zs@example.com", "男", "老客户"]]))
    job = run(actor, write_csv(tmp_path / "b.csv", [["张三", "13812345678", "", "", ""]]))
    assert counts(job) == (1, 0, 0, 1, 0)
    customer = Customer.objects.get()
    assert (customer.primary_email, customer.gender, customer.notes) == (
        "zs@example.com", "male", "老客户")


def test_rows_sharing_a_phone_update_one_customer(actor, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["张三", "13812345678", "", "", ""],
                                          ["张三", "13812345678", "zs@example.com", "", ""],
                                          ["张三", "+86 138 1234 5678", "zs2@example.com", "", "VIP"]])
    job = run(actor, path)
    assert counts(job) == (3, 1, 2, 0, 0)
    customer = Customer.objects.get()
    assert customer.notes == "VIP"
    assert sorted(customer.identifiers.filter(kind=Identifier.EMAIL).values_list(
        "value", "is_primary")) == [("zs2@example.com", False), ("zs@example.com", True)]


def test_invalid_rows_are_rejected_with_row_and_column(actor, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["张三", "13812345678", "", "", ""],
                                          ["李四", "12345", "", "", ""],
                                          ["", "13712345678", "", "", ""],
                                          ["王五", "13612345678", "not-an-email", "", ""]])
    with translation.override("en"):
        job = run(actor, path)
        phone_reason = _reason(normalize_phone, "12345")
        email_reason = _reason(normalize_email, "not-an-email")
    assert counts(job) == (4, 1, 0, 0, 3)
    errors = import_row_errors(job)
    assert [(e.row, e.column, e.value) for e in errors] == [
        (3, "手机", "12345"), (4, "客户名称", ""), (5, "邮箱", "not-an-email")]
    assert errors[0].reason == phone_reason
    assert errors[2].reason == email_reason
    assert list(Customer.objects.values_list("name", flat=True)) == ["张三"]
    from openpyxl import load_workbook

    sheet = load_workbook(job.report_path).active
    assert [list(r) for r in sheet.iter_rows(min_row=2, values_only=True)][0] == [
        3, "手机", "12345", phone_reason]


def _reason(function, value) -> str:
    with pytest.raises(NormalizationError) as caught:
        function(value)
    return str(caught.value)


def test_skip_invalid_fields_imports_the_rest(actor, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["王五", "13612345678", "not-an-email", "男", "备注"]])
    job = run(actor, path, skip_invalid_fields=True)
    assert counts(job) == (1, 1, 0, 0, 0)
    assert [(e.row, e.column) for e in import_row_errors(job)] == [(2, "邮箱")]
    customer = Customer.objects.get()
    assert (customer.primary_mobile, customer.primary_email, customer.notes) == (
        "+8613612345678", "", "备注")


def test_an_identifier_of_another_customer_rejects_the_row(actor, tmp_path):
    run(actor, write_csv(tmp_path / "a.csv", [["张三", "13812345678", "zs@example.com", "", ""]]))
    path = write_csv(tmp_path / "b.csv", [["李四", "13912345678", "zs@example.com", "", ""]])
    # Matching by mobile only, the row is a new customer whose email belongs to 张三.
    job = run(actor, path, precedence=["mobile"])
    assert counts(job) == (1, 0, 0, 0, 1)
    assert [(e.row, e.column) for e in import_row_errors(job)] == [(2, "邮箱")]
    assert Customer.objects.count() == 1


def test_dry_run_writes_nothing(actor, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["张三", "13812345678", "", "", ""],
                                          ["张三", "13812345678", "zs@example.com", "", ""],
                                          ["李四", "12345", "", "", ""]])
    audits = AuditEntry.objects.count()
    job = run(actor, path, dry_run=True)
    assert job.status == ImportJob.DONE
    assert counts(job) == (3, 1, 1, 0, 1)
    assert [(e.row, e.column) for e in import_row_errors(job)] == [(4, "手机")]
    assert Customer.objects.count() == 0
    assert Identifier.objects.count() == 0
    assert AuditEntry.objects.count() == audits


def test_create_checks_permission_file_and_name_column(make_user, actor, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["张三", "13812345678", "", "", ""]])
    reader = Actor(user=make_user("read_only"), via="web")
    from kehu.core.errors import PermissionDenied

    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        import_job_create(actor=reader, file=path, filename=path.name)
    no_name = write_csv(tmp_path / "b.csv", [["13812345678"]], header=["手机"])
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        import_job_create(actor=actor, file=no_name, filename=no_name.name)
    assert caught.value.code == "no_name_column"
    broken = tmp_path / "c.xlsx"
    broken.write_bytes(b"PK\x03\x04 not a workbook")
    with pytest.raises(ValidationFailed):
        import_job_create(actor=actor, file=broken, filename=broken.name)
    assert ImportJob.objects.count() == 0
    assert db_snapshot() == before


def test_cancel_and_task_are_idempotent(actor, tmp_path):
    path = write_csv(tmp_path / "a.csv", [["张三", "13812345678", "", "", ""]])
    job = import_job_create(actor=actor, file=path, filename=path.name)
    import_job_task(job.pk)
    job.refresh_from_db()
    assert (job.status, job.created) == (ImportJob.DONE, 1)
    import_job_task(job.pk)
    job.refresh_from_db()
    assert (job.status, job.created, job.unchanged) == (ImportJob.DONE, 1, 0)
    other = import_job_create(actor=actor, file=path, filename=path.name)
    assert import_job_cancel(actor=actor, job_id=other.pk).status == ImportJob.CANCELLED
    assert import_job_run(job_id=other.pk, actor=actor).rows_done == 0


# The command line ------------------------------------------------------------------------------


def test_cli_gbk_csv_with_json(admin_user, tmp_path):
    path = write_csv(tmp_path / "客户.csv", [["张三", "13812345678", "zs@example.com", "男", ""],
                                             ["李四", "12345", "", "", ""]], encoding="gbk")
    report = tmp_path / "report.csv"
    out = io.StringIO()
    call_command("import", str(path), "--json", "--report", str(report), stdout=out,
                 stderr=io.StringIO())
    last = json.loads(out.getvalue().strip().splitlines()[-1])
    assert last == {"rows": 2, "created": 1, "updated": 0, "unchanged": 0, "rejected": 1,
                    "report": str(report.resolve())}
    assert report.read_text(encoding="utf-8-sig").splitlines()[1].startswith("3,手机,12345,")
    assert Customer.objects.get().name == "张三"


def test_cli_map_override_and_unknown_column(admin_user, tmp_path, capsys):
    path = write_csv(tmp_path / "a.csv", [["张三", "x", "13812345678"]],
                     header=["客户名称", "电话", "第二号码"])
    out = io.StringIO()
    call_command("import", str(path), "--map", "第二号码=mobile", "--map", "电话=", "--json",
                 stdout=out, stderr=io.StringIO())
    assert json.loads(out.getvalue().splitlines()[-1])["created"] == 1
    assert Customer.objects.get().primary_mobile == "+8613812345678"
    # (Through the console script this is exit status 1; run_from_argv would also close the
    # test's database connection, so the command is called directly here.)
    with pytest.raises(CommandError, match="没有这列"):
        call_command("import", str(path), "--map", "没有这列=mobile", stdout=io.StringIO(),
                     stderr=io.StringIO())
    assert ImportJob.objects.count() == 1


@pytest.mark.parametrize("args", [["--kind", "orders"], ["--sheet", "Sheet9"]])
def test_cli_refuses_what_it_cannot_do(admin_user, tmp_path, args):
    path = write_csv(tmp_path / "a.csv", [["张三", "13812345678", "", "", ""]])
    before = db_snapshot()
    with pytest.raises(CommandError):
        call_command("import", str(path), *args, stdout=io.StringIO(), stderr=io.StringIO())
    assert Customer.objects.count() == 0
    assert db_snapshot() == before


# Kill and resume -------------------------------------------------------------------------------

KILL_ROWS = 2000
KILL_CHUNK = 40


def _kill_file(path: Path) -> Path:
    rows = []
    for i in range(KILL_ROWS):
        if i % 50 == 7:
            rows.append([f"坏行{i}", "12345", "", "", ""])  # rejected
        elif i % 10 == 3:
            rows.append([f"客户{i - 1}", f"138{i - 1:08d}", f"dup{i}@example.com", "", "again"])
        else:
            rows.append([f"客户{i}", f"138{i:08d}", f"c{i}@example.com", "男" if i % 2 else "女",
                         ""])
    return write_csv(path, rows)


def _kehu(home: Path, *args: str, **kwargs) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(KEHU_HOME=str(home), KEHU_IMPORT_CHUNK_ROWS=str(KILL_CHUNK),
               DJANGO_SETTINGS_MODULE="kehu.settings")
    return subprocess.Popen([str(Path(sys.executable).with_name("kehu")), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _state(home: Path) -> dict:
    with sqlite3.connect(home / "kehu.sqlite3") as db:
        job = db.execute("SELECT id, status, rows_done, created, updated, unchanged, rejected "
                         "FROM interchange_importjob ORDER BY id DESC LIMIT 1").fetchone()
        return {
            "job": job,
            "customers": db.execute("SELECT count(*) FROM customers_customer").fetchone()[0],
            "identifiers": db.execute("SELECT count(*) FROM customers_identifier").fetchone()[0],
            "errors": db.execute("SELECT count(*) FROM interchange_importrowerror").fetchone()[0],
        }


def _until_rows_commit(home: Path, process: subprocess.Popen, rng: random.Random,
                       state=None) -> None:
    """Wait until the running import has committed another chunk (or ended), then a random
    moment more: the kill lands mid-import however fast the machine is. `state(home)["job"]`
    is (id, status, rows_done, …) of the job to watch."""
    state = state or _state
    job = state(home)["job"]
    before = job[2] if job else 0
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        job = state(home)["job"]
        if job and job[2] > before:
            break
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.3))


def kill_and_resume(home: Path, start: list[str], state=None) -> tuple[dict, int]:
    """Start `kehu import *start` in `home`, kill -9 it three times after a committed chunk
    (resuming the job each time), then resume it to the end: (its last --json line, how
    many kills landed mid-import). `state(home)["job"]` is the job to watch."""
    state = state or _state
    rng = random.Random()
    kills = 0

    def command() -> list[str]:
        job = state(home)["job"]
        return ["import", "--resume", str(job[0]), "--json"] if job else ["import", *start]

    for _attempt in range(3):
        process = _kehu(home, *command())
        _until_rows_commit(home, process, rng, state=state)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            kills += 1
        process.communicate(timeout=30)
    for _attempt in range(5):
        out, _err = _kehu(home, *command()).communicate(timeout=180)
        if state(home)["job"][1] == "done":
            break
    return json.loads(out.strip().splitlines()[-1]), kills


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")),
                    reason="runs real kehu processes on their own SQLite KEHU_HOME; "
                           "nothing of it depends on PostgreSQL")
def test_killed_import_resumes_to_the_counts_of_an_uninterrupted_run(tmp_path):
    plain, killed = tmp_path / "plain", tmp_path / "killed"
    def init(home: Path) -> tuple[int, str]:
        process = _kehu(home, "init")
        _out, err = process.communicate(timeout=240)
        return process.returncode, err

    with ThreadPoolExecutor(2) as pool:
        inits = list(pool.map(init, [plain, killed]))
    assert [code for code, _err in inits] == [0, 0], inits
    assert (plain / "kehu.sqlite3").exists() and (killed / "kehu.sqlite3").exists()
    path = _kill_file(tmp_path / "customers.csv")
    uninterrupted = _kehu(plain, "import", str(path), "--json")
    resumed, kills = kill_and_resume(killed, [str(path), "--json"])
    out, err = uninterrupted.communicate(timeout=120)
    assert uninterrupted.returncode == 0, err
    expected = json.loads(out.strip().splitlines()[-1])
    assert kills >= 1
    resumed.pop("report"), expected.pop("report")
    assert resumed == expected
    assert expected["rows"] == KILL_ROWS
    assert expected["rejected"] == KILL_ROWS // 50
    plain_state, killed_state = _state(plain), _state(killed)
    assert killed_state["job"][1:] == plain_state["job"][1:]
    for key in ("customers", "identifiers", "errors"):
        assert killed_state[key] == plain_state[key], key


def test_finished_import_queues_likely_duplicates_for_review(actor, tmp_path,
                                                             django_capture_on_commit_callbacks):
    """Imported rows that match no identifier but look like an existing customer are queued
    for the identity review queue; a dry run queues nothing."""
    from kehu.identity.models import DuplicateCandidate
    from kehu.interchange.services import import_job_check_duplicates

    header = ["客户名称", "手机", "性别", "生日", "地址"]
    run(actor, write_csv(tmp_path / "base.csv", [
        ["张伟", "13812345678", "男", "1990-03-07", "上海市浦东新区世纪大道100号"]], header=header))
    existing = Identifier.objects.get(value="+8613812345678").customer
    path = write_csv(tmp_path / "dup.csv", [
        ["章伟", "+86 138 1234 5670", "男", "1990/3/7", "浦东新区世纪大道100号"],
        ["王芳", "13900002222", "女", "1985-06-01", "北京市朝阳区建国路1号"]], header=header)
    with django_capture_on_commit_callbacks(execute=False) as dry_callbacks:
        run(actor, path, dry_run=True)
    assert dry_callbacks == [] and not DuplicateCandidate.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        job = run(actor, path)
    assert (job.created, job.status) == (2, ImportJob.DONE)
    candidate = DuplicateCandidate.objects.get()
    new = Identifier.objects.get(value="+8613812345670").customer_id
    assert (candidate.found_by, sorted(candidate.member_ids)) == ("import", sorted([existing.pk, new]))
    # Checking the same job again finds the same pair: nothing new is queued.
    import_job_check_duplicates(job_id=job.pk)
    assert DuplicateCandidate.objects.count() == 1
