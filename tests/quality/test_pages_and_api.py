"""The steward's summary (selector, API, page), a customer's quality (API, card) and the
list's drill-down filters by quality__score / quality__invalid."""

import datetime as dt

import pytest
from django.utils import timezone

from kehu.customers.models import Customer
from kehu.quality import selectors, services
from tests.factories import create_customer
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def scored(system, rep, make_user):
    other = make_user("sales_rep")
    good = create_customer(owner=rep, name="好客户", mobile="13812345678",
                           email="good@example.com", source="展会")
    bad = create_customer(owner=rep, name="坏客户", source="地推")
    foreign = create_customer(owner=other, name="别人的客户", source="地推")
    services.field_rule_create(actor=system, field="source", rule="allowed",
                               allowed_values=["展会"])
    then = timezone.now() - dt.timedelta(days=200)
    Customer.objects.filter(pk=bad.pk).update(created_at=then, updated_at=then)
    services.quality_recompute(actor=system)
    services.quality_snapshot_take(actor=system)
    return {"good": good, "bad": bad, "foreign": foreign}


def test_summary_counts_invalid_values_and_stale_customers(steward, scored):
    summary = selectors.quality_summary(user=steward)
    assert (summary.customers, summary.scored, summary.stale_customers) == (3, 3, 1)
    assert [(f.field, f.count) for f in summary.invalid] == [("source", 2)]
    email = next(f for f in summary.completeness if f.field == "email")
    assert (email.count, email.total, email.percent) == (1, 3, 33.3)
    assert summary.pending_duplicates == 0
    assert [p["day"] for p in summary.trend] == [timezone.localdate().isoformat()]


def test_summary_is_scoped_to_what_the_user_sees(rep, scored):
    from kehu.core.errors import PermissionDenied

    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        selectors.quality_summary(user=rep)
    assert db_snapshot() == before
    rep.role.permissions = [*rep.role.permissions, "quality.view"]
    rep.role.save()
    rep = type(rep).objects.get(pk=rep.pk)
    summary = selectors.quality_summary(user=rep)
    assert summary.customers == 2
    assert [(f.field, f.count) for f in summary.invalid] == [("source", 1)]
    assert summary.trend == []  # whole-base figures are for users who see every customer


def test_api_summary_and_customer_quality(steward, scored, english_api, rep):
    client = english_api(steward)
    summary = client.get("/api/v1/quality/summary").json()
    assert summary["customers"] == 3 and summary["invalid"][0]["field"] == "source"
    bad = client.get(f"/api/v1/customers/{scored['bad'].pk}/quality").json()
    # completeness 3/12 -> 25, validity 0 (source), freshness 49: 10 + 0 + 9.8 + 10
    assert bad["score"] == 30
    assert [p["key"] for p in bad["parts"]] == ["completeness", "validity", "freshness",
                                                "duplicates"]
    assert bad["invalid"] == [{"field": "source", "label": "Source"}]
    assert bad["age_days"] == 200
    # A rep sees the quality of their own customers only.
    rep_client = english_api(rep)
    assert rep_client.get(f"/api/v1/customers/{scored['bad'].pk}/quality").status_code == 200
    before = db_snapshot()
    assert rep_client.get(
        f"/api/v1/customers/{scored['foreign'].pk}/quality").status_code == 404
    assert rep_client.get("/api/v1/quality/summary").status_code == 403
    assert db_snapshot() == before


def test_customer_list_filters_by_quality(steward, scored, english_api):
    client = english_api(steward)
    names = {c["name"] for c in client.get(
        "/api/v1/customers?quality_invalid=source").json()["items"]}
    assert names == {"坏客户", "别人的客户"}
    below = client.get("/api/v1/customers?quality_below=35").json()["items"]
    assert [c["name"] for c in below] == ["坏客户"]
    stale = client.get("/api/v1/customers?stale_days=180").json()["items"]
    assert [c["name"] for c in stale] == ["坏客户"]


def test_page_renders_figures_and_drill_down_links(steward, scored, client):
    client.force_login(steward)
    page = client.get("/quality/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/customers/?quality_invalid=source"' in html
    assert 'href="/customers/?stale_days=180"' in html
    assert 'id="quality-trend-data"' in html
    listed = client.get("/customers/?quality_invalid=source")
    assert listed.status_code == 200
    assert {c.name for c in listed.context["page"].items} == {"坏客户", "别人的客户"}


def test_page_is_denied_without_quality_view(rep, client):
    client.force_login(rep)
    before = db_snapshot()
    assert client.get("/quality/").status_code == 403
    assert client.post("/quality/settings/", {}).status_code == 403
    assert db_snapshot() == before


def test_card_shows_the_score_with_its_breakdown(steward, scored, client):
    client.force_login(steward)
    html = client.get(f"/customers/{scored['bad'].pk}/").content.decode()
    assert 'data-testid="quality-score">' in html
    assert "Validity: <strong>0</strong>" in html


def test_settings_page_saves_weights(steward, client):
    from kehu.quality.models import QualitySettings

    client.force_login(steward)
    response = client.post("/quality/settings/", {
        "completeness_person": "mobile=5\nemail=1", "completeness_organisation": "uscc=2",
        "weight_completeness": 50, "weight_validity": 30, "weight_freshness": 10,
        "weight_duplicates": 10, "fresh_days": 14, "expired_days": 200, "stale_days": 90})
    assert response.status_code == 302
    row = QualitySettings.objects.get()
    assert row.completeness_weights == {"person": {"mobile": 5, "email": 1},
                                        "organisation": {"uscc": 2}}
    assert (row.fresh_days, row.expired_days, row.stale_days) == (14, 200, 90)
    bad = client.post("/quality/settings/", {
        "completeness_person": "nofield=1", "completeness_organisation": "",
        "weight_completeness": 0, "weight_validity": 0, "weight_freshness": 0,
        "weight_duplicates": 0, "fresh_days": 14, "expired_days": 200, "stale_days": 90})
    assert bad.status_code == 200
    assert QualitySettings.objects.get().stale_days == 90


def test_worst_fields_show_what_is_missing_and_leave_out_full_fields(steward, scored, client):
    """On a known book of three: email is missing on two, owner on none."""
    summary = selectors.quality_summary(user=steward)
    figures = {f.field: (f.count, f.missing, f.total) for f in summary.completeness}
    assert figures["email"] == (1, 2, 3)
    assert figures["owner"] == (3, 0, 3)
    shares = [(f.missing / f.total, f.missing) for f in summary.completeness if f.total]
    assert shares == sorted(shares, reverse=True)  # worst first

    client.force_login(steward)
    html = client.get("/quality/").content.decode()
    assert 'data-testid="missing-email">2 of 3</a>' in html  # missing of total, not filled
    assert 'data-testid="missing-owner"' not in html  # nobody lacks an owner: not a worst field
    assert html.index('data-testid="missing-birthday"') < html.index('data-testid="missing-email"')


def test_no_drill_down_into_a_field_masked_for_the_steward(steward, system, make_user, client):
    """Issue 19: the ID number is masked for a data steward, so "invalid ID numbers" is a
    figure without a link, and the list refuses that filter; an admin gets the link."""
    person = create_customer(name="身份证错", id_number="11010519491231002X")
    Customer.objects.filter(pk=person.pk).update(birthday=dt.date(2000, 1, 1))
    services.quality_recompute(actor=system)
    client.force_login(steward)
    html = client.get("/quality/").content.decode()
    assert "quality_invalid=id_number" not in html
    assert 'data-testid="invalid-id_number"' not in html
    before = db_snapshot()
    refused = client.get("/customers/?quality_invalid=id_number")
    assert db_snapshot() == before
    assert refused.context["page"] is None
    assert list(refused.context["error"].details) == ["quality_invalid"]
    client.force_login(make_user("admin"))
    assert 'href="/customers/?quality_invalid=id_number"' in client.get("/quality/"
                                                                          ).content.decode()
    listed = client.get("/customers/?quality_invalid=id_number")
    assert [c.pk for c in listed.context["page"].items] == [person.pk]
