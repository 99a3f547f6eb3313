"""The form designer: layouts per role, field behaviour rules enforced alike through the
page, the API and imports (docs/forms.md)."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.utils import translation

from kehu.core.actor import Actor
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.customers import services
from kehu.customers.layouts import layout_sections
from kehu.customers.models import Customer, FieldBehaviour, FormLayout
from kehu.interchange.selectors import import_row_errors
from kehu.interchange.services import import_job_create, import_job_run
from tests.factories import UserFactory, create_customer

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system(via="system")
ORG = {"match": "all", "conditions": [{"field": "kind", "op": "eq", "value": "organisation"}]}
WON = {"match": "all", "conditions": [{"field": "lifecycle_stage", "op": "eq",
                                       "value": "customer"}]}


@pytest.fixture
def rules(db):
    services.field_behaviour_save(actor=SYSTEM, field="industry", effect="required",
                                  condition=ORG)
    services.field_behaviour_save(actor=SYSTEM, field="source", effect="readonly",
                                  condition=WON, roles=["sales_rep"])
    services.field_behaviour_save(actor=SYSTEM, field="title", effect="hidden",
                                  roles=["sales_rep"])


@pytest.fixture
def rep(db):
    """A sales rep whose role may also import (to drive the same rows through an import)."""
    user = UserFactory(role_code="sales_rep", username="rep")
    user.role.permissions = sorted({*user.role.permissions, "customer.import"})
    user.role.save(update_fields=["permissions"])
    return type(user).objects.get(pk=user.pk)


# The rules themselves ------------------------------------------------------------------------

def test_required_when_condition_holds(rules, rep):
    actor = Actor(user=rep)
    with pytest.raises(ValidationFailed) as caught, translation.override("en"):
        services.customer_create(actor=actor, name="某某科技", kind="organisation")
    assert caught.value.details == {"industry": ["Industry is required."]}
    services.customer_create(actor=actor, name="王芳")  # a person: not required
    assert services.customer_create(actor=actor, name="某某科技", kind="organisation",
                                    industry="软件").industry == "软件"


def test_readonly_refuses_a_change_not_an_unchanged_value(rules, rep):
    actor = Actor(user=rep)
    customer = services.customer_create(actor=actor, name="王芳", source="展会")
    services.customer_update(actor=SYSTEM, customer=customer, expected_version=None,
                             changes={"lifecycle_stage": "customer"})
    customer.refresh_from_db()
    with pytest.raises(ValidationFailed) as caught, translation.override("en"):
        services.customer_update(actor=actor, customer=customer,
                                 expected_version=customer.version,
                                 changes={"source": "官网"})
    assert list(caught.value.details) == ["source"]
    assert "read-only" in caught.value.details["source"][0]
    customer.refresh_from_db()
    assert customer.source == "展会"
    # Writing back the same value (a form posting every field) is no change.
    services.customer_update(actor=actor, customer=customer, expected_version=customer.version,
                             changes={"source": "展会", "notes": "续约"})
    # Other roles are not concerned.
    services.customer_update(actor=SYSTEM, customer=customer, expected_version=None,
                             changes={"source": "官网"})


def test_readonly_judges_the_stored_record_not_the_write(rules, rep):
    """Changing the condition's field in the same write does not unlock the field."""
    actor = Actor(user=rep)
    customer = create_customer(owner=rep, name="王芳", lifecycle_stage="customer", source="展会")
    with pytest.raises(ValidationFailed):
        services.customer_update(actor=actor, customer=customer, expected_version=None,
                                 changes={"lifecycle_stage": "lead", "source": "官网"})


def test_hidden_field_cannot_be_written(rules, rep):
    with pytest.raises(ValidationFailed) as caught, translation.override("en"):
        services.customer_create(actor=Actor(user=rep), name="王芳", title="经理")
    assert list(caught.value.details) == ["title"]
    assert services.customer_create(actor=SYSTEM, name="王芳", title="经理").title == "经理"


def test_only_designers_may_change_rules_and_layouts(rep):
    with pytest.raises(PermissionDenied):
        services.field_behaviour_save(actor=Actor(user=rep), field="industry", effect="required")
    with pytest.raises(PermissionDenied):
        services.form_layout_save(actor=Actor(user=rep), role=None, sections=[])
    assert not FieldBehaviour.objects.exists() and not FormLayout.objects.exists()


def test_bad_rules_and_layouts_are_refused_by_name(db):
    with pytest.raises(ValidationFailed) as caught:
        services.field_behaviour_save(actor=SYSTEM, field="nope", effect="sometimes",
                                      condition={"conditions": [{"field": "x", "op": "eq"}]})
    assert set(caught.value.details) == {"field", "effect", "condition.conditions[0].field"}
    with pytest.raises(ValidationFailed) as caught:
        services.form_layout_save(actor=SYSTEM, role=None, sections=[
            {"title": "a", "fields": [{"field": "name", "width": "half"},
                                      {"field": "name", "width": "full"},
                                      {"field": "mobile", "width": "huge"}]}])
    assert set(caught.value.details) == {"sections[0].fields[1]", "sections[0].fields[2].width"}


def test_layout_per_role_falls_back_to_default(db):
    from kehu.accounts.models import Role

    rep_role = Role.objects.get(code="sales_rep")
    services.form_layout_save(actor=SYSTEM, role=None, sections=[
        {"title": "联系", "fields": [{"field": "mobile", "width": "half"}]}])
    services.form_layout_save(actor=SYSTEM, role=rep_role, sections=[
        {"title": "先看", "fields": [{"field": "notes", "width": "full"}]}])
    mine = layout_sections(role=rep_role, definitions=[])
    assert mine[0]["title"] == "先看" and mine[0]["fields"][0] == {"field": "notes",
                                                                    "width": "full"}
    # Every other field is still placed (after the named ones), once.
    placed = [f["field"] for s in mine for f in s["fields"]]
    assert len(placed) == len(set(placed)) and "name" in placed
    other = layout_sections(role=Role.objects.get(code="marketer"), definitions=[])
    assert other[0]["title"] == "联系" and other[0]["fields"][0]["field"] == "mobile"


# Parity: the page, the API and the import refuse alike ---------------------------------------

ROWS = [
    {"name": "某某科技有限公司", "kind": "organisation"},                          # industry required
    {"name": "王芳", "kind": "person", "lifecycle_stage": "customer", "source": "展会"},  # read-only
    {"name": "李雷", "kind": "person", "lifecycle_stage": "customer"},              # fine
    {"name": "某某贸易有限公司", "kind": "organisation", "industry": "贸易"},         # fine
]
HEADERS = {"name": "客户名称", "kind": "客户类型", "lifecycle_stage": "阶段", "source": "来源",
           "industry": "行业", "title": "职位"}


def _form_errors(client, row) -> set:
    data = {"kind": row["kind"], "name": row["name"],
            "lifecycle_stage": row.get("lifecycle_stage", "lead")}
    for key in ("source", "industry", "title"):
        if key in row:
            data[key] = row[key]
    response = client.post(f"/customers/new/?kind={row['kind']}", data)
    if response.status_code == 302:
        return set()
    html = response.content.decode()
    found = set()
    for chunk in html.split('data-field="')[1:]:
        name, _sep, rest = chunk.partition('"')
        block = re.search(r'<ul class="errorlist"[^>]*>(.*?)</ul>', rest, re.S)
        for message in re.findall(r"<li>(.*?)</li>", block.group(1) if block else ""):
            found.add((name, message))
    return found


def _api_errors(api, row) -> set:
    response = api.post("/api/v1/customers", data=json.dumps(row),
                        content_type="application/json")
    if response.status_code == 201:
        return set()
    assert response.status_code == 422, response.content
    return {(f, m) for f, ms in response.json()["details"].items() for m in ms}


def _import_errors(actor, tmp_path, rows) -> dict[int, set]:
    fields = [f for f in HEADERS if any(f in row for row in rows)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([HEADERS[f] for f in fields])
    for row in rows:
        writer.writerow([row.get(f, "") for f in fields])
    path = tmp_path / "rows.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    job = import_job_create(actor=actor, file=path, filename=path.name)
    job = import_job_run(job_id=job.pk, actor=actor)
    by_header = {header: field for field, header in HEADERS.items()}
    errors: dict[int, set] = {}
    for error in import_row_errors(job):
        errors.setdefault(error.row - 2, set()).add((by_header.get(error.column, error.column),
                                                     error.reason))
    return errors


def test_page_api_and_import_refuse_the_same_rows_naming_the_same_field(
        rules, rep, client, api_client_for, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    client.force_login(rep)
    api = api_client_for(rep)
    with translation.override("zh-hans"):
        client.cookies["django_language"] = "zh-hans"
        page = [_form_errors(client, row) for row in ROWS]
        created_by_page = Customer.objects.count()
        Customer.objects.all().delete()
        by_api = [_api_errors(api, row) for row in ROWS]
        created_by_api = Customer.objects.count()
        Customer.objects.all().delete()
        errors = _import_errors(Actor(user=rep, via="web"), tmp_path, ROWS)
        by_import = [errors.get(i, set()) for i in range(len(ROWS))]
        created_by_import = Customer.objects.count()
    assert page == by_api == by_import, (page, by_api, by_import)
    assert [bool(e) for e in page] == [True, True, False, False]
    assert {f for f, _m in page[0]} == {"industry"} and {f for f, _m in page[1]} == {"source"}
    assert "行业" in next(iter(page[0]))[1]
    assert created_by_page == created_by_api == created_by_import == 2


def test_hidden_field_refused_by_api_and_import_and_not_offered_by_the_page(
        rules, rep, client, api_client_for, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    row = {"name": "王芳", "kind": "person", "title": "经理"}
    by_api = _api_errors(api_client_for(rep), row)
    Customer.objects.all().delete()
    by_import = _import_errors(Actor(user=rep, via="web"), tmp_path, [row]).get(0, set())
    assert by_api == by_import and {f for f, _m in by_api} == {"title"}
    client.force_login(rep)
    assert 'name="title"' not in client.get("/customers/new/").content.decode()


# The page --------------------------------------------------------------------------------------

def test_form_and_card_render_by_the_layout(admin_user, client):
    services.form_layout_save(actor=SYSTEM, role=None, sections=[
        {"title": "联系方式", "fields": [{"field": "mobile", "width": "third"},
                                         {"field": "name", "width": "full"}]},
        {"title": "其他", "fields": [{"field": "notes", "width": "full"}]}])
    client.force_login(admin_user)
    html = client.get("/customers/new/").content.decode()
    assert html.index("联系方式") < html.index('name="mobile"') < html.index('name="name"') \
        < html.index("其他") < html.index('name="notes"')
    assert 'class="field w-third" data-field="mobile"' in html
    customer = create_customer(owner=admin_user, name="王芳", mobile="13812345678")
    card = client.get(f"/customers/{customer.pk}/").content.decode()
    assert card.index("联系方式") < card.index("其他")


def test_designer_page_saves_a_layout(admin_user, client, rep):
    client.force_login(rep)
    assert client.get("/customers/form-designer/").status_code == 403
    client.force_login(admin_user)
    page = client.get("/customers/form-designer/")
    assert page.status_code == 200 and 'data-testid="designer-field-name"' in page.content.decode()
    sections = [{"title": "A", "fields": [{"field": "email", "width": "half"}]}]
    response = client.post("/customers/form-designer/save/",
                           {"sections": json.dumps(sections)})
    assert response.status_code == 302
    assert FormLayout.objects.get(key="default").sections == sections
    client.post("/customers/form-designer/behaviour/", {
        "field": "industry", "effect": "required", "match": "all", "t0.field": "kind",
        "t0.op": "eq", "t0.value": "organisation"})
    rule = FieldBehaviour.objects.get()
    assert rule.condition == ORG
    client.post(f"/customers/form-designer/behaviour/{rule.pk}/delete/")
    assert not FieldBehaviour.objects.exists()


# The API -----------------------------------------------------------------------------------------

def test_api_layouts_and_field_rules(admin_user, rep, api_client_for):
    api = api_client_for(admin_user)
    sections = [{"title": "先看", "fields": [{"field": "notes", "width": "full"}]}]
    response = api.put("/api/v1/form-layouts/sales_rep", data=json.dumps(
        {"sections": sections}), content_type="application/json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["role"] == "sales_rep" and body["stored"] is True
    assert body["sections"][0]["fields"][0] == {"field": "notes", "width": "full"}
    assert api.get("/api/v1/form-layouts/default").json()["stored"] is False
    created = api.post("/api/v1/field-rules", data=json.dumps(
        {"field": "industry", "effect": "required", "condition": ORG}),
        content_type="application/json")
    assert created.status_code == 201 and created.json()["condition"] == ORG
    assert [r["field"] for r in api.get("/api/v1/field-rules").json()] == ["industry"]
    assert api.delete(f"/api/v1/field-rules/{created.json()['id']}").status_code == 204
    assert api.delete("/api/v1/form-layouts/sales_rep").status_code == 204
    assert not FormLayout.objects.exists()
    assert api.get("/api/v1/form-layouts/nobody").status_code == 404


@pytest.mark.parametrize("role", ["sales_rep", "sales_manager", "marketer", "read_only"])
def test_api_denied_without_form_design(role, api_client_for):
    client = api_client_for(UserFactory(role_code=role))
    assert client.get("/api/v1/field-rules").status_code == 403
    response = client.post("/api/v1/field-rules", data=json.dumps(
        {"field": "industry", "effect": "required"}), content_type="application/json")
    assert response.status_code == 403
    assert not FieldBehaviour.objects.exists()


def test_card_leaves_out_a_field_hidden_for_the_viewer(rules, rep, client, admin_user):
    customer = create_customer(owner=rep, name="王芳", title="采购总监")
    client.force_login(rep)
    assert "采购总监" not in client.get(f"/customers/{customer.pk}/").content.decode()
    client.force_login(admin_user)
    assert "采购总监" in client.get(f"/customers/{customer.pk}/").content.decode()


# "Hidden" for a role is hidden everywhere for that role (AccessPolicy.field_mode) -------------

def test_a_field_hidden_for_a_role_is_hidden_in_list_api_export_and_filters(
        rep, admin_user, client, api_client_for):
    from kehu.segments.selectors import segment_preview

    services.field_behaviour_save(actor=SYSTEM, field="source", effect="hidden",
                                  roles=["sales_rep"])
    # A conditional rule only shapes the form and the card: "industry" stays everywhere.
    services.field_behaviour_save(actor=SYSTEM, field="industry", effect="hidden",
                                  condition=ORG, roles=["sales_rep"])
    customer = create_customer(owner=rep, name="某某科技", kind="organisation", source="展会甲",
                               industry="软件")
    rep.role.permissions = sorted({*rep.role.permissions, "customer.export"})
    rep.role.save(update_fields=["permissions"])
    rep = type(rep).objects.get(pk=rep.pk)
    assert rep.access.is_hidden("customer.source") and not rep.access.may_condition_on(
        "customer.source")
    assert not admin_user.access.is_hidden("customer.source")

    # The list page: the column is not offered, even when asked for; no value in the page.
    client.force_login(rep)
    page = client.get("/customers/", {"cols": ["name", "source", "lifecycle_stage"]})
    assert page.status_code == 200
    assert "source" not in page.context["columns_available"]
    assert page.context["columns"] == ["name", "lifecycle_stage"]
    assert "展会甲" not in page.content.decode() and "某某科技" in page.content.decode()

    # The API: one customer and the list.
    api = api_client_for(rep)
    one = api.get(f"/api/v1/customers/{customer.pk}").json()
    assert (one["source"], one["industry"]) == (None, "软件")
    rows = api.get("/api/v1/customers").json()["items"]
    assert [(r["name"], r["source"]) for r in rows] == [("某某科技", None)]

    # The export: an empty cell.
    export = api.get("/api/v1/customers/export", {"format": "csv",
                                                  "columns": "name,source,lifecycle_stage"})
    assert export.status_code == 200
    text = b"".join(export.streaming_content).decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert table[1][:2] == ["某某科技", ""] and table[1][2]  # the stage stays

    # Filters and conditions: refused by name, on the API, the page and in a segment.
    refused = api.get("/api/v1/customers", {"source": "展会甲"})
    assert refused.status_code == 422 and "source" in refused.json()["details"]
    assert client.get("/customers/", {"source": "展会甲"}).context["error"] is not None
    with pytest.raises(ValidationFailed):
        segment_preview(user=rep, definition={"type": "field", "field": "source", "op": "eq",
                                              "value": "展会甲"})

    # The admin's role is not named by the rule: everything as before.
    admin = api_client_for(admin_user)
    assert admin.get(f"/api/v1/customers/{customer.pk}").json()["source"] == "展会甲"
    assert [r["name"] for r in admin.get("/api/v1/customers", {"source": "展会甲"}).json()[
        "items"]] == ["某某科技"]
