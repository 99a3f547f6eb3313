"""The one job system: imports, duplicate scans and scoring runs are kinds of core.Job, whose
progress, rate and outcome the jobs page, the API and `kehu jobs` show alike, to whoever may
see each kind; existing rows were migrated into it."""

from __future__ import annotations

import importlib
import json
from io import StringIO

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command

from kehu.core.actor import Actor
from kehu.core.jobs import job_open, job_report
from kehu.core.models import Job
from kehu.identity.models import DedupScan
from kehu.identity.scan import dedup_scan_create, dedup_scan_run
from kehu.interchange.models import ImportJob
from kehu.scoring.services import rfm_score
from tests.interchange.test_bulk import write_csv
from tests.interchange.test_import import run

pytestmark = pytest.mark.django_db

ROWS = [["张三", "13812345678", "zs@example.com", "男", ""],
        ["李四", "13812345679", "ls@example.com", "女", ""],
        ["坏行", "12345", "", "", ""]]


@pytest.fixture
def admin_actor(admin_user):
    return Actor(user=admin_user, via="web")


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_an_import_is_a_job_from_queued_to_done_with_its_counts(admin_actor, tmp_path):
    imported = run(admin_actor, write_csv(tmp_path / "a.csv", ROWS))
    job = imported.job
    assert (job.kind, job.label, job.status) == ("import", "a.csv", Job.DONE)
    assert (job.done, job.total, job.percent) == (3, 3, 100)
    assert job.result == {"created": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    assert job.started_at and job.finished_at and job.finished_at >= job.started_at
    assert job.runner  # the process that ran it
    assert job.created_by == admin_actor.user


def test_a_scan_and_a_scoring_run_are_jobs_too(admin_actor, tmp_path):
    run(admin_actor, write_csv(tmp_path / "a.csv", ROWS))
    scan = dedup_scan_create(actor=admin_actor)
    assert scan.job.status == Job.QUEUED
    dedup_scan_run(actor=admin_actor, scan_id=scan.pk)
    scan.refresh_from_db()
    assert (scan.job.kind, scan.job.status, scan.job.done, scan.job.total) == ("dedup_scan", Job.DONE, 2, 2)
    assert scan.job.result["candidates_new"] == scan.candidates_new
    scoring = rfm_score(actor=admin_actor, full=True)
    assert (scoring.job.kind, scoring.job.status) == ("scoring_run", Job.DONE)
    assert scoring.job.result["mode"] == "full" and scoring.job.total == 2


def test_rate_and_time_left_follow_the_progress():
    job = job_open(kind="import", label="big.csv", total=1000)
    job_report(job, status=Job.RUNNING)
    Job.objects.filter(pk=job.pk).update(started_at=job.started_at.replace(microsecond=0)
                                         - __import__("datetime").timedelta(seconds=10))
    job.refresh_from_db()
    job_report(job, done=250)
    assert 20 <= job.rate <= 26  # about 25 per second
    assert 28 <= job.seconds_left <= 38  # 750 left at ~25/s
    job_report(job, status=Job.DONE, done=1000)
    assert job.seconds_left is None and job.finished_at is not None


def test_page_api_and_cli_show_every_kind_to_those_who_may_see_it(admin_actor, admin_user, client,
                                                                  make_user, api_client_for, tmp_path):
    run(admin_actor, write_csv(tmp_path / "a.csv", ROWS))
    scan = dedup_scan_create(actor=admin_actor)
    rfm_score(actor=admin_actor, full=True)

    client.force_login(admin_user)
    page = client.get("/jobs/")
    assert page.status_code == 200
    text = page.content.decode()
    for kind in ("import", "dedup_scan", "scoring_run"):
        assert f'data-kind="{kind}"' in text
    assert "a.csv" in text

    api = api_client_for(admin_user, scopes=["read"])
    listed = api.get("/api/v1/jobs").json()
    assert listed["count"] == 3
    assert {item["kind"] for item in listed["items"]} == {"import", "dedup_scan", "scoring_run"}
    one = api.get(f"/api/v1/jobs/{scan.job_id}").json()
    assert (one["status"], one["url"]) == ("queued", "/identity/duplicates/")

    out = StringIO()
    call_command("jobs", "--json", stdout=out)
    assert {row["kind"] for row in json.loads(out.getvalue())} == {"import", "dedup_scan", "scoring_run"}

    rep = make_user("sales_rep")  # may view value scores; may not import or merge
    client.force_login(rep)
    text = client.get("/jobs/").content.decode()
    assert 'data-kind="scoring_run"' in text
    assert 'data-kind="import"' not in text and 'data-kind="dedup_scan"' not in text
    rep_api = api_client_for(rep, scopes=["read"])
    assert [item["kind"] for item in rep_api.get("/api/v1/jobs").json()["items"]] == ["scoring_run"]
    assert rep_api.get(f"/api/v1/jobs/{scan.job_id}").status_code == 404


def test_watching_a_finished_job_prints_it_and_exits_by_its_outcome(admin_actor, tmp_path):
    imported = run(admin_actor, write_csv(tmp_path / "a.csv", ROWS))
    out = StringIO()
    call_command("jobs", "--watch", str(imported.job_id), "--json", stdout=out)
    assert json.loads(out.getvalue())["status"] == "done"
    failed = job_open(kind="import", label="x.csv")
    job_report(failed, status=Job.FAILED, error="boom")
    with pytest.raises(SystemExit):
        call_command("jobs", "--watch", str(failed.pk), "--json", stdout=StringIO())


def test_existing_rows_are_migrated_into_jobs(admin_user):
    legacy_import = ImportJob.objects.create(file="imports/old.csv", original_filename="old.csv",
                                             status=ImportJob.DONE, rows_done=7, total_rows=7, created=5,
                                             updated=2, created_by=admin_user)
    legacy_scan = DedupScan.objects.create(threshold=0.9, status=DedupScan.FAILED, error_message="x")
    importlib.import_module("kehu.interchange.migrations.0002_importjob_job").backfill(django_apps, None)
    importlib.import_module("kehu.identity.migrations.0003_dedupscan_job").backfill(django_apps, None)
    legacy_import.refresh_from_db()
    legacy_scan.refresh_from_db()
    assert (legacy_import.job.kind, legacy_import.job.status, legacy_import.job.done) == ("import", "done", 7)
    assert legacy_import.job.result["created"] == 5 and legacy_import.job.created_by == admin_user
    assert (legacy_scan.job.kind, legacy_scan.job.status, legacy_scan.job.error) == ("dedup_scan", "failed", "x")


def _refresh_segment(actor, name="华东客户"):
    from kehu.segments.services import segment_create

    return segment_create(actor=actor, name=name, dynamic=True, definition={
        "type": "group", "match": "all", "conditions": [
            {"type": "field", "field": "name", "op": "contains", "value": "张"}]})


def test_segment_refreshes_are_jobs_one_per_manual_refresh_one_per_scheduled_batch(
        admin_actor, tmp_path):
    from kehu.segments.services import segment_refresh, segments_refresh_due

    run(admin_actor, write_csv(tmp_path / "a.csv", ROWS))
    segment = _refresh_segment(admin_actor)
    saved = Job.objects.filter(kind="segment_refresh").get()  # saving computes at once
    assert (saved.status, saved.label, saved.result) == (
        Job.DONE, "华东客户", {"segment_id": segment.pk, "size": 1})
    segment_refresh(actor=admin_actor, segment=segment)
    assert Job.objects.filter(kind="segment_refresh").count() == 2
    _refresh_segment(admin_actor, name="第二个")
    before = Job.objects.filter(kind="segment_refresh").count()
    assert segments_refresh_due(actor=admin_actor) == {"refreshed": 2, "failed": 0}
    batch = Job.objects.filter(kind="segment_refresh").order_by("-id").first()
    assert Job.objects.filter(kind="segment_refresh").count() == before + 1
    assert (batch.status, batch.done, batch.total, batch.result) == (
        Job.DONE, 2, 2, {"refreshed": 2, "failed": 0})


def test_a_failed_refresh_is_a_failed_job(admin_actor, tmp_path, make_user):
    from kehu.core.errors import ValidationFailed
    from kehu.segments.models import Segment
    from kehu.segments.services import segment_refresh

    segment = _refresh_segment(admin_actor)
    Segment.objects.filter(pk=segment.pk).update(owner=None)
    with pytest.raises(ValidationFailed):
        segment_refresh(actor=admin_actor, segment=segment)
    job = Job.objects.filter(kind="segment_refresh").order_by("-id").first()
    assert job.status == Job.FAILED
    assert job.error == "分群的负责人已不可用；请重新保存以指定新的负责人。"


def test_an_export_is_a_job_with_its_rows_and_an_abandoned_download_is_cancelled(
        admin_actor, tmp_path, monkeypatch):
    from kehu.customers.selectors import CustomerFilters
    from kehu.interchange.export import customers_export

    run(admin_actor, write_csv(tmp_path / "a.csv", ROWS))
    result = customers_export(actor=admin_actor, filters=CustomerFilters(), columns=["name"],
                              fmt="csv")
    job = Job.objects.get(kind="export")
    assert job.status == Job.RUNNING  # streaming has not started
    b"".join(result.content)
    job.refresh_from_db()
    assert (job.status, job.done, job.total, job.result) == (
        Job.DONE, 2, 2, {"rows": 2, "format": "csv"})
    assert job.label == result.filename and job.created_by == admin_actor.user

    monkeypatch.setattr("kehu.interchange.export._CSV_BLOCK", 1)  # a piece per row
    abandoned = customers_export(actor=admin_actor, filters=CustomerFilters(), columns=["name"],
                                 fmt="csv")
    next(abandoned.content)
    abandoned.content.close()
    assert Job.objects.filter(kind="export").order_by("-id").first().status == Job.CANCELLED

    customers_export(actor=admin_actor, filters=CustomerFilters(), columns=["name"],
                     fmt="xlsx").content.close()
    xlsx = Job.objects.filter(kind="export").order_by("-id").first()
    assert (xlsx.status, xlsx.done, xlsx.result["format"]) == (Job.DONE, 2, "xlsx")


def test_finished_jobs_of_frequent_kinds_are_pruned_after_their_keep_days(admin_actor):
    from datetime import timedelta

    from django.utils import timezone

    from kehu.core.jobs import jobs_prune

    now = timezone.now()
    old_refresh = job_open(kind="segment_refresh", label="old")
    job_report(old_refresh, status=Job.DONE)
    running_refresh = job_open(kind="segment_refresh", label="running")
    job_report(running_refresh, status=Job.RUNNING)
    old_import = job_open(kind="import", label="old import")
    job_report(old_import, status=Job.DONE)
    old_export = job_open(kind="export", label="old export")
    job_report(old_export, status=Job.DONE)
    Job.objects.filter(pk__in=[old_refresh.pk, old_import.pk, old_export.pk]).update(
        finished_at=now - timedelta(days=8))
    assert jobs_prune(now=now) == {"segment_refresh": 1}
    assert set(Job.objects.values_list("label", flat=True)) == {
        "running", "old import", "old export"}  # exports are kept 30 days, imports always
    assert jobs_prune(now=now + timedelta(days=23)) == {"export": 1}
