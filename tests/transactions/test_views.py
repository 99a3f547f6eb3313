"""Pages: catalogue, orders (list, detail, create, status) and tickets (list, open, work, rate)."""

from decimal import Decimal

import pytest
from django.urls import reverse

from kehu.transactions.models import Order, Product, Ticket
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _login(client, user):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # assert on the English messages
    client.force_login(user)
    return client


def _clean(html):
    assert "<script>" not in html and "style=" not in html
    return html


def test_catalogue_read_and_manage(client, make_user, product):
    _login(client, make_user("read_only"))
    response = client.get(reverse("transactions:products"))
    assert response.status_code == 200 and product.sku in _clean(response.content.decode())
    before = db_snapshot()
    assert client.get(reverse("transactions:product_create")).status_code == 403
    assert client.post(reverse("transactions:product_create"),
                       {"sku": "X", "name": "x", "unit_price": "1"}).status_code == 403
    assert db_snapshot() == before
    _login(client, make_user("sales_rep"))
    response = client.post(reverse("transactions:product_create"),
                           {"sku": "NEW", "name": "新品", "unit_price": "88.8", "is_active": "on"})
    assert response.status_code == 302
    assert Product.objects.get(sku="NEW").unit_price == Decimal("88.80")
    before = db_snapshot()
    response = client.post(reverse("transactions:product_create"),
                           {"sku": "NEW", "name": "重复", "unit_price": "1"})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert db_snapshot() == before


def _create_order(client, customer, product, **extra):
    data = {"customer": customer.pk, "status": "pending", "lines-TOTAL_FORMS": "5",
            "lines-INITIAL_FORMS": "0", "lines-MIN_NUM_FORMS": "0", "lines-MAX_NUM_FORMS": "50",
            "lines-0-product": product.pk, "lines-0-quantity": "2", **extra}
    return client.post(reverse("transactions:order_create") + f"?customer={customer.pk}", data)


def test_order_create_detail_and_status(client, rep, customer, product):
    _login(client, rep)
    page = client.get(reverse("transactions:order_create"), {"customer": customer.pk})
    assert page.status_code == 200
    response = _create_order(client, customer, product)
    order = Order.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "transactions:order", args=[order.pk])
    assert order.total_amount == Decimal("398.00")
    detail = client.get(reverse("transactions:order", args=[order.pk]))
    html = _clean(detail.content.decode())
    assert order.number in html and 'value="paid"' in html and 'value="completed"' not in html
    response = client.post(reverse("transactions:order", args=[order.pk]), {"status": "paid"})
    assert response.status_code == 302
    assert Order.objects.get().status == "paid"


def test_order_line_errors_land_on_the_line(client, rep, customer, product):
    _login(client, rep)
    response = _create_order(client, customer, product, **{"lines-0-quantity": "0"})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="id_lines-0-quantity_error"><li>The quantity must be more than zero.</li>' in html
    assert not Order.objects.exists()


def test_order_pages_respect_scope(client, rep, others_customer, make_user, product):
    admin = make_user("admin")
    _login(client, admin)
    _create_order(client, others_customer, product)
    order = Order.objects.get()
    _login(client, rep)
    assert client.get(reverse("transactions:order", args=[order.pk])).status_code == 404
    assert client.post(reverse("transactions:order", args=[order.pk]),
                       {"status": "paid"}).status_code == 404
    assert _create_order(client, others_customer, product).status_code == 404
    listing = client.get(reverse("transactions:orders"))
    assert order.number not in listing.content.decode()
    assert Order.objects.count() == 1 and Order.objects.get().status == "pending"


def test_order_list_filters_with_htmx_partial(client, make_user, customer, product):
    _login(client, make_user("admin"))
    _create_order(client, customer, product, number="SO-A")
    _create_order(client, customer, product, number="SO-B", status="paid")
    response = client.get(reverse("transactions:orders"), {"status": "paid"}, **HTMX)
    html = response.content.decode()
    assert "SO-B" in html and "SO-A" not in html and "<html" not in html
    full = client.get(reverse("transactions:orders"))
    assert "<html" in full.content.decode()


def test_ticket_open_lands_in_the_service_desk(client, make_user, customer):
    agent = make_user("service_agent")
    _login(client, agent)
    response = client.post(reverse("transactions:ticket_create") + f"?customer={customer.pk}",
                           {"customer": customer.pk, "kind": "inquiry", "subject": "噪音大",
                            "priority": "high"})
    ticket = Ticket.objects.get()
    assert ticket.assignee == agent and ticket.priority == "high"
    assert response.status_code == 302
    assert response["Location"] == reverse("service:ticket", args=[ticket.pk])
    # the old ticket address leads to the workspace too
    old = client.get(reverse("transactions:ticket", args=[ticket.pk]))
    assert old.status_code == 302 and old["Location"] == response["Location"]
    page = _clean(client.get(response["Location"]).content.decode())
    assert "噪音大" in page and 'value="phone_rating"' not in page   # not resolved yet


def test_ticket_pages_permissions(client, make_user, customer, rep):
    ticket = Ticket.objects.create(customer=customer, number="TK-1", kind="inquiry",
                                   subject="问价", opened_at=customer.created_at)
    _login(client, make_user("read_only"))
    before = db_snapshot()
    url = reverse("service:ticket", args=[ticket.pk])
    page = client.get(url)
    assert page.status_code == 200 and 'name="action"' not in page.content.decode()
    assert client.post(url, {"action": "phone_rating", "rating": "5"}).status_code == 404
    assert client.get(reverse("transactions:ticket_create"),
                      {"customer": customer.pk}).status_code == 403
    assert db_snapshot() == before
    _login(client, make_user("sales_rep"))
    assert client.get(url).status_code == 404
    listing = client.get(reverse("transactions:tickets"), {"status": "unresolved"})
    assert "TK-1" not in listing.content.decode()
    _login(client, rep)
    assert "TK-1" in client.get(reverse("transactions:tickets")).content.decode()
    assert Ticket.objects.get().satisfaction is None


def test_every_page_renders_for_admin(client, make_user, customer, product):
    admin = make_user("admin")
    _login(client, admin)
    _create_order(client, customer, product)
    client.post(reverse("transactions:ticket_create") + f"?customer={customer.pk}",
                {"customer": customer.pk, "kind": "inquiry", "subject": "问价",
                 "priority": "normal"})
    order, ticket = Order.objects.get(), Ticket.objects.get()
    urls = [reverse("transactions:products"), reverse("transactions:product_create"),
            reverse("transactions:product_edit", args=[product.pk]),
            reverse("transactions:orders"), reverse("transactions:order", args=[order.pk]),
            reverse("transactions:order_create") + f"?customer={customer.pk}",
            reverse("transactions:tickets"), reverse("service:ticket", args=[ticket.pk]),
            reverse("transactions:ticket_create") + f"?customer={customer.pk}"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        _clean(response.content.decode())
    before = db_snapshot()
    assert client.get(reverse("transactions:order_create")).status_code == 404
    assert db_snapshot() == before


@pytest.mark.parametrize("page", ["transactions:orders", "transactions:tickets"])
def test_list_pages_do_not_grow_queries_with_rows(page, client, make_user, customer, product,
                                                  django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    admin = make_user("admin")
    _login(client, admin)

    def add_rows(n):
        for _ in range(n):
            _create_order(client, customer, product)
            client.post(reverse("transactions:ticket_create") + f"?customer={customer.pk}",
                        {"customer": customer.pk, "kind": "inquiry", "subject": "问价",
                         "priority": "normal"})

    add_rows(1)
    with CaptureQueriesContext(connection) as one:
        response = client.get(reverse(page))
    assert response.status_code == 200
    baseline = len(one.captured_queries)  # read now: every request resets the query log
    add_rows(6)
    with django_assert_max_num_queries(baseline):
        client.get(reverse(page))
