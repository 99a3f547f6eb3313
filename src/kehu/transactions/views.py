"""Pages of the transaction and service layers: catalogue, orders, tickets.

Thin: forms in, services do the work, selectors read; htmx requests get partials.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.accounts import selectors as accounts
from kehu.core.actor import Actor
from kehu.core.errors import DomainError, NotFound
from kehu.core.pages import requires, show_errors
from kehu.transactions import selectors, services, ticket_services
from kehu.transactions.forms import (
    OrderFilterForm,
    OrderForm,
    OrderLineFormSet,
    OrderStatusForm,
    ProductFilterForm,
    ProductForm,
    TicketFilterForm,
    TicketOpenForm,
)

PAGE_SIZE = 50


def _found(read, *args, **kwargs):
    try:
        return read(*args, **kwargs)
    except NotFound as exc:
        raise Http404 from exc


def _day_start(day: dt.date | None) -> dt.datetime | None:
    if day is None:
        return None
    return dt.datetime.combine(day, dt.time.min, tzinfo=timezone.get_current_timezone())


def _customer_param(request):
    raw = request.GET.get("customer") or request.POST.get("customer") or ""
    if not raw.isdigit():
        raise Http404
    return _found(selectors.customer_get, request.user, int(raw))


# Products ------------------------------------------------------------------------


@requires("customer.view")
def products(request):
    form = ProductFilterForm(request.GET or None,
                             categories=selectors.product_categories(request.user))
    data = form.cleaned_data if form.is_valid() else {}
    rows = selectors.product_list(request.user, search=data.get("q", ""),
                                  category=data.get("category", ""))
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "transactions/product_list.html", {
        "form": form, "page": page, "products": page.object_list,
        "can_manage": request.user.access.can("order.manage"),
        "query": request.GET.urlencode(),
    })


@requires("order.manage")
def product_edit(request, product_id: int | None = None):
    product = _found(selectors.product_get, request.user, product_id) if product_id else None
    initial = ({"sku": product.sku, "name": product.name, "category": product.category,
                "unit_price": product.unit_price, "is_active": product.is_active}
               if product else None)
    form = ProductForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            if product:
                services.product_update(actor=Actor.from_request(request), product=product,
                                        **form.cleaned_data)
            else:
                services.product_create(actor=Actor.from_request(request), **form.cleaned_data)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Product saved."))
            return redirect("transactions:products")
    title = _("Edit product %s") % product.sku if product else _("New product")
    return render(request, "transactions/form.html", {
        "form": form, "title": title, "back": "transactions:products"})


# Orders --------------------------------------------------------------------------


@requires("customer.view")
def orders(request):
    form = OrderFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    until = data.get("until")
    rows = selectors.order_list(
        request.user, status=data.get("status") or None, search=data.get("q", ""),
        sales_channel=data.get("sales_channel", ""), since=_day_start(data.get("since")),
        until=_day_start(until + dt.timedelta(days=1)) if until else None,
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "orders": page.object_list, "show_customer": True,
               "query": request.GET.urlencode()}
    template = "transactions/_order_results.html" if request.htmx else \
        "transactions/order_list.html"
    return render(request, template, context)


@requires("customer.view")
def order_detail(request, order_id: int):
    order = _found(selectors.order_get, request.user, order_id)
    allowed = sorted(services.ORDER_TRANSITIONS[order.status])
    can_manage = request.user.access.can("order.manage")
    form = OrderStatusForm(request.POST or None, allowed=allowed) if can_manage and allowed \
        else None
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            try:
                services.order_update_status(actor=Actor.from_request(request), order=order,
                                             status=form.cleaned_data["status"],
                                             notes=form.cleaned_data["notes"] or None)
            except NotFound as exc:
                raise Http404 from exc
            except DomainError as exc:
                show_errors(form, exc)
            else:
                messages.success(request, _("Order status changed."))
                return redirect("transactions:order", order_id=order.pk)
    return render(request, "transactions/order_detail.html", {
        "order": order, "lines": list(order.lines.all()), "status_form": form})


@requires("order.manage")
def order_create(request):
    customer = _customer_param(request)
    products = selectors.product_list(request.user, active_only=True)
    form = OrderForm(request.POST or None)
    lines = OrderLineFormSet(request.POST or None, prefix="lines",
                             form_kwargs={"products": products})
    if request.method == "POST" and form.is_valid() and lines.is_valid():
        data = form.cleaned_data
        try:
            order = services.order_create(
                actor=Actor.from_request(request), customer=customer,
                lines=[line for line in (f.line() for f in lines.forms) if line],
                number=data["number"] or None, ordered_at=data["ordered_at"],
                status=data["status"], payment_method=data["payment_method"],
                sales_channel=data["sales_channel"], notes=data["notes"],
            )
        except NotFound as exc:
            raise Http404 from exc
        except DomainError as exc:
            _line_errors(form, lines, exc)
        else:
            messages.success(request, _("Order %s recorded.") % order.number)
            return redirect("transactions:order", order_id=order.pk)
    return render(request, "transactions/order_form.html", {
        "form": form, "lines": lines, "customer": customer})


def _line_errors(form, lines, exc: DomainError) -> None:
    """Put lines[i].field errors on the i-th filled line form, the rest on the order form."""
    filled = [f for f in lines.forms if f.is_valid() and f.cleaned_data.get("product")]
    details = exc.details if isinstance(exc.details, dict) else {}
    rest = {}
    for key, messages_ in details.items():
        if key.startswith("lines[") and "]." in key:
            index, field = key[6:].split("].", 1)
            if index.isdigit() and int(index) < len(filled):
                for message in messages_:
                    filled[int(index)].add_error(field if field in OrderLineFormSet.form.
                                                 base_fields else None, str(message))
                continue
        rest[key] = messages_
    if rest or not details:
        show_errors(form, type(exc)(exc.message, details=rest))


# Tickets -------------------------------------------------------------------------


@requires("customer.view")
def tickets(request):
    form = TicketFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    rows = selectors.ticket_list(
        request.user, status=data.get("status") or None, priority=data.get("priority") or None,
        kind=data.get("kind") or None, search=data.get("q", ""),
        assignee_id=request.user.pk if data.get("mine") else None,
    )
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "tickets": page.object_list, "show_customer": True,
               "query": request.GET.urlencode(),
               "can_manage": request.user.access.can("ticket.manage")}
    template = "transactions/_ticket_results.html" if request.htmx else \
        "transactions/ticket_list.html"
    return render(request, template, context)


def _assignable(request):
    return accounts.user_list(user=request.user)


@requires("ticket.manage")
def ticket_create(request):
    customer = _customer_param(request)
    form = TicketOpenForm(request.POST or None, users=_assignable(request),
                          products=selectors.product_list(request.user, active_only=True))
    if request.method == "POST" and form.is_valid():
        try:
            ticket = ticket_services.ticket_open(actor=Actor.from_request(request), customer=customer,
                                          **form.cleaned_data)
        except NotFound as exc:
            raise Http404 from exc
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Ticket %s opened.") % ticket.number)
            return redirect("service:ticket", ticket_id=ticket.pk)
    return render(request, "transactions/form.html", {
        "form": form, "title": _("New ticket for %s") % customer.name,
        "back": "transactions:tickets", "hidden": {"customer": customer.pk}})


@requires("customer.view")
def ticket_detail(request, ticket_id: int):
    """Tickets are worked in the service desk's workspace (kehu.service), by URL name."""
    _found(selectors.ticket_get, request.user, ticket_id)
    return redirect("service:ticket", ticket_id=ticket_id)
