"""Quality scores on hand-checked examples, stored set-based, rescored when changed."""

import datetime as dt

import pytest
from django.utils import timezone

from kehu.customers.models import Customer
from kehu.quality import services
from kehu.quality.models import CustomerQuality
from tests.factories import create_customer
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db
ID = "11010519491231002X"  # GB 11643's example: born 1949-12-31, female


def _age(customer, days):
    then = timezone.now() - dt.timedelta(days=days)
    Customer.objects.filter(pk=customer.pk).update(created_at=then, updated_at=then)


def test_a_fresh_person_with_phone_email_and_owner(system, rep):
    customer = create_customer(owner=rep, name="张伟", mobile="13812345678",
                               email="zw@example.com")
    assert services.quality_recompute(actor=system).customers == 1
    quality = CustomerQuality.objects.get(customer=customer)
    # completeness: mobile 3 + email 2 + owner 2 of 12 -> 58; the rest are 100:
    # (58*40 + 100*30 + 100*20 + 100*10) / 100 = 83.2
    assert quality.components == {
        "completeness": 58, "validity": 100, "freshness": 100, "duplicates": 100,
        "missing": ["gender", "birthday", "province", "city", "source"], "invalid": [],
        "age_days": 0, "pending_duplicates": 0}
    assert quality.score == 83
    assert quality.missing == ",gender,birthday,province,city,source,"


def test_a_stale_customer_failing_a_rule_added_later(system, rep):
    customer = create_customer(owner=rep, name="李娜", mobile="13912345678", source="地推")
    services.field_rule_create(actor=system, field="source", rule="allowed",
                               allowed_values=["展会"])
    _age(customer, 200)
    services.quality_recompute(actor=system)
    quality = CustomerQuality.objects.get(customer=customer)
    # completeness 6/12 = 50; validity: mobile ok, source invalid -> 50;
    # freshness (365 - 200) / (365 - 30) -> 49; score (2000 + 1500 + 980 + 1000) / 100 = 54.8
    assert {k: quality.components[k] for k in (
        "completeness", "validity", "freshness", "duplicates", "invalid", "age_days")} == {
        "completeness": 50, "validity": 50, "freshness": 49, "duplicates": 100,
        "invalid": ["source"], "age_days": 200}
    assert quality.score == 55
    assert quality.invalid == ",source,"


def test_an_id_number_contradicting_the_birthday_is_invalid(system):
    customer = create_customer(name="王芳", id_number=ID)
    Customer.objects.filter(pk=customer.pk).update(birthday=dt.date(1950, 1, 1))  # legacy data
    services.quality_recompute(actor=system)
    assert CustomerQuality.objects.get(customer=customer).components["invalid"] == ["id_number"]
    Customer.objects.filter(pk=customer.pk).update(birthday=dt.date(1949, 12, 31))
    services.quality_recompute(actor=system)
    assert CustomerQuality.objects.get(customer=customer).components["invalid"] == []


def test_pending_duplicates_zero_that_component(system):
    from kehu.identity.models import CandidateMember, DuplicateCandidate

    one, two = create_customer(name="赵六"), create_customer(name="赵六 ")
    candidate = DuplicateCandidate.objects.create(key=f"{one.pk}-{two.pk}", probability=0.97)
    CandidateMember.objects.bulk_create([CandidateMember(candidate=candidate, customer=c)
                                         for c in (one, two)])
    services.quality_recompute(actor=system)
    parts = CustomerQuality.objects.get(customer=one).components
    assert (parts["duplicates"], parts["pending_duplicates"]) == (0, 1)
    DuplicateCandidate.objects.filter(pk=candidate.pk).update(status="dismissed")
    services.quality_recompute(actor=system)
    assert CustomerQuality.objects.get(customer=one).components["duplicates"] == 100


def test_component_weights_are_configurable(system):
    customer = create_customer(name="钱七")
    services.quality_settings_update(actor=system, component_weights={
        "completeness": 1, "validity": 0, "freshness": 0, "duplicates": 0})
    services.quality_recompute(actor=system)
    quality = CustomerQuality.objects.get(customer=customer)
    assert quality.score == quality.components["completeness"] == 0


def test_only_changed_customers_are_rescored_and_gone_ones_removed(system, as_user, steward):
    from kehu.customers import services as customer_services

    kept, edited, deleted = (create_customer(name=n) for n in ("甲", "乙", "丙"))
    services.quality_recompute(actor=system)
    assert services.quality_recompute(actor=system, only_dirty=True).customers == 0
    customer_services.customer_update(actor=as_user(steward), customer=edited,
                                      expected_version=edited.version,
                                      changes={"email": "yi@example.com"})
    customer_services.customer_delete(actor=system, customer=deleted)
    result = services.quality_recompute(actor=system, only_dirty=True)
    assert (result.customers, result.removed) == (1, 1)
    assert set(CustomerQuality.objects.values_list("customer_id", flat=True)) == {
        kept.pk, edited.pk}
    assert CustomerQuality.objects.get(customer=edited).components["missing"].count(
        "email") == 0


def test_recompute_needs_quality_configure(rep, as_user):
    from kehu.core.errors import PermissionDenied

    create_customer(name="孙八")
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        services.quality_recompute(actor=as_user(rep))
    assert CustomerQuality.objects.count() == 0
    assert db_snapshot() == before


def test_snapshot_records_the_day_once(system):
    create_customer(name="周九", mobile="13812345678")
    services.quality_recompute(actor=system)
    first = services.quality_snapshot_take(actor=system)
    again = services.quality_snapshot_take(actor=system)
    assert first.pk == again.pk
    assert (again.customers, again.invalid_customers, again.stale_customers) == (1, 0, 0)
    assert again.average_score == float(CustomerQuality.objects.get().score)
