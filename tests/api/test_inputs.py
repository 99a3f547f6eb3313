"""Inputs the API must refuse (422 naming the field, nothing changed): integers past what the
database holds (they were 500s), bodies that are not objects, booleans for numbers and numbers
for booleans, dates that are numbers or out of range, and fields the operation does not know."""

from __future__ import annotations

import json

import pytest

from kehu.accounts.models import Team, User
from kehu.core.models import AuditEntry, FieldRule
from kehu.customers.models import Customer, CustomerTag, CustomFieldDefinition
from kehu.transactions.models import Order, Product, Ticket
from tests.factories import TeamFactory, create_customer

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"


def _send(client, method, url, body):
    return getattr(client, method)(url, data=json.dumps(body), content_type="application/json")


def _refused(response, field: str, code: str = "invalid_request") -> None:
    assert response.status_code == 422, response.content[:400]
    body = response.json()
    assert body["code"] == code
    assert field in body["details"], body["details"]


@pytest.fixture
def admin(admin_user, api_client_for):
    return api_client_for(admin_user)


@pytest.fixture
def customer(admin_user):
    return create_customer(owner=admin_user, name="李雷", mobile="13800000009")


# Item 3: integers past 64 bits -------------------------------------------------------------


@pytest.mark.parametrize("path", ["/duplicates", "/orders", "/products", "/teams", "/tickets",
                                  "/follow-ups", "/users"])
@pytest.mark.parametrize("param", ["offset", "limit"])
def test_huge_offset_or_limit_is_422_not_500(path, param, admin):
    _refused(admin.get(f"/api/v1{path}?{param}={HUGE}"), param)


@pytest.mark.parametrize("path", ["/customers", "/customers/export"])
@pytest.mark.parametrize("param", ["team", "stale_days", "owner", "quality_below"])
def test_huge_customer_filters_are_422_not_500(path, param, admin):
    _refused(admin.get(f"/api/v1{path}?{param}={HUGE}"), param)


def test_a_huge_tag_id_is_taken_as_a_name_not_a_500(admin, customer):
    response = admin.get(f"/api/v1/customers?tag={HUGE}")
    assert response.status_code == 200 and response.json()["items"] == []


def test_offset_1e20_on_interactions_is_422(admin, customer):
    _refused(admin.get(f"/api/v1/customers/{customer.pk}/interactions?offset=1e20"), "offset")
    _refused(admin.get(f"/api/v1/customers/{customer.pk}/interactions?offset={HUGE}"), "offset")


def test_a_huge_path_id_is_422(admin):
    _refused(admin.get(f"/api/v1/customers/{HUGE}"), "customer_id")
    _refused(admin.get(f"/api/v1/orders/{HUGE}"), "order_id")


def test_a_forged_events_cursor_is_422(admin, customer):
    for cursor in [f"2026-01-01T00:00:00+00:00~{HUGE}", "2026-13-45T00:00:00~1",
                   "2026-01-01T00:00:00~²"]:
        response = admin.get(f"/api/v1/customers/{customer.pk}/events", {"cursor": cursor})
        assert response.status_code == 422 and "cursor" in response.json()["details"]


@pytest.mark.parametrize(("url", "body", "field"), [
    ("/api/v1/customers/merge", {"survivor_id": 1, "customer_ids": [int(HUGE)]},
     "customer_ids.0"),
    ("/api/v1/customers/merge", {"survivor_id": int(HUGE), "customer_ids": [1]}, "survivor_id"),
    ("/api/v1/customers/bulk/assign-owner", {"customer_ids": [int(HUGE)], "owner_id": 1},
     "customer_ids.0"),
    ("/api/v1/customers/bulk/assign-owner", {"customer_ids": [1], "owner_id": int(HUGE)},
     "owner_id"),
    ("/api/v1/customers/bulk/add-tag", {"customer_ids": [int(HUGE)], "name": "x"},
     "customer_ids.0"),
])
def test_huge_ids_in_bodies_are_422_and_change_nothing(url, body, field, admin, customer):
    before = (AuditEntry.objects.count(), CustomerTag.objects.count(),
              list(Customer.objects.values_list("pk", "owner_id", "version")))
    _refused(_send(admin, "post", url, body), field)
    assert before == (AuditEntry.objects.count(), CustomerTag.objects.count(),
                      list(Customer.objects.values_list("pk", "owner_id", "version")))


# Item 7: bodies that are not objects -------------------------------------------------------


def _ticket(customer, number, **fields):
    from django.utils import timezone

    return Ticket.objects.create(customer=customer, kind="inquiry", subject="s", number=number,
                                 opened_at=timezone.now(), **fields)


@pytest.fixture
def patchable(admin_user, admin, customer):
    """One row behind every PATCH operation, with what a PATCH could change on it."""
    from kehu.core.actor import Actor
    from kehu.quality.services import field_rule_create
    from tests.factories import ProductFactory

    product = ProductFactory()
    ticket = _ticket(customer, "T-1")
    definition = CustomFieldDefinition.objects.create(key="level", label="级别",
                                                      field_type="text")
    rule = field_rule_create(actor=Actor.system(via="system"), field="email", rule="required")
    order = _send(admin, "post", "/api/v1/orders", {
        "customer_id": customer.pk, "lines": [{"product_id": product.pk, "quantity": 1}]}).json()
    from kehu.integration.models import WebhookEndpoint
    from kehu.integration.services import webhook_create

    webhook, _secret = webhook_create(actor=Actor(user=admin_user), url="https://example.com/h",
                                      event_types=["*"])
    import datetime as dt

    from kehu.pipeline.models import Contract, Deal
    from kehu.pipeline.services.contracts import contract_create
    from kehu.pipeline.services.deals import deal_create

    deal = deal_create(actor=Actor(user=admin_user), customer=customer, title="打印机",
                       amount="1000", expected_close_date=dt.date(2027, 1, 31))
    contract = contract_create(actor=Actor(user=admin_user), title="合同", customer=customer,
                               start_date=dt.date(2027, 1, 1), end_date=dt.date(2027, 12, 31),
                               amount="1000")
    from kehu.service.models import BusinessCalendar, Complaint, SLAPolicy

    complaint = _send(admin, "post", "/api/v1/service/complaints", {
        "customer_id": customer.pk, "subject": "慢", "category": "delivery"}).json()
    policy, calendar = SLAPolicy.objects.first(), BusinessCalendar.objects.first()
    return {
        f"/api/v1/deals/{deal.pk}": lambda: Deal.objects.filter(pk=deal.pk).values().get(),
        f"/api/v1/contracts/{contract.pk}":
            lambda: Contract.objects.filter(pk=contract.pk).values().get(),
        f"/api/v1/webhooks/{webhook.pk}":
            lambda: WebhookEndpoint.objects.filter(pk=webhook.pk).values().get(),
        f"/api/v1/service/complaints/{complaint['ticket_id']}":
            lambda: Complaint.objects.filter(pk=complaint["ticket_id"]).values().get(),
        f"/api/v1/service/sla-policies/{policy.pk}":
            lambda: SLAPolicy.objects.filter(pk=policy.pk).values().get(),
        f"/api/v1/service/calendars/{calendar.pk}":
            lambda: BusinessCalendar.objects.filter(pk=calendar.pk).values().get(),
        f"/api/v1/products/{product.pk}": lambda: Product.objects.filter(pk=product.pk).values().get(),
        f"/api/v1/tickets/{ticket.pk}": lambda: Ticket.objects.filter(pk=ticket.pk).values().get(),
        f"/api/v1/users/{admin_user.pk}": lambda: User.objects.filter(pk=admin_user.pk).values().get(),
        f"/api/v1/custom-fields/{definition.pk}":
            lambda: CustomFieldDefinition.objects.filter(pk=definition.pk).values().get(),
        f"/api/v1/quality/rules/{rule.pk}": lambda: FieldRule.objects.filter(pk=rule.pk).values().get(),
        "/api/v1/quality/settings": lambda: AuditEntry.objects.count(),
        f"/api/v1/customers/{customer.pk}":
            lambda: Customer.objects.filter(pk=customer.pk).values().get(),
        f"/api/v1/orders/{order['id']}":
            lambda: Order.objects.filter(pk=order["id"]).values().get(),
    }


@pytest.mark.parametrize("body", [[None, None], [], "text", 1, None, [{"name": "x"}]])
def test_a_patch_body_that_is_not_an_object_is_422_on_every_patch(body, admin, patchable):
    for url, state in patchable.items():
        before = state()
        response = _send(admin, "patch", url, body)
        assert response.status_code == 422, (url, response.content[:300])
        assert response.json()["code"] == "invalid_request"
        assert state() == before, url


def test_every_patch_operation_is_covered(patchable):
    from kehu.api.api import api

    schema = api.get_openapi_schema()
    patches = {path for path, ops in schema["paths"].items() if "patch" in ops}
    assert len(patches) == len(patchable)


# Item 7: booleans and numbers --------------------------------------------------------------


@pytest.mark.parametrize(("method", "url", "body", "field"), [
    ("post", "/api/v1/products", {"sku": "A1", "name": "A", "unit_price": True}, "unit_price"),
    ("post", "/api/v1/products", {"sku": "A1", "name": "A", "unit_price": 1, "is_active": 1},
     "is_active"),
    ("post", "/api/v1/customers/bulk/add-tag", {"customer_ids": [True], "name": "x"},
     "customer_ids.0"),
    ("post", "/api/v1/customers", {"name": "甲", "owner_id": True}, "owner_id"),
    ("patch", "/api/v1/quality/settings", {"fresh_days": True}, "fresh_days"),
    ("patch", "/api/v1/quality/settings", {"component_weights": {"completeness": False}},
     "component_weights.completeness"),
    ("post", "/api/v1/custom-fields", {"key": "k", "label": "K", "field_type": "text",
                                       "position": True}, "position"),
    ("post", "/api/v1/rfm/score", {"full": 1}, "full"),
    ("post", "/api/v1/segments/preview", {"definition": {}, "extra": 1}, "extra"),
])
def test_booleans_for_numbers_and_numbers_for_booleans_are_refused(method, url, body, field,
                                                                   admin, customer):
    before = (AuditEntry.objects.count(), Product.objects.count(),
              CustomFieldDefinition.objects.count(), CustomerTag.objects.count(),
              Customer.objects.count())
    _refused(_send(admin, method, url, body), field)
    assert before == (AuditEntry.objects.count(), Product.objects.count(),
                      CustomFieldDefinition.objects.count(), CustomerTag.objects.count(),
                      Customer.objects.count())


def test_a_rating_of_true_is_refused(admin, customer):
    ticket = _ticket(customer, "T-9", status="resolved")
    _refused(_send(admin, "post", f"/api/v1/tickets/{ticket.pk}/rate", {"satisfaction": True}),
             "satisfaction")
    assert Ticket.objects.get(pk=ticket.pk).satisfaction is None


def test_query_flags_still_take_true_and_false(admin):
    assert admin.get("/api/v1/products?active_only=true").status_code == 200
    assert admin.get("/api/v1/products?active_only=false").status_code == 200


# Item 7: dates -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/customers", "/customers/export"])
@pytest.mark.parametrize("value", ["0", "1700000000", "0001-01-01", "9999-12-31", "yesterday"])
def test_created_from_and_to_must_be_real_dates_in_range(path, value, admin):
    _refused(admin.get(f"/api/v1{path}?created_to={value}"), "created_to")
    _refused(admin.get(f"/api/v1{path}?created_from={value}"), "created_from")


def test_a_real_created_to_still_filters(admin, customer):
    response = admin.get("/api/v1/customers?created_to=1999-01-01")
    assert response.status_code == 200 and response.json()["items"] == []


@pytest.mark.parametrize(("value", "code"), [
    ("0001-01-01", "validation_error"), ("1899-12-31", "validation_error"),
    ("2999-01-01", "validation_error"), (0, "invalid_request"), (True, "invalid_request")])
def test_a_birthday_outside_1900_to_today_or_not_a_date_is_refused(value, code, admin,
                                                                    customer):
    created = _send(admin, "post", "/api/v1/customers", {"name": "王五", "birthday": value})
    _refused(created, "birthday", code)
    changed = _send(admin, "patch", f"/api/v1/customers/{customer.pk}",
                    {"version": customer.version, "birthday": value})
    _refused(changed, "birthday", code)
    assert Customer.objects.count() == 1
    assert Customer.objects.get(pk=customer.pk).birthday is None


def test_a_birthday_from_1900_on_is_kept(admin, customer):
    response = _send(admin, "patch", f"/api/v1/customers/{customer.pk}",
                     {"version": customer.version, "birthday": "1900-01-01"})
    assert response.status_code == 200 and response.json()["birthday"] == "1900-01-01"


def test_datetimes_whose_offset_leaves_the_calendar_are_refused(admin, customer):
    response = _send(admin, "post", f"/api/v1/customers/{customer.pk}/interactions",
                     {"kind": "call", "summary": "s", "occurred_at": "9999-12-31T23:59:59-14:00"})
    _refused(response, "occurred_at")
    response = admin.get("/api/v1/orders?since=0001-01-01T00:00:00%2B14:00")
    _refused(response, "since")


# Item 7: unknown fields --------------------------------------------------------------------


@pytest.mark.parametrize(("method", "url", "body", "field"), [
    ("post", "/api/v1/customers", {"name": "张三", "mobil": "13800000000"}, "mobil"),
    ("post", "/api/v1/teams", {"name": "东区", "manager": "x"}, "manager"),
    ("post", "/api/v1/products", {"sku": "A1", "name": "A", "unit_price": 1, "price": 2},
     "price"),
    ("post", "/api/v1/customers", {"name": "张三", "address": {"raw": "北京", "citi": "x"}},
     "address.AddressIn.citi"),
])
def test_unknown_body_fields_are_422_naming_them_and_nothing_is_created(method, url, body,
                                                                        field, admin):
    before = (Customer.objects.count(), Team.objects.count(), Product.objects.count(),
              AuditEntry.objects.count())
    response = _send(admin, method, url, body)
    assert response.status_code == 422
    details = response.json()["details"]
    assert any(key == field or key.endswith("." + field.rsplit(".", 1)[-1]) for key in details), \
        details
    assert before == (Customer.objects.count(), Team.objects.count(), Product.objects.count(),
                      AuditEntry.objects.count())


def test_every_request_body_schema_forbids_unknown_fields():
    from kehu.api.api import api

    schema = api.get_openapi_schema()
    components = schema["components"]["schemas"]
    bodies = set()
    for ops in schema["paths"].values():
        for op in ops.values():
            if op.get("x-kehu-open-body"):
                continue  # Segment-style ingestion reads its body raw and tolerates unknown
                #           fields on purpose, as Segment does (kehu.integration.ingest_api)
            content = op.get("requestBody", {}).get("content", {})
            for media_type, media in content.items():
                if media_type == "multipart/form-data":
                    continue  # a file upload (contract attachments), not a JSON object
                ref = media["schema"].get("$ref", "")
                bodies.add(ref.rsplit("/", 1)[-1])
    assert bodies and all(components[name].get("additionalProperties") is False
                          for name in bodies), bodies


def test_every_integer_input_is_bounded():
    """No integer parameter or body field in the OpenAPI document lacks a maximum."""
    from kehu.api.api import api

    schema = api.get_openapi_schema()
    unbounded = []

    def walk(node, where):
        if isinstance(node, dict):
            if node.get("type") == "integer" and "maximum" not in node:
                unbounded.append(where)
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            walk(op.get("parameters", []), f"{method} {path}")
    components = schema["components"]["schemas"]
    for name, component in components.items():
        if name.endswith("In") or name.endswith("Patch"):
            walk(component, name)
    assert unbounded == []


def test_a_team_with_a_huge_parent_id_is_refused(admin):
    parent = TeamFactory()
    _refused(_send(admin, "post", "/api/v1/teams", {"name": "x", "parent_id": int(HUGE)}),
             "parent_id")
    assert list(Team.objects.all()) == [parent]


def test_a_user_patch_of_nulls_keeps_the_text_fields(admin, make_user):
    """Found by the probe: `{"email": null}` reached the service as None (a 500)."""
    user = make_user("sales_rep", display_name="小王")
    response = _send(admin, "patch", f"/api/v1/users/{user.pk}",
                     {"display_name": None, "email": None, "is_active": None})
    assert response.status_code == 200, response.content[:300]
    user.refresh_from_db()
    assert (user.display_name, user.email, user.is_active) == ("小王", f"{user.username}@example.com",
                                                               True)


@pytest.mark.parametrize("text", ["a\x00b", "\ud800"])
def test_text_no_database_can_store_is_422_in_bodies(text, admin, customer):
    before = (Customer.objects.count(), Team.objects.count(), AuditEntry.objects.count())
    body = json.dumps({"name": "张三", "notes": text, "custom": {"k": [text]}})
    response = admin.post("/api/v1/customers", data=body, content_type="application/json")
    assert response.status_code == 422 and "notes" in json.dumps(response.json()["details"])
    team = json.dumps({"name": text})
    assert admin.post("/api/v1/teams", data=team,
                      content_type="application/json").status_code == 422
    assert before == (Customer.objects.count(), Team.objects.count(), AuditEntry.objects.count())


@pytest.mark.parametrize("path", ["/customers?q=a%00b", "/products?search=%00", "/users?search=x%00",
                                  "/customers/lookup?email=a%00@b.cn"])
def test_a_nul_in_a_query_string_is_422_not_a_database_error(path, admin):
    response = admin.get(f"/api/v1{path}")
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_a_body_that_is_not_json_is_400_bad_request(admin):
    response = admin.post("/api/v1/teams", data="{nope", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "bad_request"
    assert not Team.objects.exists()


def test_refusals_from_kehus_own_rules_are_in_the_callers_language(admin):
    chinese = admin.post("/api/v1/products", data=json.dumps(
        {"sku": "A", "name": "A", "unit_price": True}), content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="zh-hans").json()["details"]
    assert chinese == {"unit_price": ["这里需要数字，不能是 true 或 false。"]}
    english = admin.post("/api/v1/products", data=json.dumps(
        {"sku": "A", "name": "A", "unit_price": True}), content_type="application/json",
        HTTP_ACCEPT_LANGUAGE="en").json()["details"]
    assert english == {"unit_price": ["A number is expected, not true or false."]}
