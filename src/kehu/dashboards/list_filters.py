"""Customer-list filters the boards drill down with (hidden: reached by clicking a number).

`reached=customer`: the lifecycle stage shows the customer has bought into a relationship
(customer, loyal or churned: summary_selectors.CONVERTED_STAGES); `reached=order`: at least
one purchase order (Order.PURCHASE_STATUSES); `no_source=1`: no source channel recorded.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

REACHED = ("customer", "order")


def _reached(text: str) -> str | None:
    return text if text in REACHED else None


def _apply_reached(queryset, value: str):
    from kehu.dashboards.summary_selectors import CONVERTED_STAGES
    from kehu.transactions.models import Order

    if value == "customer":
        return queryset.filter(lifecycle_stage__in=CONVERTED_STAGES)
    return queryset.filter(pk__in=Order.objects.filter(
        status__in=Order.PURCHASE_STATUSES).values("customer_id"))


def register_list_filters() -> None:
    from ninja import Field

    from kehu.customers.fields import LIST_FILTERS, ListFilter, register_filter

    if "reached" not in LIST_FILTERS:
        register_filter(ListFilter(
            "reached", _("Reached"), _reached, _apply_reached, widget="hidden",
            api_field=(str, Field("", max_length=10, description="customer: became a customer; "
                                                               "order: has a purchase order"))))
    if "no_source" not in LIST_FILTERS:
        register_filter(ListFilter(
            "no_source", _("No source channel"), lambda text: True if text == "1" else None,
            lambda queryset, _value: queryset.filter(source=""), widget="hidden",
            api_field=(str, Field("", max_length=1, description="1: no source channel"))))
