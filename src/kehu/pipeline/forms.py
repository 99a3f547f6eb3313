"""Forms of the pipeline's pages. They only shape input; the services decide."""

from __future__ import annotations

from django import forms
from django.forms import formset_factory
from django.utils.translation import gettext_lazy as _

from kehu.pipeline.models import Contract, Deal, DealContact, InvoiceRequest, Payment, Target

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TAX = [("13%", "13%"), ("9%", "9%"), ("6%", "6%"), ("0%", "0%")]


class BoardFilterForm(forms.Form):
    pipeline = forms.TypedChoiceField(label=_("Pipeline"), coerce=int, required=False,
                                      empty_value=None)
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, required=False,
                                   empty_value=None)
    team = forms.TypedChoiceField(label=_("Team"), coerce=int, required=False, empty_value=None)
    month = forms.CharField(label=_("Close month"), required=False,
                            widget=forms.DateInput(attrs={"type": "month"}))
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    status = forms.ChoiceField(label=_("Status"), required=False,
                               choices=[("", _("All")), ("open", _("Open")), ("won", _("Won")),
                                        ("lost", _("Lost"))])
    stalled = forms.BooleanField(label=_("Stalled only"), required=False)
    # Drill-downs from the funnel board (kept as hidden inputs so paging keeps them).
    reached_stage = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1,
                                       widget=forms.HiddenInput)
    created_from = forms.DateField(required=False, widget=forms.HiddenInput)
    created_to = forms.DateField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, pipelines=(), users=(), teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["pipeline"].choices = [(p.pk, p.name) for p in pipelines]
        self.fields["owner"].choices = [("", _("Everyone"))] + [(u.pk, str(u)) for u in users]
        self.fields["team"].choices = [("", _("All teams"))] + [(t.pk, t.name) for t in teams]

    def clean_month(self):
        import datetime as dt

        text = self.cleaned_data.get("month") or ""
        if not text:
            return None
        try:
            year, month = text.split("-")[:2]
            return dt.date(int(year), int(month), 1)
        except (ValueError, TypeError):
            raise forms.ValidationError(_("Give a month as YYYY-MM.")) from None


class DealForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    amount = forms.DecimalField(label=_("Amount (CNY)"), max_digits=14, decimal_places=2,
                                min_value=0, required=False,
                                help_text=_("Empty: the sum of the product lines."))
    expected_close_date = forms.DateField(label=_("Expected close date"), widget=DATE)
    probability = forms.IntegerField(label=_("Probability (%)"), min_value=0, max_value=100,
                                     required=False)
    forecast_category = forms.ChoiceField(label=_("Forecast category"), required=False,
                                          choices=[("", _("From the stage"))]
                                          + list(Deal._meta.get_field(
                                              "forecast_category").choices))
    owner = forms.TypedChoiceField(label=_("Owner"), coerce=int, required=False,
                                   empty_value=None)
    source = forms.ChoiceField(label=_("Source"), required=False,
                               choices=[("", "—")] + Deal.SOURCES)
    competitor = forms.CharField(label=_("Competitor"), max_length=100, required=False)
    next_step = forms.CharField(label=_("Next step"), max_length=200, required=False)

    def __init__(self, *args, users=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", _("Me"))] + [(u.pk, str(u)) for u in users]


class MoveForm(forms.Form):
    stage = forms.TypedChoiceField(label=_("Stage"), coerce=int)
    lost_reason = forms.CharField(label=_("Lost reason"), max_length=300, required=False)

    def __init__(self, *args, stages=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = [(s.pk, s.name) for s in stages]


class QuoteForm(forms.Form):
    valid_until = forms.DateField(label=_("Valid until"), widget=DATE)
    notes = forms.CharField(label=_("Notes"), required=False,
                            widget=forms.Textarea(attrs={"rows": 3}))


class QuoteLineForm(forms.Form):
    product = forms.TypedChoiceField(label=_("Product"), coerce=int, required=False,
                                     empty_value=None)
    quantity = forms.DecimalField(label=_("Quantity"), max_digits=12, decimal_places=2,
                                  required=False)
    unit_price = forms.DecimalField(label=_("Unit price before tax"), max_digits=12,
                                    decimal_places=2, required=False)
    discount = forms.DecimalField(label=_("Discount (%)"), max_digits=5, decimal_places=2,
                                  required=False)
    tax_rate = forms.ChoiceField(label=_("Tax rate"), choices=TAX, initial="13%")

    def __init__(self, *args, products=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "—")] + [(p.pk, f"{p.sku} {p.name}")
                                                         for p in products]


QuoteLineFormSet = formset_factory(QuoteLineForm, extra=3, max_num=50)


class ContractForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    number = forms.CharField(label=_("Contract number"), max_length=40, required=False,
                             help_text=_("Generated when empty."))
    amount = forms.DecimalField(label=_("Amount (CNY)"), max_digits=14, decimal_places=2,
                                min_value=0, required=False)
    party_a = forms.CharField(label=_("Party A (seller)"), max_length=200, required=False)
    party_b = forms.CharField(label=_("Party B (buyer)"), max_length=200, required=False)
    start_date = forms.DateField(label=_("Start"), widget=DATE)
    end_date = forms.DateField(label=_("End"), widget=DATE)
    renewal_reminder_days = forms.IntegerField(label=_("Renewal reminder (days before end)"),
                                               min_value=0, max_value=365, initial=30)


class ContractStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=Contract.STATUSES)
    signed_date = forms.DateField(label=_("Signed on"), required=False, widget=DATE)


class InstalmentForm(forms.Form):
    due_date = forms.DateField(label=_("Due"), widget=DATE, required=False)
    amount = forms.DecimalField(label=_("Amount (CNY)"), max_digits=14, decimal_places=2,
                                required=False)


InstalmentFormSet = formset_factory(InstalmentForm, extra=4, max_num=120)


class PaymentForm(forms.Form):
    received_on = forms.DateField(label=_("Received on"), widget=DATE)
    amount = forms.DecimalField(label=_("Amount (CNY)"), max_digits=14, decimal_places=2)
    method = forms.ChoiceField(label=_("Method"), choices=Payment.METHODS)
    reference = forms.CharField(label=_("Reference"), max_length=100, required=False)


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("File"))


class InvoiceForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount (CNY)"), max_digits=14, decimal_places=2)
    kind = forms.ChoiceField(label=_("Invoice type"), choices=InvoiceRequest.KINDS)
    buyer_name = forms.CharField(label=_("Invoice title"), max_length=200, required=False)
    buyer_tax_number = forms.CharField(label=_("Taxpayer number"), max_length=20,
                                       required=False)


class InvoiceStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=InvoiceRequest.STATUSES)
    invoice_number = forms.CharField(label=_("Invoice number"), max_length=40, required=False)


class TargetForm(forms.Form):
    who = forms.ChoiceField(label=_("For"))
    period_kind = forms.ChoiceField(label=_("Period"), choices=Target.PERIODS)
    year = forms.IntegerField(label=_("Year"), min_value=2000, max_value=2100)
    period = forms.IntegerField(label=_("Month or quarter"), min_value=1, max_value=12)
    amount = forms.DecimalField(label=_("Target (CNY)"), max_digits=14, decimal_places=2,
                                min_value=0)

    def __init__(self, *args, users=(), teams=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["who"].choices = ([(f"user:{u.pk}", str(u)) for u in users]
                                      + [(f"team:{t.pk}", t.name) for t in teams])


class PipelineForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=60)
    is_default = forms.BooleanField(label=_("Default pipeline"), required=False)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class StageForm(forms.Form):
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("Stage"), max_length=40, required=False)
    probability = forms.IntegerField(label=_("Probability (%)"), min_value=0, max_value=100,
                                     required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=Deal._meta.get_field("status").choices,
                             initial="open")
    forecast_category = forms.ChoiceField(label=_("Forecast category"),
                                          choices=Deal._meta.get_field(
                                              "forecast_category").choices, initial="pipeline")
    stalled_days = forms.IntegerField(label=_("Stalled after (days)"), min_value=1,
                                      max_value=3650, initial=14, required=False)


StageFormSet = formset_factory(StageForm, extra=2, max_num=30)


class DealContactForm(forms.Form):
    person = forms.TypedChoiceField(label=_("Contact"), coerce=int, required=False,
                                    empty_value=None)
    decision_role = forms.ChoiceField(label=_("Decision role"), required=False,
                                      choices=[("", "—")] + list(
                                          DealContact._meta.get_field("decision_role").choices))

    def __init__(self, *args, people=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["person"].choices = [("", "—")] + [(p.pk, p.name) for p in people]


class DealLineForm(forms.Form):
    product = forms.TypedChoiceField(label=_("Product"), coerce=int, required=False,
                                     empty_value=None)
    quantity = forms.DecimalField(label=_("Quantity"), max_digits=12, decimal_places=2,
                                  required=False)
    unit_price = forms.DecimalField(label=_("Unit price (CNY)"), max_digits=12,
                                    decimal_places=2, required=False)

    def __init__(self, *args, products=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "—")] + [(p.pk, f"{p.sku} {p.name}")
                                                         for p in products]


DealContactFormSet = formset_factory(DealContactForm, extra=2, max_num=50)
DealLineFormSet = formset_factory(DealLineForm, extra=2, max_num=200)
