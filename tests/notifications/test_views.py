"""The bell on every page, the notification list, mark read, and the outbox page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kehu.notifications.models import Notification, OutboundMessage
from kehu.notifications.services import notification_send
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def alice(make_user):
    return make_user("sales_rep", username="alice")


@pytest.fixture
def bob(make_user):
    return make_user("sales_rep", username="bob")


@pytest.fixture
def as_alice(client, alice):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    client.force_login(alice)
    return client


def _send(system, user, title, **kwargs):
    return notification_send(actor=system, recipients=[user], kind="rule", title=title,
                             **kwargs)[0]


def test_every_page_shows_the_bell_with_my_unread_count(as_alice, system, alice, bob):
    _send(system, alice, "一")
    _send(system, alice, "二")
    _send(system, bob, "not alice's")
    html = as_alice.get(reverse("web:home")).content.decode()
    assert 'data-testid="bell"' in html and 'data-count="2"' in html
    assert 'hx-trigger="every 45s, notificationsChanged from:body"' in html
    badge = as_alice.get(reverse("notifications:bell_count"), **HTMX).content.decode()
    assert badge.startswith('<span id="bell-count"') and 'data-count="2"' in badge


def test_bell_count_is_one_query(as_alice, system, alice, django_assert_max_num_queries):
    _send(system, alice, "一")
    as_alice.get(reverse("notifications:bell_count"))  # the session and user are loaded
    with django_assert_max_num_queries(4):  # session, user, the count, the role (middleware)
        as_alice.get(reverse("notifications:bell_count"))


def test_menu_and_list_show_only_mine(as_alice, system, alice, bob):
    _send(system, alice, "签约提醒")
    theirs = _send(system, bob, "别人的提醒")
    menu = as_alice.get(reverse("notifications:bell_menu"), **HTMX).content.decode()
    assert "签约提醒" in menu and "别人的提醒" not in menu
    page = as_alice.get(reverse("notifications:list")).content.decode()
    assert "签约提醒" in page and "别人的提醒" not in page
    assert as_alice.get(reverse("notifications:open", args=[theirs.pk])).status_code == 404


def test_mark_one_read_with_htmx_then_all(as_alice, system, alice):
    one = _send(system, alice, "一")
    two = _send(system, alice, "二")
    response = as_alice.post(reverse("notifications:mark_read"),
                             {"ids": [one.pk], "render": "item"}, **HTMX)
    assert response.status_code == 200 and response["HX-Trigger"] == "notificationsChanged"
    assert response.content.decode().lstrip().startswith('<li class="notification"')
    one.refresh_from_db()
    assert one.read_at is not None
    unread = as_alice.get(reverse("notifications:list") + "?unread=1").content.decode()
    assert f'notification-{two.pk}' in unread and f'notification-{one.pk}"' not in unread
    response = as_alice.post(reverse("notifications:mark_read"), {"all": "1"})
    assert response.status_code == 302
    assert not Notification.objects.filter(recipient=alice, read_at__isnull=True).exists()


def test_opening_marks_read_and_follows_the_link(as_alice, system, alice):
    note = _send(system, alice, "去看看", link="/customers/")
    response = as_alice.get(reverse("notifications:open", args=[note.pk]))
    assert response.status_code == 302 and response["Location"] == "/customers/"
    note.refresh_from_db()
    assert note.read_at is not None


def test_marking_anothers_changes_nothing(as_alice, system, bob):
    theirs = _send(system, bob, "bob's")
    before = db_snapshot()
    response = as_alice.post(reverse("notifications:mark_read"), {"ids": [theirs.pk]})
    assert response.status_code == 404
    assert db_snapshot() == before


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(reverse("notifications:list"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_outbox_is_for_those_who_watch_deliveries(client, alice, admin_user):
    message = OutboundMessage.objects.create(channel="email", to=["a@example.com"],
                                             subject="报价", text="x", status="failed",
                                             attempts=5, last_error="SMTPDataError: 451")
    client.force_login(alice)
    before = db_snapshot()
    assert client.get(reverse("notifications:outbox")).status_code == 403
    assert client.post(reverse("notifications:outbox_retry", args=[message.pk])).status_code == 403
    assert db_snapshot() == before
    client.force_login(admin_user)
    html = client.get(reverse("notifications:outbox") + "?status=failed").content.decode()
    assert f'data-testid="outbound-{message.pk}"' in html and "SMTPDataError: 451" in html
    response = client.post(reverse("notifications:outbox_retry", args=[message.pk]))
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.status == "queued"  # sent by the worker after commit
    assert client.post(reverse("notifications:outbox_retry", args=[message.pk])).status_code == 404
