"""Field rules: one implementation (kehu.core.field_rules) enforced by the customer services,
so the page, the card's inline edit, the API and the import all refuse the same values."""

import json

import pytest

from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.field_rules import rule_violation
from kehu.core.models import AuditEntry, FieldRule
from kehu.customers import services as customer_services
from kehu.customers.models import Customer
from kehu.quality import services
from tests.factories import CustomFieldFactory, create_customer
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


def _rule(**kwargs):
    from kehu.core.actor import Actor

    return services.field_rule_create(actor=Actor.system(via="system"), **kwargs)


def test_required_rule_blocks_create_and_names_the_field(system):
    _rule(field="email", rule="required")
    with pytest.raises(ValidationFailed) as exc:
        create_customer(name="王芳", mobile="13812345678")
    assert exc.value.details == {"email": ["Email is required."]}
    assert Customer.objects.count() == 0
    customer = create_customer(name="王芳", email="Wang.Fang@Example.com")
    assert customer.primary_email == "wang.fang@example.com"


def test_rules_apply_to_the_normalised_value():
    _rule(field="mobile", rule="format", pattern=r"\+861[3-9]\d{9}",
          message="%(field)s must be a mainland mobile.")
    assert create_customer(name="甲", mobile="138 1234 5678").primary_mobile == "+8613812345678"
    with pytest.raises(ValidationFailed) as exc:
        create_customer(name="乙", mobile="+852 6123 4567")
    assert exc.value.details == {"mobile": ["Mobile must be a mainland mobile."]}


def test_range_and_allowed_values_and_custom_fields():
    CustomFieldFactory(key="level", label="客户等级", field_type="number")
    _rule(field="custom.level", rule="range", min_value="1", max_value="5")
    _rule(field="birthday", rule="range", min_value="1900-01-01", max_value="2010-12-31")
    _rule(field="source", rule="allowed", allowed_values=["展会", "官网"])
    with pytest.raises(ValidationFailed) as exc:
        create_customer(name="丙", custom={"level": 7}, birthday="2015-03-01", source="地推")
    assert exc.value.details == {
        "custom.level": ["客户等级 must be at most 5."],
        "birthday": ["Birthday must be on or before 2010-12-31."],
        "source": ["Source must be one of: 展会、官网."],
    }
    ok = create_customer(name="丙", custom={"level": 3}, birthday="1990-03-01", source="官网")
    assert ok.custom == {"level": 3}


def test_rules_follow_the_kind_of_customer():
    _rule(field="birthday", rule="required", applies_to="both")
    _rule(field="industry", rule="required", applies_to="organisation")
    org = create_customer(name="北京某某科技有限公司", kind="organisation", industry="软件")
    saved = type(org).objects.get(pk=org.pk)
    assert (saved.kind, saved.industry, saved.birthday) == ("organisation", "软件", None)
    with pytest.raises(ValidationFailed) as exc:
        create_customer(name="丁")
    assert exc.value.details == {"birthday": ["Birthday is required."]}


def test_update_checks_only_the_fields_it_writes(make_user, as_user):
    steward = make_user("data_steward")
    customer = create_customer(name="戊")
    _rule(field="email", rule="required")
    _rule(field="title", rule="format", pattern=r"[\u4e00-\u9fff]+")
    # An unrelated edit of an older record still works although its email is missing.
    customer = customer_services.customer_update(
        actor=as_user(steward), customer=customer, expected_version=customer.version,
        changes={"notes": "老客户"})
    assert customer.notes == "老客户"
    before = AuditEntry.objects.count()
    with pytest.raises(ValidationFailed) as exc:
        customer_services.customer_update(
            actor=as_user(steward), customer=customer, expected_version=customer.version,
            changes={"title": "Manager", "email": ""})
    assert exc.value.details == {"title": ["Title does not have the required format."],
                                 "email": ["Email is required."]}
    assert AuditEntry.objects.count() == before
    assert Customer.objects.get(pk=customer.pk).title == ""


def test_inactive_rules_are_ignored():
    rule = _rule(field="email", rule="required", is_active=False)
    assert create_customer(name="己").pk
    assert rule_violation(rule, "", label="Email") == "Email is required."


@pytest.mark.parametrize(("kwargs", "details"), [
    ({"field": "nope", "rule": "required"},
     {"field": ["There is no field “nope” to write a rule for."]}),
    ({"field": "email", "rule": "format", "pattern": "(["},
     {"pattern": ["The pattern is not a valid regular expression."]}),
    ({"field": "birthday", "rule": "range", "min_value": "2000-01-01", "max_value": "5"},
     {"max_value": ["Both bounds must be numbers or both dates."]}),
    ({"field": "source", "rule": "range", "min_value": "9", "max_value": "1"},
     {"max_value": ["The maximum is below the minimum."]}),
    ({"field": "source", "rule": "allowed", "allowed_values": []},
     {"allowed_values": ["List at least one allowed value."]}),
])
def test_bad_rules_are_refused(kwargs, details):
    before = db_snapshot()
    with pytest.raises(ValidationFailed) as exc:
        _rule(**kwargs)
    assert exc.value.details == details
    assert FieldRule.objects.count() == 0
    assert db_snapshot() == before


def test_rule_services_need_quality_configure(make_user, as_user):
    rep = make_user("sales_rep")
    before = AuditEntry.objects.count()
    with pytest.raises(PermissionDenied):
        services.field_rule_create(actor=as_user(rep), field="email", rule="required")
    assert FieldRule.objects.count() == 0 and AuditEntry.objects.count() == before


def test_rule_update_and_delete_are_audited(steward, as_user):
    rule = services.field_rule_create(actor=as_user(steward), field="email", rule="required")
    services.field_rule_update(actor=as_user(steward), rule=rule, is_active=False)
    services.field_rule_delete(actor=as_user(steward), rule=rule)
    actions = list(AuditEntry.objects.filter(object_type="fieldrule").order_by("seq")
                   .values_list("action", flat=True))
    assert actions == ["fieldrule.create", "fieldrule.update", "fieldrule.delete"]
    assert FieldRule.objects.count() == 0


# The API -----------------------------------------------------------------------------------


def _post(client, url, body):
    return client.post(url, data=json.dumps(body), content_type="application/json")


def test_customer_api_refuses_values_breaking_a_rule(make_user, english_api):
    _rule(field="source", rule="allowed", allowed_values=["展会", "官网"])
    client = english_api(make_user("admin"))
    before = db_snapshot()
    response = _post(client, "/api/v1/customers", {"name": "庚", "source": "地推"})
    assert response.status_code == 422
    assert response.json()["details"] == {"source": ["Source must be one of: 展会、官网."]}
    assert Customer.objects.count() == 0
    assert db_snapshot() == before


def test_rules_crud_through_the_api(steward, english_api):
    client = english_api(steward)
    created = _post(client, "/api/v1/quality/rules",
                    {"field": "mobile", "rule": "format", "pattern": r"\+86\d{11}"})
    assert created.status_code == 201
    rule_id = created.json()["id"]
    assert created.json()["pattern"] == r"\+86\d{11}"
    listed = client.get("/api/v1/quality/rules").json()
    assert [r["id"] for r in listed] == [rule_id]
    changed = client.patch(f"/api/v1/quality/rules/{rule_id}",
                           data=json.dumps({"is_active": False}),
                           content_type="application/json")
    assert changed.status_code == 200 and changed.json()["is_active"] is False
    bad = _post(client, "/api/v1/quality/rules", {"field": "email", "rule": "format",
                                                  "pattern": "(["})
    assert bad.status_code == 422
    assert bad.json()["details"] == {"pattern": ["The pattern is not a valid regular expression."]}
    assert client.delete(f"/api/v1/quality/rules/{rule_id}").status_code == 204
    assert FieldRule.objects.count() == 0


def test_rules_api_denies_sales_reps(make_user, english_api):
    client = english_api(make_user("sales_rep"))
    before = db_snapshot()
    assert client.get("/api/v1/quality/rules").status_code == 403
    response = _post(client, "/api/v1/quality/rules", {"field": "email", "rule": "required"})
    assert response.status_code == 403
    assert FieldRule.objects.count() == 0
    assert db_snapshot() == before


# The page ----------------------------------------------------------------------------------


def test_rules_page_adds_a_rule(steward, client):
    client.force_login(steward)
    response = client.post("/quality/rules/", {"field": "source", "rule": "allowed",
                                               "applies_to": "both",
                                               "allowed_values": "展会，官网",
                                               "is_active": "on"})
    assert response.status_code == 302
    rule = FieldRule.objects.get()
    assert (rule.field, rule.rule, rule.allowed_values) == ("source", "allowed", ["展会", "官网"])
    page = client.get("/quality/rules/")
    assert page.status_code == 200 and "展会, 官网" in page.content.decode()


def test_rules_page_shows_the_rule_error_on_its_field(steward, client):
    client.force_login(steward)
    response = client.post("/quality/rules/", {"field": "email", "rule": "format",
                                               "applies_to": "both", "pattern": "(["})
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "pattern": ["The pattern is not a valid regular expression."]}
    assert FieldRule.objects.count() == 0


def test_rules_page_is_read_only_without_configure(make_user, client):
    viewer = make_user("read_only")
    client.force_login(viewer)
    before = db_snapshot()
    assert client.get("/quality/rules/").status_code == 403
    assert client.post("/quality/rules/", {"field": "email", "rule": "required",
                                           "applies_to": "both"}).status_code == 403
    assert FieldRule.objects.count() == 0
    assert db_snapshot() == before
