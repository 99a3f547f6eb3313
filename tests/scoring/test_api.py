"""API: a customer's value, the grid, scoring on demand; permissions and record scope."""

import pytest

from kehu.core.actor import Actor
from kehu.scoring import services
from kehu.scoring.models import ScoringRun
from tests.unchanged import db_snapshot

SYSTEM = Actor.system(via="system")


def test_value_of_a_customer(book, rep, api_client_for):
    services.rfm_score(actor=SYSTEM, full=True)
    response = api_client_for(rep, scopes=("read",)).get(
        f"/api/v1/customers/{book['A'].pk}/value", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("recency_days", "frequency", "monetary", "rfm_code",
                                 "rfm_segment", "rfm_segment_label", "value_tier",
                                 "value_tier_label", "history")} == {
        "recency_days": 1, "frequency": 3, "monetary": "600.00", "rfm_code": "443",
        "rfm_segment": "loyal", "rfm_segment_label": "Loyal", "value_tier": "general",
        "value_tier_label": "General value", "history": []}


def test_value_is_404_outside_scope_and_before_scoring(book, make_user, rep, api_client_for):
    outsider = make_user("sales_rep")
    client = api_client_for(outsider, scopes=("read",))
    assert client.get(f"/api/v1/customers/{book['A'].pk}/value").status_code == 404
    mine = api_client_for(rep, scopes=("read",))
    response = mine.get(f"/api/v1/customers/{book['A'].pk}/value")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_value_needs_scoring_view(book, make_user, api_client_for):
    services.rfm_score(actor=SYSTEM, full=True)
    auditor = make_user("service_agent")
    client = api_client_for(auditor, scopes=("read",))
    before = db_snapshot()
    response = client.get(f"/api/v1/customers/{book['A'].pk}/value")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert db_snapshot() == before


def test_grid_counts_and_revenue_in_scope(book, make_user, rep, api_client_for):
    services.rfm_score(actor=SYSTEM, full=True)
    body = api_client_for(rep, scopes=("read",)).get("/api/v1/rfm/grid").json()
    filled = {(c["r"], c["f"]): (c["count"], c["revenue"], c["segment"])
              for c in body["cells"] if c["count"]}
    assert filled == {(4, 4): (1, "600.00", "loyal"), (3, 1): (1, "50.00", "about_to_sleep"),
                      (2, 3): (1, "2000.00", "at_risk"), (1, 1): (1, "10.00", "hibernating")}
    assert len(body["cells"]) == 25
    assert body["scored"] == 4
    assert {t["tier"]: t["count"] for t in body["tiers"]} == {
        "high_value": 0, "potential": 0, "dormant": 2, "general": 3, "no_purchases": 1}
    stranger = api_client_for(make_user("sales_rep"), scopes=("read",))
    assert stranger.get("/api/v1/rfm/grid").json()["scored"] == 0


def test_score_on_demand_needs_write_scope_and_permission(book, make_user, api_client_for):
    marketer = make_user("marketer")
    reader, rep = api_client_for(marketer, scopes=("read",)), api_client_for(
        make_user("sales_rep"))
    before = db_snapshot()
    read_only = reader.post("/api/v1/rfm/score", {"full": True}, content_type="application/json")
    assert read_only.status_code == 403
    denied = rep.post("/api/v1/rfm/score", {}, content_type="application/json")
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    assert ScoringRun.objects.count() == 0
    assert db_snapshot() == before
    ok = api_client_for(marketer).post("/api/v1/rfm/score", {"full": True},
                                       content_type="application/json")
    assert ok.status_code == 200
    assert {k: ok.json()[k] for k in ("mode", "scored", "recomputed")} == {
        "mode": "full", "scored": 4, "recomputed": 6}


@pytest.mark.parametrize("role", ["admin", "sales_manager", "sales_rep", "marketer",
                                  "data_steward", "read_only"])
def test_roles_that_see_the_grid(role, make_user, api_client_for):
    response = api_client_for(make_user(role), scopes=("read",)).get("/api/v1/rfm/grid")
    assert response.status_code == 200


def test_card_api_carries_the_value(book, rep, api_client_for):
    services.rfm_score(actor=SYSTEM, full=True)
    client = api_client_for(rep, scopes=("read",))
    value = client.get(f"/api/v1/customers/{book['C'].pk}/card").json()["value"]
    assert {k: value[k] for k in ("rfm_code", "rfm_segment", "value_tier", "monetary")} == {
        "rfm_code": "234", "rfm_segment": "at_risk", "value_tier": "general",
        "monetary": "2000.00"}
    assert client.get(f"/api/v1/customers/{book['F'].pk}/card").json()["value"]["r_score"] is None
