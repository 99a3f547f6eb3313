"""API and pages: a customer's insights (404 outside scope, 403 without scoring.view), the
scoped churn list, a fit on demand (scoring.configure; denied changes nothing), a next best
action made a task, and the churn-warning page."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from kehu.core.actor import Actor
from kehu.insights import services
from kehu.insights.models import ChurnModelFit
from kehu.interactions.models import FollowUpTask
from kehu.scoring.services import rfm_score
from kehu.transactions.models import Ticket
from tests.factories import CustomerFactory
from tests.insights.book import order
from tests.unchanged import db_snapshot

SYSTEM = Actor.system(via="system")


def _book(rep, colleague, team):
    now = timezone.now()
    mine = CustomerFactory(owner=rep, team=team, name="我的客户")
    theirs = CustomerFactory(owner=colleague, team=team, name="同事客户")
    for c in (mine, theirs):
        order(c.pk, now - timedelta(days=400), amount="90000")
        order(c.pk, now - timedelta(days=200), amount="80000")
    Ticket.objects.create(customer=mine, number="C-1", kind="complaint", subject="打印机坏了",
                          opened_at=now - timedelta(days=2))
    rfm_score(actor=SYSTEM, full=True)
    services.churn_score(actor=SYSTEM, now=now)
    return mine, theirs


def test_customer_insights(db, rep, colleague, team, api_client_for, make_user):
    mine, theirs = _book(rep, colleague, team)
    client = api_client_for(rep, scopes=("read",))
    body = client.get(f"/api/v1/customers/{mine.pk}/insights", HTTP_ACCEPT_LANGUAGE="en").json()
    assert body["customer_id"] == mine.pk
    assert body["churn"]["level"] == "high" and body["churn"]["level_label"] == "High risk"
    assert body["churn"]["factors"][0]["text"].startswith("No purchase for")
    codes = [a["code"] for a in body["next_actions"]]
    assert codes[0] == "complaint" and "win_back" in codes
    assert client.get(f"/api/v1/customers/{theirs.pk}/insights").status_code == 404
    agent = api_client_for(make_user("service_agent"), scopes=("read",))
    response = agent.get(f"/api/v1/customers/{mine.pk}/insights")
    assert (response.status_code, response.json()["code"]) in {(403, "permission_denied"),
                                                                 (404, "not_found")}


def test_churn_list_is_scoped(db, rep, colleague, team, api_client_for, make_user):
    mine, theirs = _book(rep, colleague, team)
    body = api_client_for(rep, scopes=("read",)).get("/api/v1/insights/churn").json()
    assert [row["customer_id"] for row in body["items"]] == [mine.pk]
    assert body["items"][0]["owner"]["id"] == rep.pk
    assert body["items"][0]["value_source"] == "spend"
    manager = make_user("admin")
    everyone = api_client_for(manager, scopes=("read",)).get("/api/v1/insights/churn").json()
    assert {row["customer_id"] for row in everyone["items"]} == {mine.pk, theirs.pk}
    admin_api = api_client_for(manager, scopes=("read",))
    by_owner = admin_api.get(f"/api/v1/insights/churn?owner={colleague.pk}").json()
    assert [row["customer_id"] for row in by_owner["items"]] == [theirs.pk]
    assert admin_api.get("/api/v1/insights/churn?owner=me").json()["count"] == 0
    mine_only = api_client_for(rep, scopes=("read",)).get("/api/v1/insights/churn?owner=me")
    assert [row["customer_id"] for row in mine_only.json()["items"]] == [mine.pk]
    low = api_client_for(manager, scopes=("read",)).get("/api/v1/insights/churn?level=low")
    assert low.json()["count"] == 0
    bad = api_client_for(manager, scopes=("read",)).get("/api/v1/insights/churn?level=bogus")
    assert bad.status_code == 422


def test_fit_needs_configure(db, rep, api_client_for, make_user):
    client = api_client_for(rep)
    before = db_snapshot()
    denied = client.post("/api/v1/insights/churn/fit", content_type="application/json")
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    assert db_snapshot() == before
    response = api_client_for(make_user("admin")).post("/api/v1/insights/churn/fit",
                                                       content_type="application/json",
                                                       HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    body = response.json()
    assert body["enough_data"] is False and "Too little history" in body["message"]
    assert ChurnModelFit.objects.count() == 1


def test_next_best_action_creates_a_task(db, rep, colleague, team, api_client_for, client):
    mine, theirs = _book(rep, colleague, team)
    api = api_client_for(rep)
    response = api.post(f"/api/v1/customers/{mine.pk}/insights/actions/complaint/task",
                        content_type="application/json")
    assert response.status_code == 201
    task = FollowUpTask.objects.get(pk=response.json()["id"])
    assert task.customer_id == mine.pk and "打印机坏了" in task.title
    assert task.assignee_id == rep.pk and task.due_date == timezone.localdate()
    gone = api.post(f"/api/v1/customers/{mine.pk}/insights/actions/renew/task",
                    content_type="application/json")
    assert (gone.status_code, gone.json()["code"]) == (422, "validation_error")
    before = FollowUpTask.objects.count()
    assert api.post(f"/api/v1/customers/{theirs.pk}/insights/actions/win_back/task",
                    content_type="application/json").status_code == 404
    assert FollowUpTask.objects.count() == before
    # The card panel's button does the same through the page.
    client.force_login(rep)
    page = client.post(f"/insights/customers/{mine.pk}/actions/win_back/task/",
                       HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and page.headers["HX-Trigger"] == "followUpsChanged"
    assert FollowUpTask.objects.filter(customer=mine, title__startswith="Win back").exists()


def test_churn_page_and_one_click_task(db, rep, colleague, team, client):
    mine, theirs = _book(rep, colleague, team)
    client.force_login(rep)
    page = client.get("/insights/churn/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "我的客户" in page.text and "同事客户" not in page.text
    assert "not been fitted yet" in page.text
    overview = page.context["overview"]["levels"]
    assert {r["level"]: (r["count"], r["value_at_stake"]) for r in overview}["high"] == (
        1, Decimal("80000.00"))  # spend in the RFM window of the one high-risk customer
    response = client.post(f"/insights/churn/{mine.pk}/task/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Task created" in response.text
    assert FollowUpTask.objects.filter(customer=mine, title__startswith="Retention call").exists()
    assert client.post(f"/insights/churn/{theirs.pk}/task/").status_code == 404
    assert not FollowUpTask.objects.filter(customer=theirs).exists()
    card = client.get(f"/insights/customers/{mine.pk}/", HTTP_ACCEPT_LANGUAGE="en")
    assert "High risk" in card.text and "No purchase for" in card.text


def test_settings_page(db, rep, client, make_user):
    from kehu.insights.models import ChurnSettings, SignalRule

    client.force_login(rep)
    assert client.get("/insights/settings/").status_code == 403
    client.force_login(make_user("admin"))
    page = client.get("/insights/settings/", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200 and "Viewing the pricing page" in page.text
    form = {"churn-window_days": "120", "churn-model_kind": "gbm", "churn-min_labelled": "200",
            "churn-min_each_class": "20", "churn-medium_threshold": "0.4",
            "churn-high_threshold": "0.7", "enabled_pricing_views": "1",
            "min_count_pricing_views": "4", "days_pricing_views": "7",
            "enabled_after_sales_views": "1", "min_count_after_sales_views": "1",
            "days_after_sales_views": "14", "days_cart_abandoned": "7",
            "min_count_cart_abandoned": "1"}
    response = client.post("/insights/settings/", form)
    assert response.status_code == 302
    settings = ChurnSettings.objects.get()
    assert (settings.window_days, settings.model_kind) == (120, "gbm")
    assert SignalRule.objects.get(kind="pricing_views").min_count == 4
    assert SignalRule.objects.get(kind="cart_abandoned").enabled is False
    bad = client.post("/insights/settings/", {**form, "churn-high_threshold": "0.2"},
                      HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 200 and "High risk must start above medium risk." in bad.text
    assert ChurnSettings.objects.get().high_threshold == 0.7


def test_churn_list_queries_do_not_grow_with_rows(db, make_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from kehu.insights import selectors

    manager = make_user("admin")
    manager.access.field_mode("customer.mobile")  # the policy's own queries: once per request
    now = timezone.now()

    def add(n):
        for _i in range(n):
            c = CustomerFactory(owner=manager)
            order(c.pk, now - timedelta(days=300))
        services.churn_score(actor=SYSTEM, now=now)

    add(2)
    with CaptureQueriesContext(connection) as few:
        assert len(selectors.churn_list(user=manager)["items"]) == 2
    add(6)
    with CaptureQueriesContext(connection) as many:
        assert len(selectors.churn_list(user=manager)["items"]) == 8
    assert len(many.captured_queries) == len(few.captured_queries) <= 4
