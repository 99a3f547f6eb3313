"""Rule pages: list with templates, editor pickers (htmx parts), save, dry run, activate,
run log; permissions."""

from __future__ import annotations

import pytest

from kehu.automation import engine
from kehu.automation.library import TEMPLATES
from kehu.automation.models import Rule
from kehu.interactions.models import FollowUpTask
from tests.automation.conftest import customer

pytestmark = pytest.mark.django_db


def _login(client, user):
    client.force_login(user)


FORM = {"name": "高价值30天", "trigger.kind": "no_interaction", "trigger.days": "30",
        "r.type": "group", "r.match": "all", "r.n": "1", "r.c0.type": "field",
        "r.c0.field": "lifecycle_stage", "r.c0.op": "eq", "r.c0.value": "customer",
        "a.n": "1", "a0.kind": "follow_up", "a0.to": "owner", "a0.title": "跟进{{ customer.name }}",
        "a0.due_days": "1", "max_runs_per_hour": "100"}


def test_every_template_makes_a_valid_draft(people, client):
    _login(client, people["admin"])
    page = client.get("/automation/rules/")
    assert page.status_code == 200
    for key in TEMPLATES:
        answer = client.post(f"/automation/rules/templates/{key}/")
        assert answer.status_code == 302, key
    assert Rule.objects.count() == len(TEMPLATES)
    assert set(Rule.objects.values_list("status", flat=True)) == {"draft"}
    for rule in Rule.objects.all():
        assert client.get(f"/automation/rules/{rule.pk}/").status_code == 200


def test_editor_parts_save_dry_run_activate_and_log(people, client):
    _login(client, people["admin"])
    assert client.get("/automation/rules/new/").status_code == 200
    parts = client.post("/automation/rules/parts/", {**FORM, "rule_edit": "add_action:",
                                                     "new_action": "notify"})
    assert parts.status_code == 200 and 'name="a1.kind" value="notify"' in parts.content.decode()
    switched = client.post("/automation/rules/parts/", {**FORM, "trigger.kind": "schedule"})
    assert 'name="trigger.at"' in switched.content.decode()
    quiet = customer(people["rep"], name="老客户", lifecycle_stage="customer")
    from django.utils import timezone

    from kehu.customers.models import Customer
    Customer.objects.filter(pk=quiet.pk).update(created_at=timezone.now() - timezone.timedelta(
        days=90))
    dry = client.post("/automation/rules/dry-run/", FORM)
    assert 'data-testid="would-fire">1<' in dry.content.decode() and "老客户" in dry.content.decode()
    saved = client.post("/automation/rules/save/", FORM)
    assert saved.status_code == 302
    rule = Rule.objects.get()
    assert rule.trigger == {"kind": "no_interaction", "days": 30}
    assert rule.actions[0]["title"] == "跟进{{ customer.name }}"
    bad = client.post("/automation/rules/save/", {**FORM, "rule": rule.pk, "trigger.days": "x"})
    assert bad.status_code == 422 and "trigger.days" in bad.content.decode()
    rule.refresh_from_db()
    assert rule.version == 1
    client.post(f"/automation/rules/{rule.pk}/activate/", {"backfill": "yes"})
    engine.tick()
    assert FollowUpTask.objects.filter(customer=quiet, title="跟进老客户").count() == 1
    log = client.get(f"/automation/rules/{rule.pk}/runs/")
    assert "老客户" in log.content.decode()
    client.post(f"/automation/rules/{rule.pk}/pause/")
    rule.refresh_from_db()
    assert rule.status == "paused"


def test_pages_need_rule_manage(people, client, make_user):
    _login(client, make_user("sales_rep", username="rep9"))
    assert client.get("/automation/rules/").status_code == 403
    assert client.post("/automation/rules/save/", FORM).status_code == 403
    assert not Rule.objects.exists()
