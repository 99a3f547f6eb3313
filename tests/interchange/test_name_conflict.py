"""An import row that matches a customer by an identifier but names someone else (not a
pinyin, traditional/simplified or typo variant) never renames that customer unless the
user chose "update": `--on-name-conflict review|reject|update` (default review) on
`kehu import` and the import page."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation

from kehu.core.models import AuditEntry
from kehu.customers.models import Customer, Identifier
from kehu.identity.models import DuplicateCandidate
from kehu.interchange.models import ImportJob
from kehu.interchange.selectors import import_row_errors
from kehu.interchange.services import import_job_create
from tests.factories import create_customer

pytestmark = pytest.mark.django_db

HEADER = ["客户名称", "手机", "邮箱", "备注"]


def write_csv(path: Path, rows) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


@pytest.fixture
def li(db):
    return create_customer(name="李寻欢", mobile="13812345678", notes="老客户")


def _cli(tmp_path, rows, *args) -> dict:
    path = write_csv(tmp_path / "rows.csv", rows)
    out = io.StringIO()
    with translation.override("zh-hans"):
        call_command("import", str(path), "--json", *args, stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue().strip().splitlines()[-1])


def _reasons() -> list[tuple[int, str, str]]:
    job = ImportJob.objects.order_by("-pk").first()
    return [(e.row, e.column, e.reason) for e in import_row_errors(job)]


def test_review_is_the_default_keeps_the_name_reports_and_queues_the_pair(
        admin_user, li, tmp_path):
    before = AuditEntry.objects.filter(object_id=str(li.pk)).count()
    summary = _cli(tmp_path, [["张伟", "138-1234-5678", "zhangwei@example.com", "新客户"]])
    li.refresh_from_db()
    assert (li.name, li.notes, li.version) == ("李寻欢", "老客户", 1)
    assert AuditEntry.objects.filter(object_id=str(li.pk)).count() == before
    assert _reasons() == [(2, "手机", f"手机号码已属于客户 李寻欢（#{li.pk}）")]
    # The row is its own customer, without the mobile the other one holds ...
    zhang = Customer.objects.get(name="张伟")
    assert (zhang.primary_mobile, zhang.primary_email, zhang.notes) == (
        "", "zhangwei@example.com", "新客户")
    assert Identifier.objects.get(kind="mobile").customer_id == li.pk
    assert (summary["created"], summary["updated"], summary["rejected"]) == (1, 0, 0)
    # ... and the pair waits for a person's decision.
    candidate = DuplicateCandidate.objects.get()
    assert (candidate.member_ids, candidate.found_by, candidate.status) == (
        sorted([li.pk, zhang.pk]), DuplicateCandidate.IMPORT, DuplicateCandidate.PENDING)


def test_reject_rejects_the_row_with_the_message(admin_user, li, tmp_path):
    summary = _cli(tmp_path, [["张伟", "13812345678", "", "新客户"]],
                   "--on-name-conflict", "reject")
    li.refresh_from_db()
    assert (li.name, li.notes, li.version) == ("李寻欢", "老客户", 1)
    assert (summary["created"], summary["updated"], summary["rejected"]) == (0, 0, 1)
    assert _reasons() == [(2, "手机", f"手机号码已属于客户 李寻欢（#{li.pk}）")]
    assert Customer.objects.count() == 1 and not DuplicateCandidate.objects.exists()


def test_update_writes_the_row_over_the_customer_as_before(admin_user, li, tmp_path):
    summary = _cli(tmp_path, [["张伟", "13812345678", "", "新客户"]],
                   "--on-name-conflict", "update")
    li.refresh_from_db()
    assert (li.name, li.notes, li.version) == ("张伟", "新客户", 2)
    assert (summary["created"], summary["updated"]) == (0, 1)
    assert _reasons() == [] and not DuplicateCandidate.objects.exists()


@pytest.mark.parametrize("name", ["李尋歡", "Li Xunhuan", "李寻换", "李寻欢 "])
def test_a_variant_of_the_name_is_no_conflict(admin_user, li, tmp_path, name):
    """Traditional characters, pinyin, a homophone typo: the same person, updated."""
    _cli(tmp_path, [[name, "13812345678", "", "更新"]], "--on-name-conflict", "reject")
    li.refresh_from_db()
    assert (li.notes, li.version) == ("更新", 2)
    assert _reasons() == [] and Customer.objects.count() == 1


def test_an_unknown_mode_is_refused(admin_user, li, tmp_path):
    path = write_csv(tmp_path / "rows.csv", [["张伟", "13812345678", "", ""]])
    with pytest.raises(CommandError):
        call_command("import", str(path), "--on-name-conflict", "maybe",
                     stdout=io.StringIO(), stderr=io.StringIO())
    from kehu.core.actor import Actor
    from kehu.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as caught:
        import_job_create(actor=Actor(user=admin_user, via="web"), file=path,
                          filename=path.name, options={"on_name_conflict": "maybe"})
    assert "on_name_conflict" in caught.value.details
    assert ImportJob.objects.count() == 0


def test_rows_of_one_file_review_each_conflict(admin_user, li, tmp_path):
    """Two different people in one file with 李寻欢's number: neither renames him."""
    summary = _cli(tmp_path, [["张伟", "13812345678", "", ""], ["王芳", "13812345678", "", ""]])
    li.refresh_from_db()
    assert li.name == "李寻欢" and summary["created"] == 2
    assert DuplicateCandidate.objects.count() == 2
    assert [r[2] for r in _reasons()] == [f"手机号码已属于客户 李寻欢（#{li.pk}）"] * 2


# The import page ---------------------------------------------------------------------------


@pytest.fixture
def steward(client, make_user):
    user = make_user("data_steward", username="steward")
    client.force_login(user)
    return user


def _upload(client) -> ImportJob:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerow(["张伟", "13812345678", "", "新客户"])
    file = SimpleUploadedFile("客户.csv", buffer.getvalue().encode("utf-8"),
                              content_type="text/csv")
    client.post(reverse("interchange:imports"), {"file": file, "sheet": ""})
    return ImportJob.objects.get()


def test_the_page_offers_the_choice_translated(client, steward, li):
    job = _upload(client)
    with translation.override("zh-hans"):
        html = client.get(reverse("interchange:import_mapping", args=[job.pk]),
                          HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert 'name="on_name_conflict"' in html
    assert "保留客户原名" in html and "拒绝该行" in html


@pytest.mark.parametrize(("mode", "name", "customers", "rejected"), [
    ("review", "李寻欢", 2, 0), ("reject", "李寻欢", 1, 1), ("update", "张伟", 1, 0)])
def test_the_page_runs_the_chosen_mode(client, steward, li, mode, name, customers, rejected):
    job = _upload(client)
    url = reverse("interchange:import_mapping", args=[job.pk])
    response = client.post(url, {"col_0": "name", "col_1": "mobile", "col_2": "email",
                                 "col_3": "notes", "on_name_conflict": mode,
                                 "action": "import"})
    assert response.status_code == 302
    job.refresh_from_db()
    li.refresh_from_db()
    assert (job.options["on_name_conflict"], li.name, Customer.objects.count(), job.rejected) == (
        mode, name, customers, rejected)
    assert DuplicateCandidate.objects.count() == (1 if mode == "review" else 0)
