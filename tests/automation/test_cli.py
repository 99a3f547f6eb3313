"""`kehu rules list | dry-run ID --json | tick`."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from kehu.automation import services
from kehu.automation.models import RuleRun
from tests.automation.conftest import ALL, TASK, customer

pytestmark = pytest.mark.django_db


def test_list_dry_run_and_tick(people, capsys):
    rule = services.rule_create(actor=people["actor"], name="每天九点", trigger={
        "kind": "no_interaction", "days": 1}, conditions=ALL, actions=[TASK])
    from django.utils import timezone

    from kehu.customers.models import Customer

    c = customer(people["rep"], name="客户")
    Customer.objects.filter(pk=c.pk).update(created_at=timezone.now() - timezone.timedelta(
        days=5))
    call_command("rules", "list")
    assert "每天九点" in capsys.readouterr().out
    call_command("rules", "dry-run", str(rule.pk), "--json")
    lines = capsys.readouterr().out.strip().splitlines()
    assert json.loads(lines[-1]) == {"would_fire": 1}
    assert json.loads(lines[0])["id"] == c.pk
    services.rule_activate(actor=people["actor"], rule=rule, backfill=True)
    call_command("rules", "tick", "--json")
    first = json.loads(capsys.readouterr().out)
    assert (first["entered"], first["executed"]) == (1, 1)
    call_command("rules", "tick", "--json")
    again = json.loads(capsys.readouterr().out)
    assert (again["entered"], again["runs"]) == (0, 0)
    assert RuleRun.objects.filter(rule=rule, status="done").count() == 1
