"""The card selector, page and API: every layer composed, scoped, masked, bounded in queries."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.cards import selectors
from kehu.core.actor import Actor
from kehu.core.timeline import TimelineCursor
from kehu.customers import services as customers
from kehu.interactions import services as interactions
from kehu.transactions import services as transactions
from tests.factories import TeamFactory
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db

ID_NUMBER = "11010519491231002X"


@pytest.fixture
def world(make_user):
    team = TeamFactory(name="华东销售组")
    admin = make_user("admin")
    rep = make_user("sales_rep", team=team)
    other_rep = make_user("sales_rep", team=team)
    act = Actor(user=admin)
    customer = customers.customer_create(
        actor=act, name="张伟", owner=rep, team=team, mobile="138 1234 5678",
        email="Zhang.Wei@Example.com", id_number=ID_NUMBER, address="浙江省杭州市西湖区文三路90号")
    product = transactions.product_create(actor=act, sku="PRN-01", name="办公打印机",
                                          unit_price="1999.00", category="打印机")
    base = timezone.now() - dt.timedelta(days=30)
    for i in range(3):
        interactions.interaction_log(actor=Actor(user=rep), customer=customer, kind="call",
                                     summary=f"第{i}次电话", occurred_at=base + dt.timedelta(days=i))
    transactions.order_create(actor=act, customer=customer, status="paid",
                              ordered_at=base + dt.timedelta(days=5),
                              lines=[{"product": product, "quantity": 2}])
    transactions.ticket_open(actor=act, customer=customer, kind="complaint", subject="打印机卡纸",
                             opened_at=base + dt.timedelta(days=6))
    customers.customer_update(actor=act, customer=customer, expected_version=None,
                              changes={"notes": "重要客户"})
    return {"admin": admin, "rep": rep, "other_rep": other_rep, "customer": customer}


def test_card_composes_every_layer(world):
    card = selectors.customer_card(user=world["rep"], customer_id=world["customer"].pk)
    assert card.customer["name"] == "张伟"
    assert card.customer["mobile"] == "+8613812345678"
    assert card.customer["id_number"] == "110***********002X"
    assert card.orders.count == 1 and card.orders.total_spend == Decimal("3998.00")
    assert card.service.open_count == 1
    kinds = [item.kind for item in card.timeline.items]
    assert kinds == ["ticket", "order", "interaction", "interaction", "interaction"]
    assert card.timeline.next_cursor is None
    assert any(entry.action == "customer.update" for entry in card.history)


def test_card_query_count_is_pinned(world, django_assert_num_queries):
    """20 queries whatever the size of the card: one per layer, lines and tags prefetched
    (the deals: one; the form designer's field rules: one)."""
    rep = world["rep"]
    rep.access.hidden_fields  # the policy (and its hidden fields) is read once per request  # noqa: B018
    with django_assert_num_queries(20):
        selectors.customer_card(user=rep, customer_id=world["customer"].pk)
    # More rows of every kind do not add queries.
    for i in range(5):
        interactions.interaction_log(actor=Actor(user=world["admin"]), customer=world["customer"],
                                     kind="note", summary=f"备注{i}")
    with django_assert_num_queries(20):
        selectors.customer_card(user=rep, customer_id=world["customer"].pk)


def test_card_outside_scope_is_not_found(world):
    from kehu.core.errors import NotFound

    with pytest.raises(NotFound):
        selectors.customer_card(user=world["other_rep"], customer_id=world["customer"].pk)


def test_timeline_pages_and_filters(world):
    customer = world["customer"]
    first = selectors.card_timeline(user=world["rep"], customer=customer, limit=2)
    assert [i.kind for i in first.items] == ["ticket", "order"]
    assert first.next_cursor == TimelineCursor.after(first.items[-1]).encode()
    second = selectors.card_timeline(user=world["rep"], customer=customer, limit=2,
                                     cursor=first.next_cursor)
    assert [i.kind for i in second.items] == ["interaction", "interaction"]
    calls = selectors.card_timeline(user=world["rep"], customer=customer, kinds={"interaction"})
    assert {i.kind for i in calls.items} == {"interaction"} and len(calls.items) == 3


def test_timeline_pages_never_skip_items_sharing_a_timestamp(world):
    """A page boundary inside a run of equal timestamps loses and repeats nothing."""
    customer, act = world["customer"], Actor(user=world["admin"])
    same = timezone.now() - dt.timedelta(days=1)
    for i in range(4):
        interactions.interaction_log(actor=act, customer=customer, kind="note", summary=f"同刻{i}",
                                     occurred_at=same)
    product = transactions.product_create(actor=act, sku="PRN-02", name="墨盒", unit_price="99.00")
    for _ in range(3):
        transactions.order_create(actor=act, customer=customer, status="paid", ordered_at=same,
                                  lines=[{"product": product, "quantity": 1}])
    seen, cursor = [], None
    while True:
        page = selectors.card_timeline(user=world["rep"], customer=customer, limit=2, cursor=cursor)
        seen += [(item.kind, item.object_id) for item in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    everything = selectors.card_timeline(user=world["rep"], customer=customer, limit=100)
    assert len(everything.items) == 12
    assert seen == [(item.kind, item.object_id) for item in everything.items]


def test_history_masks_sensitive_changes_for_masked_roles(world, make_user):
    customers.customer_update(actor=Actor(user=world["admin"]), customer=world["customer"],
                              expected_version=None, changes={"mobile": "13900001111"})
    marketer = make_user("marketer")
    history = selectors.card_history(user=marketer, customer=world["customer"])
    shown = [e.changes["mobile"] for e in history if "mobile" in e.changes]
    assert shown and shown[0] == {"before": "138****5678", "after": "139****1111"}
    admin_view = selectors.card_history(user=world["admin"], customer=world["customer"])
    assert [e.changes["mobile"] for e in admin_view if "mobile" in e.changes][0]["after"] == (
        "+8613900001111")


@pytest.mark.parametrize("role,status", [("admin", 200), ("sales_manager", 200),
                                         ("marketer", 200), ("service_agent", 200),
                                         ("read_only", 200)])
def test_card_api_matrix(world, make_user, api_client_for, role, status):
    user = make_user(role, team=world["rep"].team)
    response = api_client_for(user).get(f"/api/v1/customers/{world['customer'].pk}/card")
    assert response.status_code == status
    body = response.json()
    # The card shows it masked even to admins (revealing is a separate, audited call);
    # roles whose field mode is "hidden" get nothing.
    expected_id = None if role in ("marketer", "read_only") else "110***********002X"
    assert body["customer"]["id_number"] == expected_id
    assert ID_NUMBER not in response.content.decode()
    assert body["orders"]["count"] == 1 and len(body["timeline"]["items"]) == 5


def test_card_api_hides_other_reps_customers(world, api_client_for):
    own = api_client_for(world["rep"]).get(f"/api/v1/customers/{world['customer'].pk}/card")
    stranger = api_client_for(world["other_rep"])
    before = db_snapshot()
    other = stranger.get(f"/api/v1/customers/{world['customer'].pk}/card")
    assert own.status_code == 200
    assert other.status_code == 404 and other.json()["code"] == "not_found"
    assert db_snapshot() == before


def test_timeline_api_cursor(world, api_client_for):
    api = api_client_for(world["rep"])
    url = f"/api/v1/customers/{world['customer'].pk}/timeline"
    first = api.get(url, {"limit": 3}).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    rest = api.get(url, {"limit": 3, "cursor": first["next_cursor"]}).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    bad = api.get(url, {"cursor": "yesterday"})
    assert bad.status_code == 422 and list(bad.json()["details"]) == ["cursor"]
    only_orders = api.get(url, {"kind": "order"}).json()
    assert [i["kind"] for i in only_orders["items"]] == ["order"]


def test_card_page_renders_and_inline_edit_conflicts(world, client):
    rep, customer = world["rep"], world["customer"]
    client.force_login(rep)
    page = client.get(f"/customers/{customer.pk}/")
    html = page.content.decode()
    assert page.status_code == 200 and "张伟" in html and "打印机卡纸" in html
    assert ID_NUMBER not in html
    version = customer.__class__.objects.get(pk=customer.pk).version
    # someone else saves first
    customers.customer_update(actor=Actor(user=world["admin"]), customer=customer,
                              expected_version=version, changes={"title": "总经理"})
    response = client.post(f"/customers/{customer.pk}/identity/edit/", {
        "version": version, "name": "张伟", "lifecycle_stage": "prospect", "title": "经理",
        "mobile": "13812345678", "email": "zhang.wei@example.com"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'data-testid="conflict"' in html and "总经理" in html
    customer.refresh_from_db()
    assert customer.title == "总经理" and customer.lifecycle_stage == "lead"


def test_card_page_for_out_of_scope_customer_is_404(world, client):
    client.force_login(world["other_rep"])
    before = db_snapshot()
    assert client.get(f"/customers/{world['customer'].pk}/").status_code == 404
    assert db_snapshot() == before


def test_card_rows_are_edited_in_place(world, client):
    from kehu.customers.models import Address, Identifier

    client.force_login(world["rep"])
    cid = world["customer"].pk
    response = client.post(f"/customers/{cid}/identifiers/add/",
                           {"kind": "email", "value": " Second@Example.COM "})
    assert "second@example.com" in response.content.decode()
    added = Identifier.objects.get(customer_id=cid, value="second@example.com")
    client.post(f"/customers/{cid}/identifiers/{added.pk}/remove/")
    assert not Identifier.objects.filter(pk=added.pk).exists()

    client.post(f"/customers/{cid}/addresses/add/", {"raw": "广东省深圳市南山区科技园路1号",
                                                      "label": "work"})
    primary = Address.objects.get(customer_id=cid, is_primary=True)
    assert (primary.province, primary.city, primary.region) == ("广东省", "深圳市", "华南")


def test_identifier_taken_by_another_customer_is_refused_on_the_card(world, client):
    from kehu.customers.models import Identifier

    other = customers.customer_create(actor=Actor(user=world["admin"]), name="李四",
                                      owner=world["rep"], mobile="13900009999")
    client.force_login(world["rep"])
    before = db_snapshot()
    response = client.post(f"/customers/{world['customer'].pk}/identifiers/add/",
                           {"kind": "mobile", "value": "139 0000 9999"})
    assert 'data-testid="row-error"' in response.content.decode()
    assert db_snapshot() == before
    assert list(Identifier.objects.filter(value="+8613900009999").values_list(
        "customer_id", flat=True)) == [other.pk]


def test_read_only_role_cannot_edit_rows(world, client, make_user):
    from kehu.customers.models import Identifier

    client.force_login(make_user("read_only"))
    before, identifiers = db_snapshot(), Identifier.objects.count()
    response = client.post(f"/customers/{world['customer'].pk}/identifiers/add/",
                           {"kind": "email", "value": "x@example.com"})
    assert response.status_code == 403 and Identifier.objects.count() == identifiers
    assert db_snapshot() == before


def test_contacts_are_linked_by_name_or_phone(world, client):
    from kehu.customers.models import ContactLink

    act = Actor(user=world["admin"])
    org = customers.customer_create(actor=act, name="杭州宏达贸易有限公司", kind="organisation",
                                    owner=world["rep"])
    client.force_login(world["rep"])
    response = client.post(f"/customers/{org.pk}/contacts/add/",
                           {"person": "13812345678", "job_title": "采购经理",
                            "decision_role": "decision_maker", "is_primary": "on"})
    assert "张伟" in response.content.decode()
    link = ContactLink.objects.get(organisation=org)
    assert (link.person_id, link.job_title, link.is_primary) == (world["customer"].pk, "采购经理",
                                                                 True)
    missing = client.post(f"/customers/{org.pk}/contacts/add/", {"person": "不存在的人"})
    assert 'data-testid="row-error"' in missing.content.decode()
