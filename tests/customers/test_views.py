"""Customer pages: list (live search partial, filters, columns, sorting, pages), forms with
field errors in the user's language, conflict on edit, caller lookup, bulk, custom fields."""

import factory
import pytest
from django.test import Client

from kehu.core.models import AuditEntry
from kehu.customers.models import Customer, CustomerTag, CustomFieldDefinition
from tests.factories import CustomerFactory, TeamFactory, create_customer
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


def browser(user, language="en"):
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def test_list_page_and_htmx_partial(make_user):
    rep = make_user("sales_rep")
    create_customer(owner=rep, name="张伟", mobile="13812345678")
    create_customer(owner=rep, name="李娜")
    create_customer(owner=make_user("sales_rep"), name="别人的")
    client = browser(rep)
    page = client.get("/customers/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "张伟" in html and "李娜" in html and "别人的" not in html
    assert 'src="/static/customers/list.js"' in html and "<script>" not in html
    partial = client.get("/customers/", {"q": "zw"}, HTTP_HX_REQUEST="true")
    text = partial.content.decode()
    assert "<html" not in text and "张伟" in text and "李娜" not in text
    assert "5678" in client.get("/customers/", {"q": "5678"}).content.decode()


def test_list_columns_sort_and_pages(make_user):
    admin = make_user("admin")
    # Bare rows are enough for paging (and much faster than 55 audited creates).
    # An iterator, not the factory's global sequence, so the names never depend on test order.
    CustomerFactory.create_batch(55, name=factory.Iterator([f"客户{i:02d}" for i in range(55)]),
                                 source=factory.Iterator(["官网", "展会"]))
    client = browser(admin)
    response = client.get("/customers/", {"cols": ["name", "source"], "sort": "name"})
    html = response.content.decode()
    assert "客户00" in html and "客户49" in html and "客户50" not in html
    assert response.context["columns"] == ["name", "source"]
    assert response.context["next_url"]
    second = client.get("/customers/" + response.context["next_url"])
    assert "客户54" in second.content.decode()
    filtered = client.get("/customers/", {"source": "展会", "count": "1"})
    assert filtered.context["page"].count == 27


def test_page_needs_customer_view(make_user):
    client = browser(make_user(None))
    before = db_snapshot()
    assert client.get("/customers/").status_code == 403
    assert db_snapshot() == before


def test_create_person_with_field_errors_in_the_users_language(make_user):
    rep = make_user("sales_rep")
    client = browser(rep, "zh-hans")
    response = client.post("/customers/new/", {"name": "张伟", "mobile": "123",
                                               "lifecycle_stage": "lead"})
    assert response.status_code == 200
    assert response.context["form"].errors["mobile"] == ["请输入有效的电话号码。"]
    assert Customer.objects.count() == 0
    response = client.post("/customers/new/", {"name": "张伟", "mobile": "138 1234 5678",
                                               "lifecycle_stage": "lead",
                                               "birthday": "1990年1月2日"})
    customer = Customer.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/customers/{customer.pk}/"
    assert customer.primary_mobile == "+8613812345678" and customer.owner == rep


def test_sales_rep_form_has_no_id_number_field(make_user):
    response = browser(make_user("sales_rep")).get("/customers/new/")
    assert "id_number" not in response.context["form"].fields
    response = browser(make_user("admin")).get("/customers/new/")
    assert "id_number" in response.context["form"].fields


def test_custom_fields_render_by_type_and_validate(make_user):
    admin = make_user("admin")
    CustomFieldDefinition.objects.create(key="level", label="等级", field_type="choice",
                                         choices=["A", "B"], required=True)
    CustomFieldDefinition.objects.create(key="budget", label="预算", field_type="number",
                                         validation={"max": 10})
    client = browser(admin)
    form = client.get("/customers/new/").context["form"]
    assert {"custom.level", "custom.budget"} <= set(form.fields)
    response = client.post("/customers/new/", {"name": "张伟", "lifecycle_stage": "lead",
                                               "custom.level": "", "custom.budget": "11"})
    errors = response.context["form"].errors
    assert set(errors) == {"custom.level", "custom.budget"}
    client.post("/customers/new/", {"name": "张伟", "lifecycle_stage": "lead",
                                    "custom.level": "A", "custom.budget": "5"})
    assert Customer.objects.get().custom == {"level": "A", "budget": 5}


def test_edit_conflict_shows_what_changed(make_user):
    rep = make_user("sales_rep")
    customer = create_customer(owner=rep, name="张伟")
    client = browser(rep)
    form = client.get(f"/customers/{customer.pk}/edit/").context["form"]
    assert form.initial["version"] == 1
    ok = client.post(f"/customers/{customer.pk}/edit/", {
        "version": 1, "name": "张伟", "title": "经理", "lifecycle_stage": "lead"})
    assert ok.status_code == 302
    stale = client.post(f"/customers/{customer.pk}/edit/", {
        "version": 1, "name": "张伟", "title": "总监", "lifecycle_stage": "lead"})
    assert stale.status_code == 200
    # The field by its label, with the colleague's value and yours, not the code `title`.
    assert [(r["field"], str(r["label"]), r["theirs"], r["yours"])
            for r in stale.context["conflict"]] == [("title", "Title", "经理", "总监")]
    html = stale.content.decode()
    assert 'data-testid="conflict-field">Title<' in html
    assert 'data-testid="conflict-theirs">经理<' in html
    assert Customer.objects.get().title == "经理"
    assert stale.context["form"]["version"].value() == 2


def test_edit_conflict_shows_coded_values_as_labels(make_user):
    rep = make_user("sales_rep")
    customer = create_customer(owner=rep, name="张伟")
    client = browser(rep)
    assert client.post(f"/customers/{customer.pk}/edit/", {
        "version": 1, "name": "张伟", "lifecycle_stage": "prospect"}).status_code == 302
    stale = client.post(f"/customers/{customer.pk}/edit/", {
        "version": 1, "name": "张伟", "lifecycle_stage": "loyal"})
    assert [(r["label"], r["theirs"], str(r["yours"])) for r in stale.context["conflict"]] == [
        ("Lifecycle stage", "Prospect", "Loyal")]


def test_caller_lookup_redirects_to_the_card(make_user):
    agent = make_user("service_agent")
    customer = create_customer(name="王先生", mobile="13812345678")
    client = browser(agent)
    response = client.get("/customers/lookup/", {"phone": "+86 138-1234-5678"})
    assert response.status_code == 302 and response["Location"] == f"/customers/{customer.pk}/"
    response = client.get("/customers/lookup/", {"phone": "5678"})
    assert response["Location"] == "/customers/?q=5678"


def test_bulk_assign_and_tag(make_user):
    team = TeamFactory()
    manager, rep = make_user("sales_manager", team=team), make_user("sales_rep", team=team)
    ids = [create_customer(owner=manager, name=f"客户{i}").pk for i in range(2)]
    client = browser(manager)
    response = client.post("/customers/bulk/", {"action": "assign", "ids": ids,
                                                "owner": rep.pk, "next": "/customers/?q=x"})
    assert response.status_code == 302 and response["Location"] == "/customers/?q=x"
    assert set(Customer.objects.values_list("owner", flat=True)) == {rep.pk}
    client.post("/customers/bulk/", {"action": "tag", "ids": ids, "tag": "重点"})
    assert CustomerTag.objects.count() == 2


def test_bulk_denied_changes_nothing(make_user):
    rep = make_user("sales_rep")
    ids = [create_customer(owner=rep).pk]
    audits = AuditEntry.objects.count()
    browser(rep).post("/customers/bulk/", {"action": "tag", "ids": ids, "tag": "x"})
    assert CustomerTag.objects.count() == 0 and AuditEntry.objects.count() == audits


def test_saved_view_round_trip(make_user):
    rep = make_user("sales_rep")
    client = browser(rep)
    response = client.post("/customers/views/", {"name": "华东", "params": "region=华东&cols=name"})
    assert response.status_code == 302
    view_id = int(response["Location"].split("=")[-1])
    loaded = client.get(f"/customers/?view={view_id}")
    assert loaded.status_code == 302 and "region=" in loaded["Location"]


def test_custom_field_admin(make_user):
    admin = make_user("admin")
    client = browser(admin)
    response = client.post("/customers/fields/", {
        "key": "level", "label": "等级", "field_type": "choice", "applies_to": "both",
        "choices": "A\nB", "position": 0, "is_active": "on"})
    assert response.status_code == 302
    definition = CustomFieldDefinition.objects.get()
    assert definition.choices == ["A", "B"]
    client.post(f"/customers/fields/{definition.pk}/", {
        "label": "客户等级", "applies_to": "person", "choices": "A\nB\nC", "position": 1,
        "is_active": "on"})
    definition.refresh_from_db()
    assert (definition.label, definition.choices) == ("客户等级", ["A", "B", "C"])
    rep = browser(make_user("sales_rep"))
    before = db_snapshot()
    assert rep.get("/customers/fields/").status_code == 403
    assert rep.post(f"/customers/fields/{definition.pk}/", {
        "label": "改名", "applies_to": "person", "choices": "A", "position": 1}
    ).status_code == 403
    assert db_snapshot() == before


def test_reveal_id_number_page_endpoint(make_user):
    admin = make_user("admin")
    customer = create_customer(name="王芳", id_number="11010519491231002X")
    response = browser(admin).post(f"/customers/{customer.pk}/reveal-id-number/")
    assert "11010519491231002X" in response.content.decode()
    agent = browser(make_user("service_agent"))
    before = db_snapshot()
    denied = agent.post(f"/customers/{customer.pk}/reveal-id-number/")
    assert denied.status_code == 403
    assert db_snapshot() == before  # in particular, no customer.reveal entry


def test_navigation_lists_customers(make_user):
    html = browser(make_user("read_only")).get("/customers/").content.decode()
    assert 'href="/customers/"' in html
