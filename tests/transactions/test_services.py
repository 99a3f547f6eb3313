"""Products, orders and tickets services: money, numbering, transitions, rating, audit, scope."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from kehu.core.errors import NotFound, PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.transactions import services
from kehu.transactions.models import Order, OrderLine, Product, Ticket
from tests.factories import ProductFactory
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


# Products ------------------------------------------------------------------------


def test_product_create_and_update_are_audited(rep, actor_for):
    product = services.product_create(actor=actor_for(rep), sku=" P-1 ", name="激光打印机",
                                      unit_price="1299.005", category="打印机")
    assert product.sku == "P-1" and product.unit_price == Decimal("1299.01")
    services.product_update(actor=actor_for(rep), product=product, sku="P-1", name="激光打印机",
                            unit_price=Decimal("999"), category="打印机", is_active=False)
    product.refresh_from_db()
    assert product.unit_price == Decimal("999.00") and product.is_active is False
    entry = AuditEntry.objects.get(action="product.update")
    assert entry.changes == {"is_active": {"before": True, "after": False},
                             "unit_price": {"before": "1299.01", "after": "999.00"}}


def test_product_rules(rep, actor_for, product):
    with pytest.raises(ValidationFailed) as caught:
        services.product_create(actor=actor_for(rep), sku=product.sku, name="", unit_price=-1)
    assert set(caught.value.details) == {"sku", "name", "unit_price"}


def test_product_needs_order_manage(make_user, actor_for):
    agent = actor_for(make_user("service_agent"))
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        services.product_create(actor=agent, sku="X", name="x", unit_price=1)
    assert not Product.objects.exists()
    assert db_snapshot() == before


# Orders --------------------------------------------------------------------------


def _order(actor, customer, product, **kwargs):
    kwargs.setdefault("lines", [{"product": product, "quantity": 2}])
    return services.order_create(actor=actor, customer=customer, **kwargs)


def test_order_totals_round_half_up(rep, customer, actor_for, product):
    other = ProductFactory(unit_price="0.00")
    at = timezone.now() - dt.timedelta(days=1)
    order = services.order_create(
        actor=actor_for(rep), customer=customer, ordered_at=at, status="paid",
        payment_method="wechat_pay", sales_channel="direct",
        lines=[{"product": product, "quantity": "3"},                       # 597.00
               {"product": other.pk, "quantity": "1.5", "unit_price": "3.33"},  # 4.995 -> 5.00
               {"product": product, "quantity": 1, "unit_price": "0.125"}],   # 0.125 -> 0.13
    )
    amounts = list(OrderLine.objects.filter(order=order).values_list("amount", flat=True))
    assert amounts == [Decimal("597.00"), Decimal("5.00"), Decimal("0.13")]
    assert order.total_amount == Decimal("602.13")
    assert order.salesperson == rep
    customer.refresh_from_db()
    assert customer.last_activity_at == at
    entry = AuditEntry.objects.get(action="order.create")
    assert entry.changes["total_amount"]["after"] == "602.13"
    assert len(entry.changes["lines"]["after"]) == 3


def test_order_number_generated_from_date_and_id(rep, customer, actor_for, product):
    at = dt.datetime(2026, 11, 23, 9, 30, tzinfo=timezone.get_current_timezone())
    order = _order(actor_for(rep), customer, product, ordered_at=at)
    assert order.number == f"SO20261123-{order.pk:06d}"
    given = _order(actor_for(rep), customer, product, number="EXT-1")
    assert given.number == "EXT-1"
    with pytest.raises(ValidationFailed) as caught:
        _order(actor_for(rep), customer, product, number="EXT-1")
    assert list(caught.value.details) == ["number"]


def test_order_line_errors_name_index_and_field(rep, customer, actor_for, product):
    retired = ProductFactory(is_active=False)
    with pytest.raises(ValidationFailed) as caught:
        services.order_create(actor=actor_for(rep), customer=customer, status="nonsense", lines=[
            {"product": product, "quantity": 1},
            {"product": 999999, "quantity": 0},
            {"product": retired, "quantity": 1, "unit_price": "-1"},
        ])
    assert set(caught.value.details) == {"status", "lines[1].product", "lines[1].quantity",
                                         "lines[2].product", "lines[2].unit_price"}
    with pytest.raises(ValidationFailed) as caught:
        services.order_create(actor=actor_for(rep), customer=customer, lines=[])
    assert list(caught.value.details) == ["lines"]
    assert not Order.objects.exists() and not AuditEntry.objects.exists()


def test_order_outside_scope_or_without_permission(rep, others_customer, make_user, actor_for,
                                                   product, customer):
    agent = actor_for(make_user("service_agent"))
    before = db_snapshot()
    with pytest.raises(NotFound):
        _order(actor_for(rep), others_customer, product)
    with pytest.raises(PermissionDenied):
        _order(agent, customer, product)
    assert not Order.objects.exists() and not OrderLine.objects.exists()
    assert db_snapshot() == before


@pytest.mark.parametrize("path", [
    ["paid", "shipped", "completed", "returned", "refunded"],
    ["paid", "refunded"],
    ["cancelled"],
    ["paid", "cancelled"],
    ["paid", "shipped", "returned"],
])
def test_allowed_transitions(path, rep, customer, actor_for, product):
    order = _order(actor_for(rep), customer, product)
    for status in path:
        order = services.order_update_status(actor=actor_for(rep), order=order, status=status)
    assert Order.objects.get(pk=order.pk).status == path[-1]
    assert AuditEntry.objects.filter(action="order.status").count() == len(path)


@pytest.mark.parametrize("start,target", [
    ("pending", "shipped"), ("pending", "completed"), ("pending", "refunded"),
    ("shipped", "cancelled"), ("completed", "cancelled"), ("cancelled", "paid"),
    ("refunded", "paid"), ("completed", "refunded"), ("pending", "pending"),
    ("pending", "lost"),
])
def test_refused_transitions_name_the_field(start, target, rep, customer, actor_for, product):
    order = _order(actor_for(rep), customer, product, status=start)
    before = AuditEntry.objects.count()
    with pytest.raises(ValidationFailed) as caught:
        services.order_update_status(actor=actor_for(rep), order=order, status=target)
    assert list(caught.value.details) == ["status"]
    assert Order.objects.get(pk=order.pk).status == start
    assert AuditEntry.objects.count() == before


def test_status_change_is_audited_with_before_after(rep, customer, actor_for, product):
    order = _order(actor_for(rep), customer, product)
    services.order_update_status(actor=actor_for(rep), order=order, status="paid", notes="已付")
    entry = AuditEntry.objects.get(action="order.status")
    assert entry.changes == {"status": {"before": "pending", "after": "paid"},
                             "notes": {"before": "", "after": "已付"}}


# Tickets -------------------------------------------------------------------------


@pytest.fixture
def agent(make_user):
    return make_user("service_agent")


def _ticket(actor, customer, **kwargs):
    kwargs.setdefault("kind", "complaint")
    kwargs.setdefault("subject", "打印机卡纸")
    return services.ticket_open(actor=actor, customer=customer, **kwargs)


def test_ticket_open(agent, customer, actor_for, product):
    ticket = _ticket(actor_for(agent), customer, priority="high", product=product)
    assert ticket.number.startswith("TK") and ticket.number.endswith(f"-{ticket.pk:06d}")
    assert ticket.assignee == agent and ticket.status == "open"
    customer.refresh_from_db()
    assert customer.last_activity_at == ticket.opened_at
    assert AuditEntry.objects.get(action="ticket.open").changes["priority"]["after"] == "high"


def test_ticket_needs_ticket_manage(rep, customer, actor_for):
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        _ticket(actor_for(rep), customer)
    assert not Ticket.objects.exists()
    assert db_snapshot() == before


def test_ticket_update_resolves_and_reopens(agent, customer, actor_for, make_user):
    ticket = _ticket(actor_for(agent), customer, kind="service_request")
    other_agent = make_user("service_agent")
    with pytest.raises(ValidationFailed) as caught:
        services.ticket_update(actor=actor_for(agent), ticket=ticket, status="resolved",
                               priority="normal", assignee=agent, resolution=" ")
    assert list(caught.value.details) == ["resolution"]
    ticket = services.ticket_update(actor=actor_for(agent), ticket=ticket, status="resolved",
                                    priority="urgent", assignee=other_agent,
                                    resolution="更换搓纸轮")
    assert ticket.resolved_at is not None and ticket.assignee == other_agent
    entry = AuditEntry.objects.get(action="ticket.update")
    assert entry.changes["status"] == {"before": "open", "after": "resolved"}
    ticket = services.ticket_update(actor=actor_for(agent), ticket=ticket, status="in_progress",
                                    priority="urgent", assignee=other_agent,
                                    resolution="更换搓纸轮")
    assert ticket.resolved_at is None


def test_ticket_rating_only_once_resolved(agent, customer, actor_for):
    ticket = _ticket(actor_for(agent), customer, kind="inquiry")
    with pytest.raises(ValidationFailed) as caught:
        services.ticket_rate(actor=actor_for(agent), ticket=ticket, satisfaction=5,
                             source="agent_phone")
    assert list(caught.value.details) == ["satisfaction"]
    services.ticket_update(actor=actor_for(agent), ticket=ticket, status="closed",
                           priority="normal", assignee=agent, resolution="已解决")
    for bad in (0, 6, True, "5"):
        with pytest.raises(ValidationFailed):
            services.ticket_rate(actor=actor_for(agent), ticket=ticket, satisfaction=bad,
                                 source="agent_phone")
    # An agent cannot pass off a rating as the customer's own survey answer
    with pytest.raises(PermissionDenied):
        services.ticket_rate(actor=actor_for(agent), ticket=ticket, satisfaction=5,
                             source="survey")
    with pytest.raises(ValidationFailed):
        services.ticket_rate(actor=actor_for(agent), ticket=ticket, satisfaction=5, source="")
    services.ticket_rate(actor=actor_for(agent), ticket=ticket, satisfaction=4,
                         source="agent_phone")
    stored = Ticket.objects.get(pk=ticket.pk)
    assert stored.satisfaction == 4 and stored.satisfaction_source == "agent_phone"
    entry = AuditEntry.objects.get(action="ticket.rate")
    assert entry.changes == {"satisfaction": {"before": None, "after": 4},
                             "satisfaction_source": {"before": "", "after": "agent_phone"}}
