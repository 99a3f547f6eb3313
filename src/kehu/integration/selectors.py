"""Reads of the outbound webhooks, for those who manage them (webhook.manage)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from kehu.core.errors import NotFound
from kehu.integration.models import WebhookDelivery, WebhookEndpoint

DELIVERIES_SHOWN = 100


def webhook_list(*, user) -> QuerySet[WebhookEndpoint]:
    user.access.require("webhook.manage")
    return WebhookEndpoint.objects.annotate(
        waiting=Count("deliveries", filter=Q(deliveries__status__in=(
            WebhookDelivery.PENDING, WebhookDelivery.FAILED))),
        given_up=Count("deliveries", filter=Q(deliveries__status=WebhookDelivery.GAVE_UP)),
    ).order_by("id")


def webhook_get(*, user, endpoint_id: int) -> WebhookEndpoint:
    endpoint = webhook_list(user=user).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound()
    return endpoint


def webhook_deliveries(*, user, endpoint_id: int, status: str = "",
                       limit: int = DELIVERIES_SHOWN) -> list[WebhookDelivery]:
    webhook_get(user=user, endpoint_id=endpoint_id)
    rows = WebhookDelivery.objects.filter(endpoint_id=endpoint_id)
    if status:
        rows = rows.filter(status=status)
    return list(rows.order_by("-id")[:max(1, min(limit, 500))])


def webhook_delivery_get(*, user, delivery_id: int) -> WebhookDelivery:
    user.access.require("webhook.manage")
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:
        raise NotFound()
    return delivery


def stitch_list(*, user, customer_id: int | None = None, limit: int = 100) -> list:
    """Visitor stitches of the customers the user may see, newest first."""
    from kehu.customers.models import Customer
    from kehu.integration.models import Stitch

    visible = user.access.restrict(Customer.objects.all())
    stitches = Stitch.objects.filter(customer__in=visible).select_related("visitor", "customer")
    if customer_id is not None:
        stitches = stitches.filter(customer_id=customer_id)
    return list(stitches.order_by("-id")[:limit])


def stitch_get(*, user, stitch_id: int):
    """One stitch of a customer the user may see; NotFound otherwise."""
    from kehu.customers.models import Customer
    from kehu.integration.models import Stitch

    visible = user.access.restrict(Customer.objects.all())
    stitch = Stitch.objects.filter(pk=stitch_id, customer__in=visible).first()
    if stitch is None:
        raise NotFound()
    return stitch
