"""The import page: upload, mapping over a preview, dry run and import, the job page."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from kehu.customers.models import Customer
from kehu.interchange.models import ImportJob, ImportRowError
from tests.unchanged import db_snapshot

HEADER = ["客户名称", "手机号码", "邮箱", "备用列"]
ROWS = [["张三", "13812345678", "zhang@example.com", "x"],
        ["李四", "13900001111", "", "y"],
        ["坏行", "12345", "", "z"]]


def gbk_csv(rows=ROWS, header=HEADER) -> SimpleUploadedFile:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return SimpleUploadedFile("客户.csv", buffer.getvalue().encode("gbk"), content_type="text/csv")


@pytest.fixture
def steward(client, make_user):
    user = make_user("data_steward", username="steward")
    client.force_login(user)
    return user


def upload(client) -> ImportJob:
    response = client.post(reverse("interchange:imports"), {"file": gbk_csv(), "sheet": ""})
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("interchange:import_mapping", args=[job.pk])
    return job


def mapping_post(**overrides) -> dict:
    data = {"col_0": "name", "col_1": "mobile", "col_2": "email", "col_3": ""}
    data.update(overrides)
    return data


def test_upload_shows_suggested_mapping_and_preview(client, steward):
    with translation.override("en"):
        job = upload(client)
        response = client.get(reverse("interchange:import_mapping", args=[job.pk]))
    assert response.status_code == 200
    form = response.context["form"]
    assert [form[f"col_{i}"].value() for i in range(4)] == ["name", "mobile", "email", ""]
    html = response.content.decode()
    assert '<option value="mobile" selected>' in html
    assert response.context["preview_rows"] == ROWS
    assert "13900001111" in html
    assert job.created_by == steward
    assert job.status == ImportJob.QUEUED
    assert Customer.objects.count() == 0


def test_dry_run_then_import_shows_counts_and_report(client, steward):
    job = upload(client)
    url = reverse("interchange:import_mapping", args=[job.pk])
    response = client.post(url, {**mapping_post(), "action": "dry_run"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.options["dry_run"], job.created, job.rejected) == (
        ImportJob.DONE, True, 2, 1)
    assert Customer.objects.count() == 0

    response = client.post(url, {**mapping_post(), "action": "import"})
    assert response["Location"] == reverse("interchange:import_job", args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.options["dry_run"]) == (ImportJob.DONE, False)
    assert (job.rows_done, job.created, job.updated, job.unchanged, job.rejected) == (
        3, 2, 0, 0, 1)
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["张三", "李四"]
    assert ImportRowError.objects.filter(job=job).count() == 1

    with translation.override("en"):
        page = client.get(reverse("interchange:import_job", args=[job.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert '<dd data-testid="count-created">2</dd>' in html
    assert '<dd data-testid="count-rejected">1</dd>' in html
    assert [(e.row, e.column) for e in page.context["report_rows"]] == [(4, "手机号码")]
    assert "<td>4</td><td>手机号码</td>" in html
    assert 'hx-trigger="every 1s"' not in html  # finished: no more polling
    assert '<progress data-testid="import-progress" value="3" max="3">' in html

    report = client.get(reverse("interchange:import_report", args=[job.pk]))
    assert report.status_code == 200
    assert report["Content-Disposition"].startswith("attachment")
    assert b"".join(report.streaming_content)[:2] == b"PK"

    # A finished import is not run twice: its file is gone, the page says so.
    again = client.post(url, {**mapping_post(), "action": "import"}, follow=True)
    assert "此导入已执行过；请重新上传文件。" in again.content.decode()
    assert Customer.objects.count() == 2

    listing = client.get(reverse("interchange:imports"))
    assert list(listing.context["jobs"]) == [job]


def test_the_partial_polls_while_running(client, steward):
    job = upload(client)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.RUNNING, rows_done=1)
    response = client.get(reverse("interchange:import_job", args=[job.pk]),
                          headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.templates[0].name == "interchange/_job.html"
    assert 'hx-trigger="every 1s"' in html
    assert "<html" not in html


def test_mapping_without_name_is_refused(client, steward):
    job = upload(client)
    response = client.post(reverse("interchange:import_mapping", args=[job.pk]),
                           {**mapping_post(col_0=""), "action": "import"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    job.refresh_from_db()
    assert job.status == ImportJob.QUEUED
    assert Customer.objects.count() == 0


def test_large_files_go_to_the_worker(client, steward, monkeypatch):
    from kehu.interchange import views

    monkeypatch.setattr(views, "SYNC_ROWS", 1)
    queued = []
    monkeypatch.setattr(views, "import_job_task", queued.append)
    job = upload(client)
    client.post(reverse("interchange:import_mapping", args=[job.pk]),
                {**mapping_post(), "action": "import"})
    assert queued == [job.pk]
    assert Customer.objects.count() == 0


def test_read_only_gets_403_and_nothing_is_created(client, make_user, steward):
    job = upload(client)
    reader = make_user("read_only", username="reader")
    client.force_login(reader)
    before = db_snapshot()
    assert client.get(reverse("interchange:imports")).status_code == 403
    response = client.post(reverse("interchange:imports"), {"file": gbk_csv()})
    assert response.status_code == 403
    assert client.post(reverse("interchange:import_mapping", args=[job.pk]),
                       {**mapping_post(), "action": "import"}).status_code == 403
    assert client.get(reverse("interchange:import_job", args=[job.pk])).status_code == 403
    assert ImportJob.objects.count() == 1
    job.refresh_from_db()
    assert job.status == ImportJob.QUEUED
    assert Customer.objects.count() == 0
    assert db_snapshot() == before


def test_other_users_jobs_are_not_found(client, make_user, steward):
    job = upload(client)
    client.force_login(make_user("data_steward", username="other"))
    before = db_snapshot()
    assert client.get(reverse("interchange:import_job", args=[job.pk])).status_code == 404
    assert client.get(reverse("interchange:import_mapping", args=[job.pk])).status_code == 404
    assert client.post(reverse("interchange:import_mapping", args=[job.pk]),
                       {"col_0": "name", "action": "import"}).status_code == 404
    assert db_snapshot() == before
