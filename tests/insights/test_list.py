"""The customer list: churn risk level filter and churn columns, in scope."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from kehu.core.actor import Actor
from kehu.insights import services
from tests.factories import CustomerFactory
from tests.insights.book import order


def test_list_filter_and_columns(db, rep, colleague, team, client, api_client_for):
    now = timezone.now()
    risky = CustomerFactory(owner=rep, team=team, name="沉睡客户")
    fresh = CustomerFactory(owner=rep, team=team, name="活跃客户")
    other = CustomerFactory(owner=colleague, team=team, name="同事沉睡")
    order(risky.pk, now - timedelta(days=300))
    order(other.pk, now - timedelta(days=300))
    order(fresh.pk, now - timedelta(days=1))
    services.churn_score(actor=Actor.system(via="system"), now=now)
    client.force_login(rep)
    page = client.get("/customers/?churn_level=high&columns=name&columns=churn_risk"
                      "&columns=churn_level", HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    assert "沉睡客户" in page.text and "活跃客户" not in page.text and "同事沉睡" not in page.text
    assert "High risk" in page.text
    body = api_client_for(rep, scopes=("read",)).get("/api/v1/customers?churn_level=high").json()
    names = {row["name"] for row in (body["items"] if isinstance(body, dict) else body)}
    assert names == {"沉睡客户"}
    for threshold, expected in (("0.5", {"沉睡客户"}), ("0.95", set())):
        rows = api_client_for(rep, scopes=("read",)).get(
            f"/api/v1/customers?churn_risk_min={threshold}").json()
        rows = rows["items"] if isinstance(rows, dict) else rows
        assert {row["name"] for row in rows} == expected
