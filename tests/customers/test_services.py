"""Customer services: normalisation at the door, uniqueness, denormalised columns, versions,
conflicts, ID-number protection, permissions and audit."""

from datetime import date

import pytest
from django.db import connection

from kehu.core.actor import Actor
from kehu.core.crypto import decrypt
from kehu.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.customers import services
from kehu.customers.models import Address, Customer, CustomerTag, Identifier
from tests.factories import CustomFieldFactory, TeamFactory, create_customer
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db

ID = "11010519491231002X"  # GB 11643's example: born 1949-12-31, female


def act(user):
    return Actor(user=user, via="web")


def test_create_normalises_and_denormalises(make_user):
    rep = make_user("sales_rep", team=TeamFactory())
    customer = services.customer_create(
        actor=act(rep), name=" 曾  国藩 ", mobile="+86 138-1234-5678",
        email=" Zeng@Example.COM ", address="浙江省杭州市西湖区文三路90号", gender="男",
        birthday="1990年1月2日")
    customer.refresh_from_db()
    assert (customer.name, customer.name_pinyin, customer.name_initials) == (
        "曾国藩", "zengguofan", "zgf")
    assert (customer.primary_mobile, customer.primary_email) == ("+8613812345678",
                                                                  "zeng@example.com")
    assert (customer.province, customer.city, customer.region) == ("浙江省", "杭州市", "华东")
    assert (customer.gender, customer.birthday) == ("male", date(1990, 1, 2))
    assert (customer.owner, customer.team, customer.version) == (rep, rep.team, 1)
    phone = customer.identifiers.get(kind="mobile")
    assert (phone.value, phone.last4, phone.is_primary) == ("+8613812345678", "5678", True)
    address = Address.objects.get(customer=customer)
    assert (address.district, address.detail, address.is_primary) == ("西湖区", "文三路90号",
                                                                       True)
    entry = AuditEntry.objects.get(action="customer.create")
    assert entry.object_id == str(customer.pk)
    assert entry.changes["mobile"] == {"before": None, "after": "+8613812345678"}


def test_create_collects_every_field_error(make_user):
    rep = make_user("sales_rep")
    with pytest.raises(ValidationFailed) as info:
        services.customer_create(actor=act(rep), name=" ", mobile="12345", email="nope",
                                 birthday="1990-02-30")
    assert sorted(info.value.details) == ["birthday", "email", "mobile", "name"]
    assert Customer.objects.count() == 0 and AuditEntry.objects.count() == 0


def test_id_number_is_never_stored_in_clear(make_user):
    admin = make_user("admin")
    customer = services.customer_create(actor=act(admin), name="王芳", id_number="11010519491231002x")
    customer.refresh_from_db()
    assert customer.id_number_masked == "110***********002X"
    assert decrypt(customer.id_number_encrypted) == ID
    assert (customer.birthday, customer.gender) == (date(1949, 12, 31), "female")
    ident = customer.identifiers.get(kind="id_number")
    assert ident.value == customer.id_number_index and ID not in ident.value
    with connection.cursor() as cursor:
        for table in ("customers_customer", "customers_identifier", "core_auditentry"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
            dump = repr(cursor.fetchall())
            assert ID not in dump and ID.lower() not in dump and "19491231002" not in dump


def test_id_number_must_agree_with_birthday_and_gender(make_user):
    admin = make_user("admin")
    with pytest.raises(ValidationFailed) as info:
        services.customer_create(actor=act(admin), name="王芳", id_number=ID,
                                 birthday="1950-01-01")
    assert list(info.value.details) == ["id_number"]
    with pytest.raises(ValidationFailed):
        services.customer_create(actor=act(admin), name="王芳", id_number=ID, gender="男")
    assert Customer.objects.count() == 0


def test_id_number_needs_edit_rights(make_user):
    rep = make_user("sales_rep")  # id_number is masked for sales reps
    with pytest.raises(ValidationFailed) as info:
        services.customer_create(actor=act(rep), name="王芳", id_number=ID)
    assert "id_number" in info.value.details
    assert Customer.objects.count() == 0


def test_duplicate_phone_names_the_visible_customer(make_user):
    admin = make_user("admin")
    first = create_customer(name="张伟", mobile="13812345678")
    with pytest.raises(ValidationFailed) as info:
        services.customer_create(actor=act(admin), name="李娜", mobile="+86 138 1234 5678")
    assert info.value.code == "duplicate"
    assert f"#{first.pk}" in info.value.details["mobile"][0]
    rep = make_user("sales_rep")  # cannot see the first customer: not named
    with pytest.raises(ValidationFailed) as info:
        services.customer_create(actor=act(rep), name="李娜", mobile="13812345678")
    assert "张伟" not in info.value.details["mobile"][0]
    assert Customer.objects.count() == 1


def test_deleted_customer_frees_its_phone(make_user):
    admin = make_user("admin")
    first = create_customer(name="张伟", mobile="13812345678")
    services.customer_delete(actor=act(admin), customer=first)
    first.refresh_from_db()
    assert first.status == "deleted" and first.version == 2
    assert not first.identifiers.filter(is_live=True).exists()
    second = services.customer_create(actor=act(admin), name="李娜", mobile="13812345678")
    assert second.primary_mobile == "+8613812345678"


def test_update_bumps_version_and_audits_diff(make_user):
    rep = make_user("sales_rep")
    customer = create_customer(owner=rep, name="张伟")
    updated = services.customer_update(actor=act(rep), customer=customer, expected_version=1,
                                       changes={"title": "经理", "lifecycle_stage": "prospect"})
    assert updated.version == 2
    entry = AuditEntry.objects.filter(action="customer.update").get()
    assert entry.changes == {"lifecycle_stage": {"before": "lead", "after": "prospect"},
                             "title": {"before": "", "after": "经理"},
                             "version": {"before": 1, "after": 2}}
    # No real change: no new version, no audit entry.
    services.customer_update(actor=act(rep), customer=updated, expected_version=2,
                             changes={"title": "经理"})
    assert Customer.objects.get().version == 2
    assert AuditEntry.objects.filter(action="customer.update").count() == 1


def test_stale_version_conflicts_with_current_values_and_changed_fields(make_user):
    rep = make_user("sales_rep")
    customer = create_customer(owner=rep, name="张伟", mobile="13812345678")
    services.customer_update(actor=act(rep), customer=customer, expected_version=1,
                             changes={"title": "经理", "mobile": "13900001111"})
    services.customer_update(actor=act(rep), customer=customer, expected_version=2,
                             changes={"title": "总监", "notes": "x"})
    services.customer_update(actor=act(rep), customer=customer, expected_version=3,
                             changes={"notes": ""})  # back to what version 1 had
    with pytest.raises(Conflict) as info:
        services.customer_update(actor=act(rep), customer=customer, expected_version=1,
                                 changes={"name": "张三"})
    details = info.value.details
    assert details["fields"] == ["mobile", "title"]
    assert details["current"]["title"] == "总监" and details["version"] == 4
    assert details["current"]["mobile"] == "+8613900001111"
    assert Customer.objects.get().name == "张伟"


def test_owner_change_needs_assign_and_scope(make_user):
    team = TeamFactory()
    rep, other = make_user("sales_rep", team=team), make_user("sales_rep", team=team)
    customer = create_customer(owner=rep)
    manager = make_user("sales_manager", team=team)
    outsider = make_user("sales_rep", team=TeamFactory())
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        services.customer_update(actor=act(rep), customer=customer, expected_version=1,
                                 changes={"owner": other})
    with pytest.raises(ValidationFailed) as info:
        services.customer_update(actor=act(manager), customer=customer, expected_version=1,
                                 changes={"owner": outsider})
    assert "owner" in info.value.details
    assert db_snapshot() == before
    services.customer_update(actor=act(manager), customer=customer, expected_version=1,
                             changes={"owner": other})
    assert Customer.objects.get().owner == other


def test_out_of_scope_customer_is_not_found(make_user):
    rep, other = make_user("sales_rep"), make_user("sales_rep")
    customer = create_customer(owner=other)
    with pytest.raises(NotFound):
        services.customer_update(actor=act(rep), customer=customer, expected_version=1,
                                 changes={"title": "x"})
    assert Customer.objects.get().version == 1


def test_reveal_id_number_is_audited_and_role_gated(make_user):
    customer = create_customer(name="王芳", id_number=ID)
    admin, rep = make_user("admin"), make_user("sales_rep")
    customer.owner = rep
    customer.save(update_fields=["owner"])
    assert services.customer_reveal_id_number(actor=act(admin), customer=customer) == ID
    entry = AuditEntry.objects.get(action="customer.reveal")
    assert entry.changes == {"field": "id_number"} and entry.actor_user_id == admin.pk
    with pytest.raises(PermissionDenied):
        services.customer_reveal_id_number(actor=act(rep), customer=customer)
    assert AuditEntry.objects.filter(action="customer.reveal").count() == 1


def test_identifiers_primary_and_denormalised(make_user):
    rep = make_user("sales_rep")
    customer = create_customer(owner=rep, mobile="13812345678")
    second = services.identifier_add(actor=act(rep), customer=customer, kind="phone",
                                     value="139-0000-1111")
    assert (second.kind, second.is_primary) == ("mobile", False)
    services.identifier_set_primary(actor=act(rep), identifier=second)
    customer.refresh_from_db()
    assert customer.primary_mobile == "+8613900001111" and customer.version == 3
    services.identifier_remove(actor=act(rep), identifier=Identifier.objects.get(pk=second.pk))
    customer.refresh_from_db()
    assert customer.primary_mobile == "+8613812345678"
    assert customer.identifiers.get(kind="mobile").is_primary
    actions = list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))
    assert actions[-3:] == ["customer.identifier_add", "customer.identifier_primary",
                            "customer.identifier_remove"]


def test_identifier_add_refuses_duplicates_and_garbage(make_user):
    admin = make_user("admin")
    a = create_customer(name="甲", email="a@example.com")
    b = create_customer(name="乙")
    before = db_snapshot()
    with pytest.raises(ValidationFailed) as info:
        services.identifier_add(actor=act(admin), customer=b, kind="email", value="A@Example.com")
    assert f"#{a.pk}" in info.value.details["value"][0]
    with pytest.raises(ValidationFailed):
        services.identifier_add(actor=act(admin), customer=b, kind="phone", value="12")
    with pytest.raises(ValidationFailed):
        services.identifier_add(actor=act(admin), customer=b, kind="external", value="x")
    assert db_snapshot() == before
    ext = services.identifier_add(actor=act(admin), customer=b, kind="external", value="U-1",
                                  system="shop")
    assert (ext.system, ext.value) == ("shop", "U-1")
    assert b.identifiers.count() == 1


def test_address_set_updates_region(make_user):
    rep = make_user("sales_rep")
    customer = create_customer(owner=rep)
    address = services.address_set(actor=act(rep), customer=customer, raw="广州天河区体育西路")
    customer.refresh_from_db()
    assert (customer.province, customer.city, customer.region) == ("广东省", "广州市", "华南")
    services.address_set(actor=act(rep), customer=customer, address=address,
                         province="四川省", city="成都市", detail="人民南路")
    customer.refresh_from_db()
    assert (customer.province, customer.region) == ("四川省", "西南")
    services.address_remove(actor=act(rep), address=Address.objects.get())
    customer.refresh_from_db()
    assert (customer.province, customer.region) == ("", "")


def test_contacts_one_primary(make_user):
    admin = make_user("admin")
    org = create_customer(name="华为技术有限公司", kind="organisation",
                          uscc="91440300708461136T")
    p1, p2 = create_customer(name="张伟"), create_customer(name="李娜")
    services.contact_link_save(actor=act(admin), organisation=org, person=p1,
                               decision_role="decision_maker", is_primary=True)
    services.contact_link_save(actor=act(admin), organisation=org, person=p2, is_primary=True)
    assert list(org.contact_links.filter(is_primary=True).values_list("person", flat=True)) == [
        p2.pk]
    with pytest.raises(ValidationFailed):
        services.contact_link_save(actor=act(admin), organisation=p1, person=p2)
    services.contact_link_remove(actor=act(admin), link=org.contact_links.get(person=p1))
    assert org.contact_links.count() == 1


def test_uscc_unique_and_for_organisations_only(make_user):
    admin = make_user("admin")
    create_customer(name="甲公司", kind="organisation", uscc="91110000802100433B")
    before = db_snapshot()
    with pytest.raises(ValidationFailed) as info:
        services.customer_create(actor=act(admin), name="乙公司", kind="organisation",
                                 uscc="91110000802100433b")
    assert info.value.code == "duplicate"
    with pytest.raises(ValidationFailed) as info:
        services.customer_create(actor=act(admin), name="张伟", uscc="91440300708461136T")
    assert "uscc" in info.value.details
    assert db_snapshot() == before


def test_tags_need_segment_manage(make_user):
    rep, marketer = make_user("sales_rep"), make_user("marketer")
    customer = create_customer(owner=rep)
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        services.tag_add(actor=act(rep), customer=customer, name="VIP")
    assert db_snapshot() == before  # no tag created either
    tag = services.tag_add(actor=act(marketer), customer=customer, name=" VIP ")
    assert tag.name == "VIP" and CustomerTag.objects.count() == 1
    services.tag_add(actor=act(marketer), customer=customer, name="vip")  # same tag
    assert CustomerTag.objects.count() == 1
    services.tag_remove(actor=act(marketer), customer=customer, tag=tag)
    assert CustomerTag.objects.count() == 0


def test_bulk_assign_and_tag_audit_each_customer(make_user):
    team = TeamFactory()
    manager, rep = make_user("sales_manager", team=team), make_user("sales_rep", team=team)
    customers = [create_customer(owner=manager, name=f"客户{i}") for i in range(3)]
    ids = [c.pk for c in customers]
    assert services.customers_assign_owner(actor=act(manager), customer_ids=ids, owner=rep) == 3
    assert set(Customer.objects.values_list("owner", flat=True)) == {rep.pk}
    assert AuditEntry.objects.filter(action="customer.assign").count() == 3
    assert services.customers_add_tag(actor=act(manager), customer_ids=ids, name="重点") == 3
    assert AuditEntry.objects.filter(action="customer.tag_add").count() == 3


def test_bulk_refuses_when_any_customer_is_out_of_scope(make_user):
    team = TeamFactory()
    manager = make_user("sales_manager", team=team)
    mine = create_customer(owner=manager)
    theirs = create_customer(owner=make_user("sales_rep", team=TeamFactory()))
    before = db_snapshot()
    with pytest.raises(NotFound):
        services.customers_add_tag(actor=act(manager), customer_ids=[mine.pk, theirs.pk],
                                   name="x")
    assert CustomerTag.objects.count() == 0
    assert db_snapshot() == before


def test_custom_fields_define_and_validate(make_user):
    admin, rep = make_user("admin"), make_user("sales_rep")
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        services.custom_field_define(actor=act(rep), key="level", label="等级",
                                     field_type="choice", choices=["A", "B"])
    assert db_snapshot() == before
    services.custom_field_define(actor=act(admin), key="level", label="等级",
                                 field_type="choice", choices=["A", "B"], required=True,
                                 applies_to="person")
    services.custom_field_define(actor=act(admin), key="budget", label="预算",
                                 field_type="number", validation={"min": 0, "max": 1000})
    before = db_snapshot()
    with pytest.raises(ValidationFailed) as info:
        services.customer_create(actor=act(rep), name="张伟", custom={"budget": "2000"})
    assert set(info.value.details) == {"custom.budget", "custom.level"}
    assert db_snapshot() == before
    customer = services.customer_create(actor=act(rep), name="张伟",
                                        custom={"level": "A", "budget": "12.50"})
    assert customer.custom == {"level": "A", "budget": 12.5}
    # Organisations do not get the person-only required field.
    org = services.customer_create(actor=act(rep), name="某公司", kind="organisation")
    assert org.custom == {}


@pytest.mark.parametrize("field_type,options,value,expected", [
    ("text", {"validation": {"max_length": 3}}, "abc", "abc"),
    ("number", {}, "1,234", 1234),
    ("date", {}, "2024年2月29日", "2024-02-29"),
    ("multi_choice", {"choices": ["红", "绿", "蓝"]}, "红，蓝,红", ["红", "蓝"]),
    ("boolean", {}, "是", True),
    ("url", {}, "https://example.com/a", "https://example.com/a"),
])
def test_custom_value_types(field_type, options, value, expected):
    definition = CustomFieldFactory(key="f", field_type=field_type, **options)
    assert services.custom_values_clean(values={"f": value}, kind="person",
                                        definitions=[definition]) == {"f": expected}


@pytest.mark.parametrize("field_type,options,value", [
    ("text", {"validation": {"max_length": 3}}, "abcd"),
    ("text", {"validation": {"pattern": "^[A-Z]+$"}}, "abc"),
    ("number", {}, "abc"),
    ("number", {"validation": {"min": 5}}, "4"),
    ("date", {}, "2023-02-29"),
    ("choice", {"choices": ["A"]}, "B"),
    ("boolean", {}, "maybe"),
    ("url", {}, "javascript:alert(1)"),
    ("user", {}, "nobody"),
])
def test_custom_value_rejections(field_type, options, value):
    definition = CustomFieldFactory(key="f", field_type=field_type, **options)
    with pytest.raises(ValidationFailed) as info:
        services.custom_values_clean(values={"f": value}, kind="person", definitions=[definition])
    assert list(info.value.details) == ["custom.f"]


def test_custom_user_field_stores_the_user_id(make_user):
    someone = make_user("sales_rep")
    definition = CustomFieldFactory(key="f", field_type="user")
    assert services.custom_values_clean(values={"f": someone.username}, kind="person",
                                        definitions=[definition]) == {"f": someone.pk}


def test_saved_views_are_private_unless_shared(make_user):
    rep, marketer = make_user("sales_rep"), make_user("marketer")
    view = services.saved_view_save(actor=act(rep), name="我的", params={"q": "张"})
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        services.saved_view_save(actor=act(rep), name="共享", params={}, shared=True)
    with pytest.raises(NotFound):
        services.saved_view_delete(actor=act(marketer), view=view)
    assert db_snapshot() == before
    services.saved_view_delete(actor=act(rep), view=view)
