"""`kehu assign rules` and `kehu assign apply`."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from kehu.customers.models import Customer


def _run(*args) -> list[dict]:
    out = io.StringIO()
    call_command("assign", *args, stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_rules_dry_run_and_apply(make_rule, team, members, east_customers):
    rule = make_rule(team=team)
    ids = [str(c.pk) for c in east_customers(2)]
    assert [r["name"] for r in _run("rules")] == ["华东区"] and _run("rules")[0]["id"] == rule.pk
    dry = _run("apply", *ids, "--dry-run")
    assert [d["user"] for d in dry] == ["张伟", "李娜"]
    assert Customer.objects.filter(owner__isnull=False).count() == 0
    done = _run("apply", *ids)
    assert [d["reason"] for d in done] == ["assigned", "assigned"]
    assert Customer.objects.filter(owner__isnull=False).count() == 2


def test_unknown_customer_is_an_error(db):
    with pytest.raises(CommandError):
        _run("apply", "999999")
