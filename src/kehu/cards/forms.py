"""Small forms for editing the rows of the card's identity block in place."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.customers.models import Address, ContactLink, Identifier

EDITABLE_IDENTIFIER_KINDS = [(k, label) for k, label in Identifier.KINDS
                             if k != Identifier.ID_NUMBER]  # ID numbers: the identity form


class IdentifierForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=EDITABLE_IDENTIFIER_KINDS)
    value = forms.CharField(label=_("Value"), max_length=254)
    system = forms.CharField(label=_("Source system"), max_length=40, required=False,
                             help_text=_("For external ids: the system that issued it."))


class AddressForm(forms.Form):
    raw = forms.CharField(label=_("Address"), max_length=300,
                          help_text=_("Written as usual, e.g. 浙江省杭州市西湖区文三路90号"))
    label = forms.ChoiceField(label=_("Label"), choices=Address.LABELS)


class ContactForm(forms.Form):
    person = forms.CharField(label=_("Person"), max_length=100,
                             help_text=_("Name, phone or last four digits of a person customer"))
    job_title = forms.CharField(label=_("Job title"), max_length=100, required=False)
    decision_role = forms.ChoiceField(label=_("Decision role"), required=False,
                                      choices=[("", "—"), *ContactLink.DECISION_ROLES])
    is_primary = forms.BooleanField(label=_("Primary contact"), required=False)
