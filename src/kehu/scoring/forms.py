"""Forms of the value pages: a lifecycle stage by hand, and the scoring settings."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.customers.models import Customer
from kehu.scoring.models import ScoringSettings


class LifecycleForm(forms.Form):
    stage = forms.ChoiceField(label=_("Lifecycle stage"), choices=Customer.LIFECYCLE_STAGES)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class ScoringSettingsForm(forms.ModelForm):
    class Meta:
        model = ScoringSettings
        fields = ["window_days", "high_min_score", "high_spend_threshold", "potential_min_r",
                  "potential_max_fm", "dormant_days", "lifecycle_rules_enabled",
                  "loyal_min_orders", "churn_days"]
