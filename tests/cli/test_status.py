"""`kehu status`: readiness plus how far each event subscriber is behind and what runs."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from kehu.core import events
from kehu.core.actor import Actor
from kehu.core.events import record_change
from kehu.core.health import worker_beat
from kehu.core.jobs import job_open, job_report
from kehu.core.models import Job

pytestmark = pytest.mark.django_db


@pytest.fixture
def lagging_subscriber():
    events.subscribe(["customer.*"], lambda event: None, name="test.status_lag")
    yield "test.status_lag"
    events.unsubscribe("test.status_lag")


def test_status_reports_subscriber_lag_and_running_jobs(lagging_subscriber):
    for n in range(3):
        record_change(actor=Actor.system(), action="customer.update", event="customer.field_changed",
                      object_type="customer", object_id=n + 1, changes={"name": {"before": "a", "after": "b"}})
    job_report(job_open(kind="import", label="a.csv"), status=Job.RUNNING)
    worker_beat(started_at=0.0)

    out = StringIO()
    call_command("status", "--json", stdout=out)
    status = json.loads(out.getvalue())
    assert status["ok"] is True
    lag = {row["name"]: row for row in status["subscribers"]}[lagging_subscriber]
    assert (lag["behind"], lag["dead"]) == (3, 0)
    assert status["running_jobs"] == {"import": 1}

    call_command("events", "dispatch", stdout=StringIO())
    out = StringIO()
    call_command("status", "--json", stdout=out)
    lag = {row["name"]: row for row in json.loads(out.getvalue())["subscribers"]}[lagging_subscriber]
    assert lag["behind"] == 0
