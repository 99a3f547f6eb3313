"""/metrics: Prometheus text for a scraper with the token or a signed-in admin, nobody else."""

from __future__ import annotations

import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_metrics_are_refused_to_strangers_and_non_admins(client, make_user):
    assert client.get("/metrics").status_code == 403
    client.force_login(make_user("sales_manager"))
    response = client.get("/metrics")
    assert response.status_code == 403
    assert b"kehu_http_requests_total" not in response.content


@pytest.mark.django_db
def test_an_admin_sees_request_counts_latency_and_queue_depth(client, make_user):
    client.force_login(make_user("admin"))
    client.get("/healthz")
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert 'kehu_http_requests_total{method="GET",status="2xx"}' in text
    assert "kehu_http_request_duration_seconds_bucket" in text
    assert "kehu_queue_pending_tasks" in text


@pytest.mark.django_db
def test_job_counts_by_kind_and_status_are_exposed(client, make_user):
    from kehu.core.jobs import job_open, job_report
    from kehu.core.models import Job

    job_report(job_open(kind="import", label="a.csv"), status=Job.RUNNING)
    job_open(kind="import", label="b.csv")
    client.force_login(make_user("admin"))
    text = client.get("/metrics").content.decode()
    assert 'kehu_jobs{kind="import",status="running"} 1.0' in text
    assert 'kehu_jobs{kind="import",status="queued"} 1.0' in text


@pytest.mark.django_db
def test_a_scraper_needs_the_exact_token(client):
    with override_settings(KEHU_METRICS_TOKEN="s3cret-token-for-prometheus"):
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
        ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token-for-prometheus")
        assert ok.status_code == 200
        assert b"kehu_queue_pending_tasks" in ok.content
    with override_settings(KEHU_METRICS_TOKEN=""):  # no token set: a bare "Bearer " is no key
        assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403
