"""The rules API: CRUD, 422 paths, dry run shape, runs, permissions (denied changes nothing)."""

from __future__ import annotations

import json

import pytest

from kehu.automation.models import Rule
from tests.automation.conftest import TASK, customer, deliver
from tests.factories import create_customer

pytestmark = pytest.mark.django_db

BODY = {"name": "成交提醒", "trigger": {"kind": "lifecycle_changed", "to": "customer"},
        "conditions": {"type": "group", "match": "all", "conditions": []},
        "actions": [TASK]}


def _post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def test_crud_activate_dry_run_and_runs(people, api_client_for, make_user):
    api = api_client_for(people["admin"])
    created = _post(api, "/api/v1/rules", BODY)
    assert created.status_code == 201, created.content
    rule = created.json()
    assert (rule["status"], rule["version"]) == ("draft", 1)
    for i in range(3):
        customer(people["rep"], name=f"客户{i}", lifecycle_stage="customer", mobile="13800138000"
                 if i == 0 else "")
    dry = _post(api, f"/api/v1/rules/{rule['id']}/dry-run")
    assert dry.status_code == 200
    assert dry.json()["would_fire"] == 3 and len(dry.json()["sample"]) == 3
    assert all(s["why"] for s in dry.json()["sample"])
    # A marketer sees the sample masked.
    marketer = make_user("marketer", username="mkt")
    masked = _post(api_client_for(marketer), f"/api/v1/rules/{rule['id']}/dry-run").json()
    mobiles = [s["mobile"] for s in masked["sample"] if s["mobile"]]
    assert mobiles and all("13800138000" != m for m in mobiles)
    changed = api.put(f"/api/v1/rules/{rule['id']}", data=json.dumps({**BODY, "name": "改名"}),
                      content_type="application/json")
    assert changed.status_code == 200 and changed.json()["version"] == 2
    on = _post(api, f"/api/v1/rules/{rule['id']}/activate", {"backfill": True})
    assert on.status_code == 200 and on.json()["backfill_customers"] == 3
    from kehu.automation.engine import runs_execute_due

    runs_execute_due()
    log = api.get(f"/api/v1/rules/{rule['id']}/runs").json()
    assert len(log) == 3 and {r["status"] for r in log} == {"done"}
    assert log[0]["actions"][0]["status"] == "done"
    assert api.get("/api/v1/rules").json()[0]["status"] == "active"
    assert _post(api, f"/api/v1/rules/{rule['id']}/pause").json()["status"] == "paused"
    assert api.delete(f"/api/v1/rules/{rule['id']}").status_code == 204
    assert not Rule.objects.exists()


def test_bad_input_names_the_path(people, api_client_for):
    api = api_client_for(people["admin"])
    bad = {**BODY, "trigger": {"kind": "no_interaction", "days": "x"},
           "actions": [{"kind": "follow_up", "to": "owner", "due_days": 1}],
           "conditions": {"type": "group", "conditions": [{"type": "field", "field": "nope",
                                                           "op": "eq", "value": 1}]}}
    answer = _post(api, "/api/v1/rules", bad)
    assert answer.status_code == 422
    details = answer.json()["details"]
    assert "trigger.days" in details and "actions[0].title" in details
    assert "conditions.conditions[0].field" in details
    assert not Rule.objects.exists()


def test_denied_without_rule_manage(people, api_client_for, make_user):
    rep = make_user("sales_rep", username="rep2")
    api = api_client_for(rep)
    assert _post(api, "/api/v1/rules", BODY).status_code == 403
    assert not Rule.objects.exists()
    admin_api = api_client_for(people["admin"])
    rule = _post(admin_api, "/api/v1/rules", BODY).json()
    assert api.get(f"/api/v1/rules/{rule['id']}").status_code == 403
    assert _post(api, f"/api/v1/rules/{rule['id']}/activate", {"backfill": True}).status_code \
        == 403
    assert Rule.objects.get().status == "draft"


def test_runs_show_only_customers_in_scope(people, api_client_for, make_user):
    admin_api = api_client_for(people["admin"])
    rule = _post(admin_api, "/api/v1/rules", {**BODY, "trigger": {"kind": "customer_created"}}
                 ).json()
    _post(admin_api, f"/api/v1/rules/{rule['id']}/activate", {"backfill": False})
    other = make_user("sales_rep", username="other")
    create_customer(owner=people["boss"], name="团队的")
    create_customer(owner=other, name="外人的")
    deliver()
    boss_api = api_client_for(people["boss"])
    names = [r["customer"]["name"] for r in boss_api.get(f"/api/v1/rules/{rule['id']}/runs").json()]
    assert names == ["团队的"]


def test_a_read_key_may_dry_run_but_not_change(people, api_client_for):
    admin_api = api_client_for(people["admin"])
    rule = _post(admin_api, "/api/v1/rules", BODY).json()
    reader = api_client_for(people["admin"], scopes=("read",))
    assert _post(reader, f"/api/v1/rules/{rule['id']}/dry-run").status_code == 200
    assert _post(reader, f"/api/v1/rules/{rule['id']}/activate", {"backfill": True}
                 ).status_code == 403
    assert Rule.objects.get().status == "draft"
