"""Every value a person reads is a label, in both languages: identifier kinds, source
channels, product codes, preferred channels, audit fields and values, actions, role chips
and timeline chips (kehu.core.labels)."""

import pytest
from django.test import Client
from django.utils import translation

from kehu.core import labels
from kehu.core.actor import Actor
from kehu.customers import services as customers
from kehu.customers.duplicates import EVIDENCE_FIELDS
from kehu.transactions import services as transactions
from tests.factories import EventFactory, TeamFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_user):
    team = TeamFactory(name="华东销售组")
    admin = make_user("admin", team=team)
    act = Actor(user=admin)
    customer = customers.customer_create(
        actor=act, name="张伟", owner=admin, team=team, mobile="13812345678",
        source="wechat_mp", preferred_channel="sms")
    customers.identifier_add(actor=act, customer=customer, kind="wechat", value="wx_zhangwei")
    customers.identifier_add(actor=act, customer=customer, kind="external", value="T88",
                             system="tmall")
    customers.customer_update(actor=act, customer=customer, expected_version=None,
                              changes={"lifecycle_stage": "prospect"})
    transactions.product_create(actor=act, sku="CON-TONER1K", name="原装硒鼓 1000 页",
                                unit_price="199.00", category="耗材")
    EventFactory(customer=customer, event_type="product_view", source="wechat_mp",
                 properties={"product": "CON-TONER1K", "url": "/p/toner"})
    return {"admin": admin, "customer": customer}


def _page(user, path, language="zh-hans"):
    client = Client()
    client.cookies["kehu_language"] = language
    client.force_login(user)
    return client.get(path).content.decode()


def test_card_reads_labels_not_codes(world):
    html = _page(world["admin"], f"/customers/{world['customer'].pk}/")
    for label in ("微信公众号", "微信", "天猫", "短信", "原装硒鼓 1000 页", "生命周期阶段", "意向"):
        assert label in html, label
    for code in ("wechat_mp", ">wechat<", "external:tmall", "CON-TONER1K", ">sms<",
                 "lifecycle_stage", ": ∅ → lead", "customer.update"):
        assert code not in html, code


def test_card_in_english_has_english_chips_history_and_sources(world):
    html = _page(world["admin"], f"/customers/{world['customer'].pk}/", language="en")
    for label in ("Interactions", "Events", "Orders", "Tickets", "Lifecycle stage", "Prospect",
                  "WeChat official account", "Product", "Tmall"):
        assert label in html, label
    assert "互动</label>" not in html and "事件</label>" not in html
    assert "lifecycle_stage" not in html and "wechat_mp" not in html


def test_audit_page_shows_actions_fields_and_values_as_labels(world):
    zh = _page(world["admin"], "/audit/")
    assert "客户：修改" in zh and "生命周期阶段" in zh and "意向" in zh
    assert "customer.update" not in zh and "lifecycle_stage" not in zh
    en = _page(world["admin"], "/audit/", language="en")
    assert "Update customer" in en and "Lifecycle stage" in en and "Prospect" in en


def test_roles_page_names_fields_and_modes(world):
    html = _page(world["admin"], "/admin/roles/")
    assert "手机和电话号码: 编辑" in html
    assert "customer.mobile: edit" not in html


def test_presenter_falls_back_to_the_code_and_reads_identifiers():
    with translation.override("zh-hans"):
        assert labels.choice_label("identifier.kind", "wechat") == "微信"
        assert labels.choice_label("identifier.kind", "no_such_kind") == "no_such_kind"
        assert labels.field_value("customer", "identifier", "external:tmall:T88") == "天猫 T88"
        assert labels.field_value("customer", "identifier", "wechat:wx_1") == "微信 wx_1"
        assert labels.field_label("customer", "custom.level", {"level": "等级"}) == "等级"
        assert labels.choice_label("access.scope", "team") == "本团队及下级团队"
        assert str(EVIDENCE_FIELDS["surname"]) == "姓"
    with translation.override("en"):
        assert labels.action_label("customer.identifier_add") == "Add identifier to customer"
        assert labels.field_value("customer", "lifecycle_stage", "lead") == "Lead"


def test_duplicate_review_shows_coded_values_as_labels(world):
    from kehu.identity.selectors import comparison

    other = customers.customer_create(actor=Actor(user=world["admin"]), name="张伟",
                                      preferred_channel="email", owner=world["admin"])
    with translation.override("zh-hans"):
        cmp = comparison(user=world["admin"], customer_ids=[world["customer"].pk, other.pk])
    shown = {row.field: [v["display"] for v in row.values] for row in cmp.rows}
    assert sorted(shown["preferred_channel"]) == sorted(["短信", "邮箱"])
    assert sorted(shown["lifecycle_stage"]) == sorted(["意向", "潜在"])
