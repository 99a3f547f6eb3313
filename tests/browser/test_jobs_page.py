"""The jobs page in a real browser: every kind with its progress, in Chinese."""

from __future__ import annotations

from playwright.sync_api import expect

from kehu.core.actor import Actor
from kehu.core.jobs import job_open, job_report
from kehu.core.models import Job
from kehu.identity.scan import dedup_scan_create
from tests.browser.conftest import login


def test_jobs_page_lists_running_and_finished_jobs_of_every_kind(page, make_user, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    admin = make_user("admin", username="boss", is_superuser=True)
    running = job_open(kind="import", label="客户名单.xlsx", user=admin, total=200)
    job_report(running, status=Job.RUNNING, done=50)
    dedup_scan_create(actor=Actor(user=admin, via="web"))
    login(page, "boss", "pw-Kehu-2026!")
    page.goto("/jobs/")
    row = page.get_by_test_id(f"job-{running.pk}")
    assert "客户名单.xlsx" in row.inner_text()
    assert "50" in row.inner_text() and "200" in row.inner_text()
    assert row.locator("progress").get_attribute("value") == "50"
    assert page.locator('[data-kind="dedup_scan"]').count() == 1
    assert "排队中" in page.locator('[data-kind="dedup_scan"]').inner_text()
    # The page polls while jobs run: the import finishing shows without a reload.
    job_report(running, status=Job.DONE, done=200)
    expect(page.get_by_test_id(f"job-{running.pk}")).to_have_attribute("data-status", "done", timeout=10_000)
