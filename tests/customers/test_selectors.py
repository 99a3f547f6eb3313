"""Customer list: scope, search as Chinese users type it, filters, keyset pages, query counts,
and the one presentation with masking per role."""

import pytest

from kehu.core.actor import Actor
from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.customers import selectors, services
from kehu.customers.selectors import CustomerFilters
from tests.factories import CustomFieldFactory, TeamFactory, create_customer
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db
ID = "11010519491231002X"


def names(page):
    return [c.name for c in page.items]


def search(user, q):
    return sorted(names(selectors.customer_list(user=user, filters=CustomerFilters(q=q))))


@pytest.fixture
def people(make_user):
    admin = make_user("admin")
    create_customer(name="张伟", mobile="13812345678", email="zw@example.com", id_number=ID)
    create_customer(name="章伟明", mobile="010-65529988")
    create_customer(name="曾国藩")
    create_customer(name="John Smith", email="john@example.com")
    org = create_customer(name="北京字节跳动科技有限公司", kind="organisation")
    person = create_customer(name="李娜")
    services.contact_link_save(actor=Actor.system(), organisation=org, person=person)
    return admin


@pytest.mark.parametrize("q,expected", [
    ("张", ["张伟"]),
    ("zhangwei", ["张伟", "章伟明"]),
    ("zw", ["张伟", "章伟明"]),
    ("ZWM", ["章伟明"]),
    ("zengguo", ["曾国藩"]),
    ("john", ["John Smith"]),
    ("js", ["John Smith"]),
    ("13812345678", ["张伟"]),
    ("+86 138-1234-5678", ["张伟"]),
    ("0086 138 1234 5678", ["张伟"]),
    ("5678", ["张伟"]),
    ("9988", ["章伟明"]),
    ("(010) 6552-9988", ["章伟明"]),
    ("ZW@example.com", ["张伟"]),
    ("11010519491231002x", ["张伟"]),
    ("字节跳动", ["北京字节跳动科技有限公司", "李娜"]),
    ("13900000000", []),
])
def test_search(people, q, expected):
    assert search(people, q) == expected


def test_scope_and_status(make_user):
    team = TeamFactory()
    rep, colleague = make_user("sales_rep", team=team), make_user("sales_rep", team=team)
    manager = make_user("sales_manager", team=team)
    mine = create_customer(owner=rep, name="我的")
    create_customer(owner=colleague, name="同事的")
    create_customer(owner=make_user("sales_rep", team=TeamFactory()), name="别组的")
    gone = create_customer(owner=rep, name="已删")
    services.customer_delete(actor=Actor.system(), customer=gone)
    assert search(rep, "") == ["我的"]
    assert search(manager, "") == ["同事的", "我的"]
    assert len(search(make_user("read_only"), "")) == 3
    with pytest.raises(NotFound):
        selectors.customer_get(user=colleague, customer_id=mine.pk)
    with pytest.raises(NotFound):
        selectors.customer_get(user=rep, customer_id=gone.pk)
    assert selectors.customer_get(user=manager, customer_id=mine.pk) == mine


def test_no_customer_view_permission_is_denied(make_user):
    user = make_user(None)
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        selectors.customer_list(user=user)
    assert db_snapshot() == before


def test_filters(make_user):
    admin = make_user("admin")
    team = TeamFactory()
    rep = make_user("sales_rep", team=team)
    CustomFieldFactory(key="budget", field_type="number")
    CustomFieldFactory(key="colors", field_type="multi_choice", choices=["红", "蓝"])
    create_customer(owner=rep, name="甲", address="杭州市西湖区", lifecycle_stage="customer",
                    source="展会", custom={"budget": 50, "colors": ["红"]})
    create_customer(owner=admin, name="乙", address="广州天河区", custom={"budget": 500})
    create_customer(owner=admin, name="丙公司", kind="organisation")
    services.customers_add_tag(actor=Actor.system(), customer_ids=[
        c.pk for c in selectors.customer_list(user=admin).items if c.name == "乙"], name="VIP")

    def run(**kwargs):
        return sorted(names(selectors.customer_list(user=admin,
                                                    filters=CustomerFilters(**kwargs))))

    assert run(region="华东") == ["甲"]
    assert run(owner=rep.pk) == ["甲"] and run(team=team.pk) == ["甲"]
    assert run(owner="me") == ["丙公司", "乙"]
    assert run(lifecycle="customer") == ["甲"] and run(source="展会") == ["甲"]
    assert run(kind="organisation") == ["丙公司"]
    assert run(tag="VIP") == ["乙"]
    assert run(custom={"budget": ">=100"}) == ["乙"]
    assert run(custom={"budget": "10..100"}) == ["甲"]
    assert run(custom={"budget": "50"}) == ["甲"]
    assert run(custom={"colors": "红"}) == ["甲"]
    with pytest.raises(ValidationFailed):
        run(custom={"budget": ">=lots"})


def test_keyset_pages_cover_everything_once(make_user):
    admin = make_user("admin")
    for i in range(7):
        create_customer(name=f"客户{i}")
    for sort in ("-created_at", "created_at", "name", "-name", "region"):
        seen, cursor = [], None
        while True:
            page = selectors.customer_list(user=admin, sort=sort, cursor=cursor, limit=3)
            seen += [c.pk for c in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(seen) == 7 and len(set(seen)) == 7, sort
    first = selectors.customer_list(user=admin, limit=3, with_count=True)
    assert first.count == 7
    with pytest.raises(ValidationFailed):
        selectors.customer_list(user=admin, cursor="forged")


def test_list_query_count_is_fixed(make_user, django_assert_num_queries):
    admin = make_user("admin")
    for i in range(5):
        c = create_customer(name=f"客户{i}", owner=admin)
        services.tag_add(actor=Actor.system(), customer=c, name=f"标签{i}")
    admin = type(admin).objects.get(pk=admin.pk)
    _ = admin.access.hidden_fields  # the policy is read once per request, before the list
    with django_assert_num_queries(2):  # customers with owner/team, then their tags
        page = selectors.customer_list(user=admin)
        rows = [selectors.customer_present(admin, c, detail=False) for c in page.items]
    assert len(rows) == 5 and all(len(r["tags"]) == 1 for r in rows)
    with django_assert_num_queries(3):  # + the count
        selectors.customer_list(user=admin, with_count=True)


@pytest.mark.parametrize("role,mobile,email,id_number,birthday", [
    ("admin", "+8613812345678", "zw@example.com", "110***********002X", "1949-12-31"),
    ("sales_manager", "+8613812345678", "zw@example.com", "110***********002X", "1949-12-31"),
    ("marketer", "138****5678", "zw@example.com", None, "1949-12-31"),
    ("service_agent", "+8613812345678", "zw@example.com", "110***********002X", "1********"),
    ("read_only", "138****5678", "z***@example.com", None, "1********"),
])
def test_present_masks_by_role(make_user, role, mobile, email, id_number, birthday):
    user = make_user(role)
    customer = create_customer(owner=user, name="张伟", mobile="13812345678",
                               email="zw@example.com", id_number=ID, wechat="zw_wechat",
                               address="浙江省杭州市西湖区文三路90号")
    data = selectors.customer_present(user, selectors.customer_get(user=user,
                                                                    customer_id=customer.pk))
    assert (data["mobile"], data["email"], data["id_number"], data["birthday"]) == (
        mobile, email, id_number, birthday)
    assert data["id_number_revealable"] is (role == "admin")
    assert ID not in repr(data)
    assert data["addresses"][0]["province"] == "浙江省"


def test_present_detail_shape(make_user):
    admin = make_user("admin")
    customer = create_customer(name="张伟", mobile="13812345678", wechat="zw_wechat",
                               address="杭州西湖区文三路")
    data = selectors.customer_present(admin, selectors.customer_get(user=admin,
                                                                     customer_id=customer.pk))
    assert data["wechat"] == "zw_wechat"
    assert [(i["kind"], i["value"]) for i in data["identifiers"]] == [
        ("mobile", "+8613812345678"), ("wechat", "zw_wechat")]
    assert data["addresses"][0]["detail"] == "文三路"
    assert data["contacts"] == [] and data["employers"] == []
    assert data["version"] == 1 and data["owner"] is None


def test_lookup(make_user):
    rep, other = make_user("sales_rep"), make_user("sales_rep")
    mine = create_customer(owner=rep, mobile="13812345678", email="a@example.com", id_number=ID)
    assert selectors.customer_lookup(user=rep, phone="+86 138 1234 5678") == mine
    assert selectors.customer_lookup(user=rep, email="A@example.com") == mine
    assert selectors.customer_lookup(user=rep, id_number=ID.lower()) == mine
    assert selectors.customer_lookup(user=other, phone="13812345678") is None
    assert selectors.customer_lookup(user=rep, phone="13900000000") is None
    with pytest.raises(ValidationFailed):
        selectors.customer_lookup(user=rep, phone="12")
