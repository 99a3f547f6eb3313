"""A job whose process died (kill -9, reboot) does not stay "running" forever: a worker's
import is queued again and resumes, a terminal's is marked interrupted with how to resume,
a duplicate scan is marked failed. kehu.core.jobs finds them; the worker runs it every minute."""

from __future__ import annotations

import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from kehu.core.jobs import job_open, job_report, jobs_reap_dead
from kehu.core.models import Job
from kehu.identity.models import DedupScan
from kehu.interchange.models import ImportJob
from tests.interchange.test_import import _kehu, _kill_file, _state, _until_rows_commit


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])  # noqa: S603
    child.wait()
    return child.pid


def _running(kind: str, runner: str) -> Job:
    job = job_open(kind=kind, label="x")
    job_report(job, status=Job.RUNNING)
    Job.objects.filter(pk=job.pk).update(runner=runner)
    job.refresh_from_db()
    return job


def _job(runner: str) -> ImportJob:
    return ImportJob.objects.create(file="imports/x.csv", original_filename="x.csv", status=ImportJob.RUNNING,
                                    job=_running("import", runner), next_row=42)


@pytest.mark.django_db
def test_a_terminal_import_whose_process_died_is_marked_interrupted_with_how_to_resume(settings):
    settings.LANGUAGE_CODE = "en"
    host = socket.gethostname()
    dead = _job(f"{host}:{_dead_pid()}")
    alive = _job(f"{host}:{os.getpid()}")
    assert ("import", dead.job_id) in jobs_reap_dead()
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == ImportJob.FAILED
    assert f"--resume {dead.pk}" in dead.error_message and "row 42" in dead.error_message
    assert (dead.job.status, dead.job.error) == (Job.FAILED, dead.error_message)  # one truth
    assert alive.status == ImportJob.RUNNING  # its process is this test: untouched
    assert alive.job.status == Job.RUNNING
    assert jobs_reap_dead() == []  # nothing more to do


@pytest.mark.django_db
def test_a_worker_import_whose_process_died_is_queued_again_and_resumed(monkeypatch,
                                                                        django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr("kehu.interchange.tasks.import_job_task", lambda job_id: queued.append(job_id))
    job = _job(f"{socket.gethostname()}:{_dead_pid()}/worker")
    with django_capture_on_commit_callbacks(execute=True):
        jobs_reap_dead()
    job.refresh_from_db()
    assert (job.status, job.error_message) == (ImportJob.QUEUED, "")
    assert job.job.status == Job.QUEUED
    assert queued == [job.pk]


@pytest.mark.django_db
def test_jobs_on_another_machine_are_judged_by_when_they_last_moved():
    recent = _job("other-host:123")
    stale = _job("other-host:456")
    Job.objects.filter(pk=stale.job_id).update(heartbeat_at=timezone.now() - timedelta(hours=2))
    assert jobs_reap_dead() == [("import", stale.job_id)]
    recent.refresh_from_db()
    assert recent.status == ImportJob.RUNNING


@pytest.mark.django_db
def test_a_duplicate_scan_whose_process_died_is_marked_failed():
    scan = DedupScan.objects.create(threshold=0.9, status=DedupScan.RUNNING,
                                    job=_running("dedup_scan", f"{socket.gethostname()}:{_dead_pid()}"))
    assert jobs_reap_dead() == [("dedup_scan", scan.job_id)]
    scan.refresh_from_db()
    assert scan.status == DedupScan.FAILED and scan.finished_at is not None
    assert scan.error_message and scan.job.status == Job.FAILED


@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")),
                    reason="runs real kehu processes on their own SQLite KEHU_HOME")
def test_an_import_killed_with_sigkill_is_found_dead_and_then_resumes_to_the_end(tmp_path):
    home = tmp_path / "home"
    _kehu(home, "init").communicate(timeout=120)
    process = _kehu(home, "import", str(_kill_file(tmp_path / "customers.csv")), "--json")
    _until_rows_commit(home, process, random.Random(7))
    if process.poll() is not None:
        pytest.skip("the import finished before it could be killed")
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    job_id, status = _state(home)["job"][:2]
    assert status == "running"  # what the issue saw: forever, until now

    reap = _kehu(home, "shell", "-c", "from kehu.core.jobs import jobs_reap_dead; print(jobs_reap_dead())")
    out, err = reap.communicate(timeout=120)
    assert "('import', " in out, err
    with sqlite3.connect(Path(home) / "kehu.sqlite3") as db:
        status, message = db.execute("SELECT status, error_message FROM interchange_importjob WHERE id=?",
                                     (job_id,)).fetchone()
    assert status == "failed" and f"--resume {job_id}" in message

    out, err = _kehu(home, "import", "--resume", str(job_id), "--json").communicate(timeout=180)
    assert _state(home)["job"][1] == "done", err
