"""Forms for the product, order and ticket pages. They check shape only; services own the rules."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.transactions.models import Order, Product, Ticket

DATE = {"type": "date"}
AUTOSUBMIT = {"data-autosubmit": ""}


ANY = _("Any")


def _blank(choices, label=ANY):
    return [("", label), *choices]


class ProductForm(forms.Form):
    sku = forms.CharField(label=_("SKU"), max_length=40)
    name = forms.CharField(label=_("Name"), max_length=200)
    category = forms.CharField(label=_("Category"), max_length=60, required=False)
    unit_price = forms.DecimalField(label=_("List price (CNY)"), max_digits=12,
                                    decimal_places=2, min_value=0)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class ProductFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False)
    category = forms.ChoiceField(label=_("Category"), required=False,
                                 widget=forms.Select(attrs=AUTOSUBMIT))

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _blank([(c, c) for c in categories])


class OrderFilterForm(forms.Form):
    q = forms.CharField(label=_("Number or customer"), required=False)
    status = forms.ChoiceField(label=_("Status"), choices=_blank(Order.STATUSES),
                               required=False)
    sales_channel = forms.ChoiceField(label=_("Sales channel"),
                                      choices=_blank(Order.SALES_CHANNELS), required=False)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(DATE))
    until = forms.DateField(label=_("Until (inclusive)"), required=False,
                            widget=forms.DateInput(DATE))


class OrderForm(forms.Form):
    ordered_at = forms.DateTimeField(
        label=_("Ordered"), required=False, help_text=_("Leave empty for now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    number = forms.CharField(label=_("Order number"), max_length=40, required=False,
                             help_text=_("Leave empty to generate one."))
    status = forms.ChoiceField(label=_("Status"), choices=Order.STATUSES, initial="pending")
    payment_method = forms.ChoiceField(label=_("Payment method"),
                                       choices=_blank(Order.PAYMENT_METHODS, "—"),
                                       required=False)
    sales_channel = forms.ChoiceField(label=_("Sales channel"),
                                      choices=_blank(Order.SALES_CHANNELS, "—"), required=False)
    notes = forms.CharField(label=_("Notes"), required=False,
                            widget=forms.Textarea(attrs={"rows": 2}))


class OrderLineForm(forms.Form):
    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.objects.none(),
                                     required=False)
    quantity = forms.DecimalField(label=_("Quantity"), max_digits=12, decimal_places=2,
                                  required=False, min_value=0)
    unit_price = forms.DecimalField(label=_("Unit price (CNY)"), max_digits=12,
                                    decimal_places=2, required=False, min_value=0,
                                    help_text=_("Empty: list price."))

    def __init__(self, *args, products=None, **kwargs):
        super().__init__(*args, **kwargs)
        if products is not None:
            self.fields["product"].queryset = products

    def line(self):
        """The line as the service takes it, or None for a row left empty."""
        data = self.cleaned_data if self.is_valid() else {}
        if not data.get("product"):
            return None
        return {"product": data["product"], "quantity": data.get("quantity"),
                "unit_price": data.get("unit_price")}


OrderLineFormSet = forms.formset_factory(OrderLineForm, extra=5, max_num=50)


class OrderStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"))
    notes = forms.CharField(label=_("Notes"), required=False,
                            widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, allowed=(), **kwargs):
        super().__init__(*args, **kwargs)
        labels = dict(Order.STATUSES)
        self.fields["status"].choices = [(code, labels[code]) for code in allowed]


class TicketFilterForm(forms.Form):
    STATUS_CHOICES = [("", _("Any")), ("unresolved", _("Not yet resolved")),
                      *Ticket.STATUSES]

    q = forms.CharField(label=_("Number, subject or customer"), required=False)
    status = forms.ChoiceField(label=_("Status"), choices=STATUS_CHOICES, required=False)
    priority = forms.ChoiceField(label=_("Priority"), choices=_blank(Ticket.PRIORITIES),
                                 required=False)
    kind = forms.ChoiceField(label=_("Type"), choices=_blank(Ticket.KINDS), required=False)
    mine = forms.BooleanField(label=_("Assigned to me"), required=False)


class TicketOpenForm(forms.Form):
    kind = forms.ChoiceField(label=_("Type"), choices=Ticket.KINDS)
    subject = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 4}))
    priority = forms.ChoiceField(label=_("Priority"), choices=Ticket.PRIORITIES,
                                 initial="normal")
    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.objects.none(),
                                     required=False)
    assignee = forms.ModelChoiceField(label=_("Assignee"), queryset=None, required=False,
                                      help_text=_("Empty: you."))

    def __init__(self, *args, products, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = products
        self.fields["assignee"].queryset = users
