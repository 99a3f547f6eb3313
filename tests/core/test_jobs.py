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
