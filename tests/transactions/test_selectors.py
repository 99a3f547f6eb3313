"""Selectors of orders and tickets: scope, summaries netting returns, pinned query counts."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.core.errors import NotFound, PermissionDenied
from kehu.core.timeline import TimelineCursor
from kehu.customers.models import Customer
from kehu.transactions import selectors
from kehu.transactions.models import Order, OrderLine, Ticket
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _ago(hours):
    return NOW - dt.timedelta(hours=hours)


def make_order(customer, *, status="paid", total="100.00", at=None, lines=1, number=None):
    order = Order.objects.create(customer=customer, number=number or f"SO-{Order.objects.count()}",
                                 status=status, ordered_at=at or NOW, total_amount=total)
    for _ in range(lines):
        product = ProductFactory()
        OrderLine.objects.create(order=order, product=product, quantity=1,
                                 unit_price=total, amount=total)
    return order


def make_ticket(customer, *, status="open", at=None, number=None, **kwargs):
    return Ticket.objects.create(customer=customer, number=number or f"TK-{Ticket.objects.count()}",
                                 kind="complaint", subject="卡纸", status=status,
                                 opened_at=at or NOW, **kwargs)


def test_rep_sees_only_own_customers_orders_and_tickets(rep, customer, others_customer):
    mine, theirs = make_order(customer), make_order(others_customer)
    assert list(selectors.order_list(rep)) == [mine]
    with pytest.raises(NotFound):
        selectors.order_get(rep, theirs.pk)
    own_ticket, other_ticket = make_ticket(customer), make_ticket(others_customer)
    assert list(selectors.ticket_list(rep)) == [own_ticket]
    with pytest.raises(NotFound):
        selectors.ticket_get(rep, other_ticket.pk)


def test_deleted_customers_drop_out(make_user, customer):
    make_order(customer)
    Customer.objects.filter(pk=customer.pk).update(status="deleted")
    assert not selectors.order_list(make_user("admin")).exists()


def test_order_list_filters(make_user, customer):
    admin = make_user("admin")
    paid = make_order(customer, status="paid", at=_ago(48))
    pending = make_order(customer, status="pending", at=_ago(1), number="SO-FIND-ME")
    assert list(selectors.order_list(admin, status="paid")) == [paid]
    assert list(selectors.order_list(admin, since=_ago(2))) == [pending]
    assert list(selectors.order_list(admin, until=_ago(2))) == [paid]
    assert list(selectors.order_list(admin, search="find-me")) == [pending]
    assert list(selectors.order_list(admin, customer_id=customer.pk)) == [pending, paid]


def test_ticket_list_unresolved_filter(make_user, customer):
    admin = make_user("admin")
    open_, _done = make_ticket(customer), make_ticket(customer, status="resolved")
    working = make_ticket(customer, status="in_progress")
    assert set(selectors.ticket_list(admin, status="unresolved")) == {open_, working}


def test_order_summary_nets_returns_and_refunds(rep, customer, django_assert_num_queries):
    make_order(customer, status="paid", total="100.00", at=_ago(30))
    make_order(customer, status="completed", total="250.50", at=_ago(20))
    make_order(customer, status="returned", total="999.00", at=_ago(10))
    make_order(customer, status="refunded", total="50.00", at=_ago(9))
    make_order(customer, status="pending", total="10.00", at=_ago(8))
    make_order(customer, status="cancelled", total="70.00", at=_ago(1))
    rep.access  # noqa: B018
    with django_assert_num_queries(1):
        summary = selectors.customer_order_summary(rep, customer)
    assert summary.count == 5
    assert summary.total_spend == Decimal("350.50")
    assert summary.last_ordered_at == _ago(8)
    assert summary.returned_count == 2


def test_service_summary(rep, customer):
    make_ticket(customer, status="open")
    make_ticket(customer, status="closed", satisfaction=4)
    make_ticket(customer, status="resolved", satisfaction=5)
    summary = selectors.customer_service_summary(rep, customer)
    assert (summary.open_count, summary.total_count, summary.average_satisfaction) == (1, 3, 4.5)


def test_products_need_customer_view(make_user):
    ProductFactory()
    assert selectors.product_list(make_user("read_only")).count() == 1
    with pytest.raises(PermissionDenied):
        selectors.product_list(make_user(None))


def _strictly_before(at):
    return TimelineCursor(at=at, kind="interaction", object_id=0)


def test_timeline_items_merge_orders_and_tickets(rep, customer):
    order = make_order(customer, status="completed", total="88.80", at=_ago(5), lines=2)
    ticket = make_ticket(customer, at=_ago(2), priority="high", assignee=rep)
    items = selectors.timeline_items(rep, customer, limit=10)
    assert [(i.kind, i.object_id) for i in items] == [("ticket", ticket.pk), ("order", order.pk)]
    assert items[1].meta["total_amount"] == "88.80" and items[1].meta["line_count"] == 2
    assert order.number in items[1].title
    assert items[0].body == "卡纸" and items[0].meta["assignee"] == str(rep)
    assert selectors.timeline_items(rep, customer, kinds={"order"}, limit=10)[0].kind == "order"
    assert selectors.timeline_items(rep, customer, cursor=_strictly_before(_ago(3)), limit=10)[0].kind == "order"
    assert selectors.timeline_items(rep, customer, kinds={"event"}, limit=10) == []


def test_timeline_out_of_scope_is_not_found(rep, others_customer):
    with pytest.raises(NotFound):
        selectors.timeline_items(rep, others_customer, limit=5)


@pytest.mark.parametrize("rows", [1, 12])
def test_timeline_items_query_count_is_bounded(rep, customer, rows, django_assert_num_queries):
    for n in range(rows):
        make_order(customer, at=_ago(n), lines=3)
        make_ticket(customer, at=_ago(n), assignee=rep)
    rep.access  # noqa: B018 - computed once per request, not per provider
    with django_assert_num_queries(3):  # orders, their lines with products, tickets
        items = selectors.timeline_items(rep, customer, limit=10)
    assert len(items) == min(10, rows * 2)
    with django_assert_num_queries(1):
        selectors.timeline_items(rep, customer, kinds={"ticket"}, limit=10)
