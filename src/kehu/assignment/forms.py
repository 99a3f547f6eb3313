"""Forms of the assignment pages: they only collect input; the services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.assignment.models import METHODS


class RuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    team = forms.ModelChoiceField(label=_("Team"), queryset=None, required=False)
    method = forms.ChoiceField(label=_("Method"), choices=METHODS)
    fixed_user = forms.ModelChoiceField(label=_("Fixed user"), queryset=None, required=False)
    capacity = forms.IntegerField(label=_("Capacity (open items per member)"), required=False,
                                  min_value=1, max_value=100_000)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, teams, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = teams
        self.fields["fixed_user"].queryset = users


class TransferForm(forms.Form):
    from_user = forms.ModelChoiceField(label=_("Hand over from"), queryset=None)
    to_user = forms.ModelChoiceField(label=_("Hand over to"), queryset=None)
    filters = forms.CharField(label=_("Only customers matching (customers list filters)"),
                              required=False, max_length=2000,
                              help_text=_("Copy the part after “?” from the customers list, "
                                          "e.g. region=华东&lifecycle=lead; empty: all."))

    def __init__(self, *args, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_user"].queryset = users
        self.fields["to_user"].queryset = users


class LeaveForm(forms.Form):
    leave_from = forms.DateField(label=_("On leave from"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))
    leave_until = forms.DateField(label=_("On leave until"), required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}))
