"""Saved reports and dashboards, drill-down, XLSX, scheduled email, API and CLI."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.management import call_command
from django.urls import reverse

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.reports import selectors, services
from kehu.reports.mailing import dashboards_send
from kehu.reports.models import DashboardSubscription
from kehu.reports.query import run_report

SPEC = {"subject": "orders", "measure": {"kind": "count"},
        "group_by": [{"field": "date", "bucket": "month"}, {"field": "region"}],
        "chart": "pivot"}


def _drill_count(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content[:500]
    if url.startswith(reverse("customers:list")):
        # The customer list itself (filter report_cell): count what its selector lists.
        from kehu.customers.listing import filters_from_query
        from kehu.customers.selectors import customer_filtered_queryset

        user = response.wsgi_request.user
        filters = filters_from_query(parse_qs(urlparse(url).query))
        return customer_filtered_queryset(user=user, filters=filters).count()
    return response.context["count"]


def test_save_reload_run_gives_the_same_numbers(book):
    manager = book["manager"]
    before = run_report(SPEC, user=manager)
    saved = services.report_save(user=manager, name="月度区域订单", spec=SPEC)
    reloaded = selectors.report_get(user=manager, report_id=saved.pk)
    after = run_report(reloaded.spec, user=manager)
    assert [(c.keys, c.value) for c in after.rows] == [(c.keys, c.value) for c in before.rows]
    assert after.total == before.total
    # Reports are their owner's.
    with pytest.raises(NotFound):
        selectors.report_get(user=book["rep_a"], report_id=saved.pk)


def test_drill_urls_list_exactly_the_number_in_the_cell(book, client):
    manager = book["manager"]
    client.force_login(manager)
    result = run_report(SPEC, user=manager)
    for cell in result.rows:
        assert _drill_count(client, cell.url) == cell.value
    for cell in result.first_totals + result.second_totals:
        assert _drill_count(client, cell.url) == cell.value
    assert _drill_count(client, result.total_url) == result.total


def test_drill_of_customers_opens_the_customer_list(book, client, api_client_for):
    spec = {"subject": "customers", "group_by": [{"field": "city"}], "chart": "bar"}
    client.force_login(book["manager"])
    for cell in run_report(spec, user=book["manager"]).rows:
        assert cell.url.startswith("/customers/?report_cell=")
        assert _drill_count(client, cell.url) == cell.value == 2
    distinct = {"subject": "orders", "measure": {"kind": "distinct_customers"},
                "group_by": [{"field": "date", "bucket": "month"}], "chart": "line"}
    result = run_report(distinct, user=book["manager"])
    for cell in result.rows:
        expected = {o.customer_id for o in book["orders"]
                    if o.customer.owner in (book["rep_a"], book["rep_b"])
                    and o.ordered_at.month == int(cell.keys[0][5:7])}
        assert _drill_count(client, cell.url) == cell.value == len(expected)
        # The API's customer list takes the same filter (page/API parity).
        token = parse_qs(urlparse(cell.url).query)["report_cell"][0]
        api = api_client_for(book["manager"]).get("/api/v1/customers",
                                                  {"report_cell": token, "limit": 200})
        assert api.status_code == 200, api.content
        assert {item["id"] for item in api.json()["items"]} == expected


def test_drill_link_is_revalidated_for_whoever_opens_it(book, client, make_user):
    from kehu.accounts.models import Role

    spec = {"subject": "customers", "group_by": [{"field": "birthday", "bucket": "month"}],
            "chart": "bar"}
    cell = run_report(spec, user=book["rep_a"]).rows[0]
    orders_cell = run_report({"subject": "orders", "chart": "bar", "group_by": [
        {"field": "birthday", "bucket": "month"}]}, user=book["rep_a"]).rows[0]
    role = Role.objects.get(code="read_only")
    role.permissions = [*role.permissions, "report.view"]
    role.field_permissions = {"customer.birthday": "masked"}
    role.save()
    viewer = make_user("read_only")
    client.force_login(viewer)
    response = client.get(cell.url)  # the customer list refuses the masked field
    assert response.context["error"].details.keys() == {"report_cell.group_by[0].field"}
    assert response.context["rows"] == []
    response = client.get(orders_cell.url)  # and so does the report's own list
    assert response.status_code == 422
    assert "group_by[0].field" in response.content.decode()
    # A link edited by hand is refused.
    token = parse_qs(urlparse(orders_cell.url).query)["t"][0]
    client.force_login(book["rep_a"])
    assert client.get(reverse("reports:drill") + "?t=" + token[:-2] + "xx").status_code == 422
    response = client.get("/customers/?report_cell=" + token[:-2] + "xx")
    assert "report_cell" in response.context["error"].details and response.context["rows"] == []
    # The rep who made it sees their own birthday buckets.
    assert _drill_count(client, cell.url) == cell.value


def test_shared_dashboard_is_computed_in_the_viewers_scope(book, client):
    manager, rep = book["manager"], book["rep_a"]
    report = services.report_save(user=manager, name="按区域", spec={
        "subject": "orders", "group_by": [{"field": "region"}], "chart": "bar"})
    board = services.dashboard_save(user=manager, name="团队看板", shared=True)
    services.dashboard_add_report(user=manager, dashboard_id=board.pk, report_id=report.pk)
    with pytest.raises(PermissionDenied):
        services.dashboard_save(user=rep, name="我的", shared=True)  # no report.share
    client.force_login(rep)
    response = client.get(reverse("reports:dashboard", args=[board.pk]))
    assert response.status_code == 200
    panel = response.context["panels"][0]
    mine = Counter(o.customer.region for o in book["orders"] if o.customer.owner == rep)
    assert {c.keys[0]: c.value for c in panel["result"].rows} == dict(mine)
    assert 'class="kehu-chart' in response.content.decode()
    # A personal dashboard is not visible to others.
    private = services.dashboard_save(user=manager, name="私人")
    with pytest.raises(NotFound):
        selectors.dashboard_get(user=rep, dashboard_id=private.pk)
    with pytest.raises(PermissionDenied):
        services.dashboard_add_report(user=rep, dashboard_id=board.pk, report_id=report.pk)


def test_xlsx_export_neutralises_formulas(book, client):
    from openpyxl import load_workbook

    from kehu.transactions.models import Order

    Order.objects.filter(pk=book["orders"][0].pk).update(sales_channel="")
    customer = book["orders"][0].customer
    customer.city = "=HYPERLINK(\"http://x\")"
    customer.save(update_fields=["city"])
    rep = customer.owner
    report = services.report_save(user=rep, name="按城市", spec={
        "subject": "orders", "group_by": [{"field": "city"}], "chart": "table"})
    client.force_login(rep)
    response = client.get(reverse("reports:xlsx", args=[report.pk]))
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    assert any(isinstance(v, str) and v.startswith("'=HYPERLINK") or
               isinstance(v, str) and "=HYPERLINK" in v and not v.startswith("=")
               for v in values)
    assert not any(isinstance(v, str) and v.startswith("=") for v in values)
    assert values[-1] == run_report(report.spec, user=rep).total


def test_schedule_sends_email_in_the_recipients_scope(book, settings, tmp_path,
                                                     django_capture_on_commit_callbacks):
    import email
    from email import policy

    from kehu.notifications.models import OutboundMessage

    settings.KEHU_HOME = tmp_path
    settings.KEHU_EMAIL_URL = ""
    manager, rep = book["manager"], book["rep_a"]
    report = services.report_save(user=manager, name="按区域订单", spec={
        "subject": "orders", "group_by": [{"field": "region"}], "chart": "table"})
    board = services.dashboard_save(user=manager, name="周报", shared=True)
    services.dashboard_add_report(user=manager, dashboard_id=board.pk, report_id=report.pk)
    services.subscription_set(user=rep, dashboard_id=board.pk,
                              frequency=DashboardSubscription.DAILY)
    services.subscription_set(user=manager, dashboard_id=board.pk,
                              frequency=DashboardSubscription.WEEKLY)
    tuesday = dt.date(2026, 12, 8)
    with django_capture_on_commit_callbacks(execute=True):
        result = dashboards_send(day=tuesday)
    assert result.sent == 1  # the weekly one waits for Monday
    assert dashboards_send(day=tuesday).sent == 0  # once a day
    message = OutboundMessage.objects.get()
    assert message.to == [rep.email] and message.status == "sent"
    eml = email.message_from_bytes(
        next((tmp_path / "outbox").glob("*.eml")).read_bytes(), policy=policy.default)
    body = eml.get_body(("plain",)).get_content()
    mine = Counter(o.customer.region for o in book["orders"] if o.customer.owner == rep)
    for region, count in mine.items():
        assert f"{region} | {count}" in body
    team = Counter(o.customer.region for o in book["orders"]
                   if o.customer.owner in (rep, book["rep_b"]))
    assert f"华东 | {team['华东']}" not in body  # not the owner's (team) figures
    assert "周报" in eml["Subject"]
    assert dashboards_send(day=dt.date(2026, 12, 14)).sent == 2


def test_api_run_and_crud(book, api_client_for):
    client = api_client_for(book["manager"])
    response = client.post("/api/v1/reports/run", {"spec": SPEC}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["total"] == run_report(SPEC, user=book["manager"]).total
    bad = client.post("/api/v1/reports/run", {"spec": {"subject": "orders", "group_by": [
        {"field": "colour"}]}}, content_type="application/json")
    assert bad.status_code == 422 and "group_by[0].field" in bad.json()["details"]
    created = client.post("/api/v1/reports", {"name": "订单", "spec": SPEC},
                          content_type="application/json")
    assert created.status_code == 201
    report_id = created.json()["id"]
    board = client.post("/api/v1/reports/dashboards", {"name": "看板", "shared": True},
                        content_type="application/json")
    assert board.status_code == 201
    board_id = board.json()["id"]
    assert client.post(f"/api/v1/reports/dashboards/{board_id}/items", {"report_id": report_id},
                       content_type="application/json").status_code == 201
    rep_client = api_client_for(book["rep_a"])
    seen = rep_client.get(f"/api/v1/reports/dashboards/{board_id}").json()
    assert seen["reports"][0]["result"]["total"] == run_report(SPEC, user=book["rep_a"]).total
    assert rep_client.get(f"/api/v1/reports/{report_id}").status_code == 404
    assert rep_client.get(f"/api/v1/reports/{report_id}/result").status_code == 200
    assert client.delete(f"/api/v1/reports/{report_id}").status_code == 204


def test_cli_runs_a_spec(book, tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"subject": "orders", "group_by": [{"field": "region"}]}),
                    encoding="utf-8")
    out = io.StringIO()
    call_command("report", "run", "--spec", str(path), "--format", "json",
                 "--user", book["rep_a"].username, stdout=out)
    data = json.loads(out.getvalue())
    assert data["total"] == len([o for o in book["orders"] if o.customer.owner == book["rep_a"]])
    out = io.StringIO()
    call_command("report", "run", "--spec", str(path), "--format", "csv",
                 "--user", book["rep_a"].username, stdout=out)
    assert "华东" in out.getvalue()
    out = io.StringIO()
    call_command("report", "run", "--spec", str(path), "--user", book["rep_a"].username,
                 stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[-1].split()[-1] == str(data["total"]) and "华南" in out.getvalue()


def test_builder_preview_and_save_pages(book, client):
    client.force_login(book["manager"])
    assert client.get(reverse("reports:new") + "?subject=orders").status_code == 200
    form = {"subject": "orders", "measure": "sum", "amount": "total_amount",
            "group1": "date", "bucket1": "month", "group2": "region", "chart": "stacked_bar",
            "period": "", "name": "金额"}
    preview = client.post(reverse("reports:preview"), form)
    assert preview.status_code == 200 and 'data-testid="report-chart"' in preview.content.decode()
    bad = client.post(reverse("reports:preview"), dict(form, group2="nope"))
    assert bad.status_code == 422 and "group_by[1].field" in bad.content.decode()
    shown = client.post(reverse("reports:preview"), dict(form, group2="nope"),
                        headers={"HX-Request": "true"})
    assert shown.status_code == 200 and 'data-testid="report-errors"' in shown.content.decode()
    saved = client.post(reverse("reports:save"), form)
    assert saved.status_code == 302
    page = client.get(saved["Location"])
    assert page.status_code == 200
    assert page.context["result"].total == run_report({
        "subject": "orders", "measure": {"kind": "sum", "field": "total_amount"},
        "group_by": [{"field": "date", "bucket": "month"}, {"field": "region"}]},
        user=book["manager"]).total


def test_needs_report_permission(book, make_user):
    viewer = make_user("service_agent")
    with pytest.raises(PermissionDenied):
        run_report({"subject": "orders"}, user=viewer)
    with pytest.raises(ValidationFailed):
        run_report({"subject": "orders", "chart": "pie"}, user=book["manager"])


def test_pages_keep_reports_their_owners(book, client):
    manager, rep = book["manager"], book["rep_a"]
    report = services.report_save(user=manager, name="订单", spec=SPEC)
    board = services.dashboard_save(user=manager, name="看板")
    client.force_login(manager)
    response = client.post(reverse("reports:add_to_dashboard", args=[report.pk]),
                           {"dashboard": board.pk})
    assert response.status_code == 302
    assert [r.pk for r in selectors.dashboard_reports(user=manager, dashboard=board)] == [
        report.pk]
    client.force_login(rep)
    assert client.get(reverse("reports:report", args=[report.pk])).status_code == 404
    assert client.get(reverse("reports:xlsx", args=[report.pk])).status_code == 404
    assert client.get(reverse("reports:dashboard", args=[board.pk])).status_code == 404


def test_builder_does_not_offer_masked_fields(book, client, make_user):
    from kehu.accounts.models import Role

    role = Role.objects.get(code="read_only")
    role.permissions = [*role.permissions, "report.view"]
    role.field_permissions = {"customer.birthday": "masked"}
    role.save()
    client.force_login(make_user("read_only"))
    page = client.get(reverse("reports:new") + "?subject=customers").content.decode()
    assert 'value="region"' in page and 'value="birthday"' not in page
    client.force_login(book["rep_a"])
    page = client.get(reverse("reports:new") + "?subject=customers").content.decode()
    assert 'value="birthday"' in page


def test_writes_and_exports_are_audited(book, client):
    from kehu.core.models import AuditEntry

    manager = book["manager"]
    report = services.report_save(user=manager, name="订单", spec=SPEC)
    board = services.dashboard_save(user=manager, name="看板", shared=True)
    client.force_login(manager)
    assert client.get(reverse("reports:xlsx", args=[report.pk])).status_code == 200
    services.report_delete(user=manager, report_id=report.pk)
    actions = list(AuditEntry.objects.filter(object_type__in=("report", "report_dashboard"))
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["report.create", "report_dashboard.create", "report.export",
                       "report.delete"]
    assert board.pk
