"""What a report can be about: each subject's model, its scoped rows, date, amounts and fields.

A subject's rows always come from the owning app's selectors for the user (customers visible
to the user, and the orders, tickets, events … of those customers; deals in the user's deal
scope), so a report can never count a record its reader could not open. Lower apps are
reached by model and selector, never the other way round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class OwnField:
    """A column of the subject's rows a report can group or narrow by."""

    label: Any
    path: str
    kind: str  # choice, text, user, team, fk, date, datetime
    choices: Callable[[], list[tuple[str, Any]]] | None = None
    fk_model: str = ""  # "app.Model" whose str() labels the ids of kind fk


@dataclass(frozen=True)
class Subject:
    key: str
    label: Any
    model: str  # "app.Model"
    customer_path: str  # ORM path from a row to its customer ("" for customers)
    date_path: str  # the date a period and date buckets use
    date_kind: str  # datetime | date
    date_label: Any
    rows: Callable[[Any], Any]  # user -> the rows in the user's scope
    detail: Callable[[Any], str]  # a row (values dict) -> its page
    detail_fields: tuple[str, ...]  # what the drill-down list reads of a row
    amounts: dict[str, tuple[Any, str]] = field(default_factory=dict)  # key -> (label, path)
    fields: dict[str, OwnField] = field(default_factory=dict)

    def customer(self, path: str) -> str:
        """A customer field's ORM path from this subject's rows."""
        return f"{self.customer_path}__{path}" if self.customer_path else path

    @property
    def customer_id_path(self) -> str:
        return f"{self.customer_path}_id" if self.customer_path else "pk"


def _model_choices(label: str, name: str):
    def choices():
        from django.apps import apps

        return [(k, v) for k, v in getattr(apps.get_model(label), name)]
    return choices


def _pipeline_choices(name: str):
    def choices():
        from kehu.pipeline import models

        return list(getattr(models, name))
    return choices


def _customers(user):
    from kehu.customers.selectors import customer_queryset

    return customer_queryset(user=user)


def _of_visible_customers(label: str):
    def rows(user):
        from django.apps import apps

        from kehu.customers.selectors import rows_of_visible_customers

        return rows_of_visible_customers(user=user, queryset=apps.get_model(label).objects.all())
    return rows


def _order_lines(user):
    from kehu.transactions.models import OrderLine

    orders = _of_visible_customers("transactions.Order")(user)
    return OrderLine.objects.filter(order__in=orders.values("pk"))


def _deals(user):
    from kehu.pipeline.selectors import deal_queryset

    return deal_queryset(user)


def _card(row) -> str:
    return reverse("cards:card", args=[row["customer_id"]])


SUBJECTS: dict[str, Subject] = {}


def register_subject(subject: Subject) -> Subject:
    SUBJECTS[subject.key] = subject
    return subject


register_subject(Subject(
    "customers", _("Customers"), "customers.Customer", "", "created_at", "datetime",
    _("Created"), _customers, lambda row: reverse("cards:card", args=[row["id"]]),
    ("id", "name", "created_at"),
    amounts={"monetary": (_("Spend in the RFM window (CNY)"), "value__monetary"),
             "clv_12m": (_("12-month CLV (CNY)"), "prediction__clv_12m")},
))
register_subject(Subject(
    "orders", _("Orders"), "transactions.Order", "customer", "ordered_at", "datetime",
    _("Ordered"), _of_visible_customers("transactions.Order"),
    lambda row: reverse("transactions:order", args=[row["id"]]),
    ("id", "number", "customer_id", "customer__name", "ordered_at", "total_amount"),
    amounts={"total_amount": (_("Order total (CNY)"), "total_amount")},
    fields={
        "order.status": OwnField(_("Order status"), "status", "choice",
                                 _model_choices("transactions.Order", "STATUSES")),
        "order.sales_channel": OwnField(_("Sales channel"), "sales_channel", "choice",
                                        _model_choices("transactions.Order", "SALES_CHANNELS")),
        "order.payment_method": OwnField(_("Payment method"), "payment_method", "choice",
                                         _model_choices("transactions.Order", "PAYMENT_METHODS")),
        "order.salesperson": OwnField(_("Salesperson"), "salesperson", "user"),
    },
))
register_subject(Subject(
    "order_lines", _("Order lines"), "transactions.OrderLine", "order__customer",
    "order__ordered_at", "datetime", _("Ordered"), _order_lines,
    lambda row: reverse("transactions:order", args=[row["order_id"]]),
    ("id", "order_id", "order__number", "order__customer_id", "order__customer__name",
     "order__ordered_at", "product__name", "amount"),
    amounts={"amount": (_("Line amount (CNY)"), "amount"),
             "quantity": (_("Quantity"), "quantity")},
    fields={
        "line.product": OwnField(_("Product"), "product", "fk", fk_model="transactions.Product"),
        "line.category": OwnField(_("Product category"), "product__category", "text"),
        "line.order_status": OwnField(_("Order status"), "order__status", "choice",
                                      _model_choices("transactions.Order", "STATUSES")),
    },
))
register_subject(Subject(
    "interactions", _("Interactions"), "interactions.Interaction", "customer", "occurred_at",
    "datetime", _("Time"), _of_visible_customers("interactions.Interaction"), _card,
    ("id", "customer_id", "customer__name", "occurred_at", "kind"),
    fields={
        "interaction.kind": OwnField(_("Interaction type"), "kind", "choice",
                                     _model_choices("interactions.Interaction", "KINDS")),
        "interaction.direction": OwnField(_("Direction"), "direction", "choice",
                                          _model_choices("interactions.Interaction",
                                                         "DIRECTIONS")),
        "interaction.channel": OwnField(_("Channel"), "channel", "text"),
        "interaction.actor": OwnField(_("Logged by"), "actor", "user"),
    },
))
register_subject(Subject(
    "events", _("Events"), "interactions.Event", "customer", "occurred_at", "datetime",
    _("Time"), _of_visible_customers("interactions.Event"), _card,
    ("id", "customer_id", "customer__name", "occurred_at", "event_type"),
    fields={
        "event.type": OwnField(_("Event"), "event_type", "text"),
        "event.source": OwnField(_("Event source"), "source", "text"),
    },
))
register_subject(Subject(
    "tickets", _("Tickets"), "transactions.Ticket", "customer", "opened_at", "datetime",
    _("Opened"), _of_visible_customers("transactions.Ticket"),
    lambda row: reverse("transactions:ticket", args=[row["id"]]),
    ("id", "number", "customer_id", "customer__name", "opened_at", "subject"),
    amounts={"satisfaction": (_("Satisfaction (1–5)"), "satisfaction")},
    fields={
        "ticket.kind": OwnField(_("Ticket type"), "kind", "choice",
                                _model_choices("transactions.Ticket", "KINDS")),
        "ticket.status": OwnField(_("Ticket status"), "status", "choice",
                                  _model_choices("transactions.Ticket", "STATUSES")),
        "ticket.priority": OwnField(_("Priority"), "priority", "choice",
                                    _model_choices("transactions.Ticket", "PRIORITIES")),
        "ticket.assignee": OwnField(_("Assignee"), "assignee", "user"),
        "ticket.product": OwnField(_("Product"), "product", "fk",
                                   fk_model="transactions.Product"),
        "ticket.resolved_at": OwnField(_("Resolved"), "resolved_at", "datetime"),
    },
))
register_subject(Subject(
    "deals", _("Deals"), "pipeline.Deal", "customer", "created_at", "datetime", _("Created"),
    _deals, lambda row: reverse("pipeline:deal", args=[row["id"]]),
    ("id", "title", "customer_id", "customer__name", "created_at", "amount"),
    amounts={"amount": (_("Deal amount (CNY)"), "amount")},
    fields={
        "deal.pipeline": OwnField(_("Pipeline"), "pipeline", "fk", fk_model="pipeline.Pipeline"),
        "deal.stage": OwnField(_("Stage"), "stage", "fk", fk_model="pipeline.Stage"),
        "deal.status": OwnField(_("Deal status"), "status", "choice",
                                _pipeline_choices("STAGE_KINDS")),
        "deal.owner": OwnField(_("Deal owner"), "owner", "user"),
        "deal.team": OwnField(_("Deal team"), "team", "team"),
        "deal.source": OwnField(_("Deal source"), "source", "choice",
                                _model_choices("pipeline.Deal", "SOURCES")),
        "deal.forecast_category": OwnField(_("Forecast category"), "forecast_category",
                                           "choice", _pipeline_choices("FORECAST_CATEGORIES")),
        "deal.expected_close_date": OwnField(_("Expected close date"), "expected_close_date",
                                             "date"),
        "deal.closed_at": OwnField(_("Closed"), "closed_at", "datetime"),
    },
))
