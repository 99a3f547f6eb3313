"""`kehu score rfm` and the Huey tasks call the scoring service."""

import json

from django.core.management import call_command

from kehu.scoring.models import CustomerValue, ScoringRun


def test_score_rfm_json(book, capsys):
    call_command("score", "rfm", "--full", "--json")
    figures = json.loads(capsys.readouterr().out)
    run = ScoringRun.objects.get()
    assert figures == {"run": run.pk, "mode": "full", "scored": 4, "recomputed": 6,
                       "changed": 6, "segment_changes": 0, "lifecycle_changes": 5,
                       "duration_ms": run.duration_ms}
    call_command("score", "rfm", "--json")
    again = json.loads(capsys.readouterr().out)
    assert (again["mode"], again["recomputed"], again["changed"]) == ("incremental", 0, 0)


def test_score_rfm_text(book, capsys):
    call_command("score", "rfm")
    out = capsys.readouterr().out
    assert "4 customers scored" in out or "评分客户 4 位" in out


def test_tasks(book):
    from kehu.scoring.tasks import rfm_score_nightly, rfm_score_task

    rfm_score_task(full=False)
    rfm_score_nightly()
    assert list(ScoringRun.objects.order_by("started_at").values_list("mode", flat=True)) == [
        "full", "full"]
    assert CustomerValue.objects.count() == 6
