"""Pages: the card's chips and lifecycle panel, the list's value columns and filters, the export,
the RFM page and the settings page, each with its permission."""

import csv
import io

from kehu.core.actor import Actor
from kehu.core.models import AuditEntry
from kehu.scoring import services
from kehu.scoring.models import LifecycleStageChange, ScoringSettings
from tests.unchanged import db_snapshot

SYSTEM = Actor.system(via="system")


def signed_in(client, user):
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # assert on the English messages
    return client


def test_card_shows_tier_segment_and_scores(client, book, rep):
    services.rfm_score(actor=SYSTEM, full=True)
    html = signed_in(client, rep).get(f"/customers/{book['A'].pk}/").content.decode()
    assert 'data-testid="value-chips"' in html
    assert "General value" in html and "RFM 443" in html
    assert "?rfm_segment=loyal" in html


def test_customer_without_purchases_shows_and_filters_as_no_purchases(client, book, rep):
    services.rfm_score(actor=SYSTEM, full=True)
    client = signed_in(client, rep)
    html = client.get(f"/customers/{book['F'].pk}/").content.decode()
    assert 'data-testid="value-chips"' in html and "No purchases" in html
    assert "?value_tier=no_purchases" in html and "RFM " not in html.split("value-chips")[1][:400]
    listed = client.get("/customers/?value_tier=no_purchases").content.decode()
    assert book["F"].name in listed and book["A"].name not in listed


def test_card_hides_value_without_scoring_view(client, book, make_user, team):
    services.rfm_score(actor=SYSTEM, full=True)
    agent = make_user("service_agent", team=team)
    html = signed_in(client, agent).get(f"/customers/{book['A'].pk}/").content.decode()
    assert 'data-testid="value-chips"' not in html


def test_lifecycle_panel_sets_stage_and_shows_history(client, customer, rep):
    client = signed_in(client, rep)
    url = f"/value/customers/{customer.pk}/lifecycle/"
    assert "No stage changes yet." in client.get(url).content.decode()
    response = client.post(url, {"stage": "prospect", "note": "展会", "version": customer.version})
    html = response.content.decode()
    assert "Saved." in html and "展会" in html and "Prospect" in html
    customer.refresh_from_db()
    assert customer.lifecycle_stage == "prospect"
    assert LifecycleStageChange.objects.get().by_user == rep
    stale = client.post(url, {"stage": "loyal", "version": customer.version - 1})
    assert "Saved." not in stale.content.decode()
    customer.refresh_from_db()
    assert customer.lifecycle_stage == "prospect"


def test_lifecycle_panel_refuses_readers_and_strangers(client, customer, make_user):
    reader, stranger = make_user("read_only"), make_user("sales_rep")
    client = signed_in(client, reader)
    url = f"/value/customers/{customer.pk}/lifecycle/"
    before = db_snapshot()
    html = client.post(url, {"stage": "loyal"}).content.decode()
    assert "You may not change this customer." in html
    assert 'data-testid="lifecycle-form"' not in html
    client.logout()
    stranger_client = signed_in(client, stranger)
    assert stranger_client.get(url).status_code == 404
    assert stranger_client.post(url, {"stage": "loyal"}).status_code == 404
    customer.refresh_from_db()
    assert customer.lifecycle_stage == "lead"
    assert LifecycleStageChange.objects.count() == 0
    assert db_snapshot() == before


def test_list_filters_and_columns(client, book, rep):
    services.rfm_score(actor=SYSTEM, full=True)
    client = signed_in(client, rep)
    html = client.get("/customers/?value_tier=dormant&cols=name&cols=value_tier"
                      "&cols=rfm_segment&cols=rfm_code").content.decode()
    assert "客户D" in html and "客户E" in html and "客户A" not in html
    assert "Hibernating" in html and "111" in html
    html = client.get("/customers/?r_score=2&f_score=3").content.decode()
    assert "客户C" in html and "客户A" not in html
    html = client.get("/customers/?rfm_segment=loyal").content.decode()
    assert "客户A" in html and "客户C" not in html
    # Unknown codes are ignored, not an error.
    assert client.get("/customers/?value_tier=gold&r_score=9").status_code == 200


def test_export_carries_value_columns(client, book, make_user, team):
    services.rfm_score(actor=SYSTEM, full=True)
    manager = make_user("sales_manager", team=team)
    response = signed_in(client, manager).get(
        "/interchange/customers/export/?format=csv&rfm_segment=at_risk&cols=name"
        "&cols=value_tier&cols=rfm_segment&cols=rfm_code&cols=monetary")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content)
                                       .decode("utf-8-sig"))))
    assert rows == [["Name", "Value tier", "RFM segment", "RFM score", "Spend in window (CNY)"],
                    ["客户C", "General value", "At risk", "234", "2000.00"]]


def test_rfm_page_and_score_button(client, book, make_user):
    marketer = signed_in(client, make_user("marketer"))
    html = marketer.get("/value/rfm/").content.decode()
    assert "Not scored yet." in html
    response = marketer.post("/value/rfm/score/", {"full": "1"})
    assert response.status_code == 302
    html = marketer.get("/value/rfm/").content.decode()
    assert 'id="rfm-grid-data"' in html and "<script>" not in html.replace(
        '<script id="rfm-grid-data" type="application/json">', "")
    assert "?r_score=4&amp;f_score=4" in html


def test_rfm_page_permissions(client, book, make_user):
    agent_user, rep_user = make_user("service_agent"), make_user("sales_rep")
    before = db_snapshot()
    agent = signed_in(client, agent_user)
    assert agent.get("/value/rfm/").status_code == 403
    client.logout()
    rep = signed_in(client, rep_user)
    assert rep.get("/value/rfm/").status_code == 200
    assert rep.post("/value/rfm/score/").status_code == 403
    assert rep.get("/value/settings/").status_code == 403
    assert not AuditEntry.objects.filter(action="scoring.run").exists()
    assert db_snapshot() == before


def test_settings_page_saves_and_validates(client, make_user):
    admin = signed_in(client, make_user("admin"))
    assert admin.get("/value/settings/").status_code == 200
    form = {"window_days": "180", "high_min_score": "4", "high_spend_threshold": "8000",
            "potential_min_r": "4", "potential_max_fm": "2", "dormant_days": "90",
            "lifecycle_rules_enabled": "on", "loyal_min_orders": "5", "churn_days": "300"}
    assert admin.post("/value/settings/", form).status_code == 302
    row = ScoringSettings.objects.get()
    assert (row.window_days, row.dormant_days, row.loyal_min_orders) == (180, 90, 5)
    bad = admin.post("/value/settings/", {**form, "high_min_score": "7"})
    assert bad.status_code == 200
    assert "Ensure this value is less than or equal to 5." in bad.content.decode()
    assert ScoringSettings.objects.get().high_min_score == 4
