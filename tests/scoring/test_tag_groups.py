"""Tag groups with colours: services (permission, validation, audit), the tags page, and the
colour shown on the card and in the list."""

import pytest

from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.customers import services
from kehu.customers.models import Tag, TagGroup
from tests.factories import create_customer
from tests.unchanged import db_snapshot


@pytest.fixture
def marketer(make_user):
    return make_user("marketer")


def test_group_recolours_its_tags(marketer, actor_for):
    actor = actor_for(marketer)
    industry = services.tag_group_save(actor=actor, name="行业", color="#DC2626")
    tag = Tag.objects.create(name="制造业")
    other = Tag.objects.create(name="VIP", color="#64748b")
    services.tag_update(actor=actor, tag=tag, group=industry)
    tag.refresh_from_db()
    assert (tag.group, tag.color) == (industry, "#dc2626")
    services.tag_group_save(actor=actor, group=industry, name="行业", color="#16a34a")
    tag.refresh_from_db()
    other.refresh_from_db()
    assert (tag.color, other.color) == ("#16a34a", "#64748b")
    entry = AuditEntry.objects.filter(action="tag_group.update").get()
    assert entry.changes["color"] == {"before": "#dc2626", "after": "#16a34a"}
    assert entry.changes["tags_recoloured"] == {"before": None, "after": 1}
    services.tag_update(actor=actor, tag=tag, group=None, color="#0000FF")
    tag.refresh_from_db()
    assert (tag.group, tag.color) == (None, "#0000ff")


def test_delete_keeps_tags(marketer, actor_for):
    actor = actor_for(marketer)
    group = services.tag_group_save(actor=actor, name="兴趣", color="#2563eb")
    tag = Tag.objects.create(name="打印机", group=group, color="#2563eb")
    services.tag_group_delete(actor=actor, group=group)
    tag.refresh_from_db()
    assert (tag.group, tag.color) == (None, "#2563eb")
    assert AuditEntry.objects.get(action="tag_group.delete").changes["tags"] == {
        "before": ["打印机"], "after": None}


def test_validation_and_permission(marketer, make_user, actor_for):
    actor = actor_for(marketer)
    with pytest.raises(ValidationFailed) as caught:
        services.tag_group_save(actor=actor, name=" ", color="red")
    assert caught.value.details == {"name": ["A name of 1 to 60 characters is needed."],
                                    "color": ["Enter a colour as #rrggbb."]}
    services.tag_group_save(actor=actor, name="行业", color="#111111")
    rep = actor_for(make_user("sales_rep"))
    before = db_snapshot()
    with pytest.raises(ValidationFailed) as caught:
        services.tag_group_save(actor=actor, name="行业", color="#222222")
    assert caught.value.details == {"name": ["A tag group with this name exists."]}
    with pytest.raises(PermissionDenied):
        services.tag_group_save(actor=rep, name="X", color="#111111")
    assert db_snapshot() == before
    assert list(TagGroup.objects.values_list("name", "color")) == [("行业", "#111111")]


def test_tags_page_and_coloured_tags_in_list_and_card(client, marketer, make_user):
    client.force_login(marketer)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    response = client.post("/customers/tags/", {"name": "行业", "color": "#dc2626"})
    assert response.status_code == 302
    group = TagGroup.objects.get()
    customer = create_customer(name="王芳")
    from kehu.core.actor import Actor

    services.tag_add(actor=Actor.system(via="system"), customer=customer, name="制造业")
    tag = Tag.objects.get(name="制造业")
    assert client.post(f"/customers/tags/{tag.pk}/", {"group": group.pk}).status_code == 302
    page = client.get("/customers/tags/").content.decode()
    assert 'data-color="#dc2626">制造业' in page
    listing = client.get("/customers/?cols=name&cols=tags").content.decode()
    assert '<span class="tag" data-color="#dc2626">制造业</span>' in listing
    card = client.get(f"/customers/{customer.pk}/").content.decode()
    assert '<span class="tag" data-color="#dc2626">制造业</span>' in card
    bad = client.post(f"/customers/tags/groups/{group.pk}/", {"name": "行业", "color": "x"},
                      follow=True)
    assert "Enter a colour as #rrggbb." in bad.content.decode()
    client.force_login(make_user("sales_rep"))
    assert client.get("/customers/tags/").status_code == 403
    assert client.post(f"/customers/tags/groups/{group.pk}/", {"action": "delete"}
                       ).status_code == 403
    assert TagGroup.objects.count() == 1
