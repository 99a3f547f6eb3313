"""Forms of the data-quality pages: a field rule and the scoring settings."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core.models import FieldRule
from kehu.quality.scoring import COMPONENTS


class FieldRuleForm(forms.Form):
    field = forms.ChoiceField(label=_("Field"))
    rule = forms.ChoiceField(label=_("Rule"), choices=FieldRule.CHECKS)
    applies_to = forms.ChoiceField(label=_("Applies to"), choices=FieldRule.APPLIES)
    pattern = forms.CharField(label=_("Pattern (regular expression)"), required=False,
                              max_length=300)
    min_value = forms.CharField(label=_("Minimum"), required=False, max_length=40)
    max_value = forms.CharField(label=_("Maximum"), required=False, max_length=40)
    allowed_values = forms.CharField(label=_("Allowed values (comma-separated)"),
                                     required=False, max_length=2000)
    message = forms.CharField(label=_("Error message (optional)"), required=False,
                              max_length=200)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, fields: dict[str, str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = sorted(fields.items(), key=lambda item: item[0])

    def values(self) -> dict:
        data = dict(self.cleaned_data)
        data["allowed_values"] = [v.strip() for v in data["allowed_values"].replace("，", ",")
                                  .split(",") if v.strip()]
        return data

    @staticmethod
    def initial_for(rule: FieldRule) -> dict:
        return {"field": rule.field, "rule": rule.rule, "applies_to": rule.applies_to,
                "pattern": rule.pattern, "min_value": rule.min_value,
                "max_value": rule.max_value, "allowed_values": ", ".join(rule.allowed_values),
                "message": rule.message, "is_active": rule.is_active}


def _weights_text(weights: dict[str, int]) -> str:
    return "\n".join(f"{name}={weight}" for name, weight in weights.items())


class QualitySettingsForm(forms.Form):
    completeness_person = forms.CharField(label=_("Completeness weights, persons"),
                                          widget=forms.Textarea(attrs={"rows": 6}),
                                          help_text=_("One field=weight per line."))
    completeness_organisation = forms.CharField(
        label=_("Completeness weights, organisations"),
        widget=forms.Textarea(attrs={"rows": 6}), help_text=_("One field=weight per line."))
    weight_completeness = forms.IntegerField(label=_("Weight of completeness"), min_value=0)
    weight_validity = forms.IntegerField(label=_("Weight of validity"), min_value=0)
    weight_freshness = forms.IntegerField(label=_("Weight of freshness"), min_value=0)
    weight_duplicates = forms.IntegerField(label=_("Weight of duplicate suspicion"), min_value=0)
    fresh_days = forms.IntegerField(label=_("Fresh for (days)"), min_value=1)
    expired_days = forms.IntegerField(label=_("Freshness 0 after (days)"), min_value=1)
    stale_days = forms.IntegerField(label=_("Remind owners after (days) without contact"),
                                    min_value=1)

    @classmethod
    def initial_for(cls, config) -> dict:
        data = {f"weight_{name}": config.component_weights.get(name, 0) for name in COMPONENTS}
        data.update(
            completeness_person=_weights_text(config.completeness_weights.get("person", {})),
            completeness_organisation=_weights_text(
                config.completeness_weights.get("organisation", {})),
            fresh_days=config.fresh_days, expired_days=config.expired_days,
            stale_days=config.stale_days)
        return data

    def _weights(self, name: str) -> dict[str, int]:
        weights = {}
        for number, line in enumerate(self.cleaned_data[name].splitlines(), start=1):
            line = line.strip()
            if not line:
                continue
            key, sep, value = line.partition("=")
            if not sep or not value.strip().isdigit():
                raise forms.ValidationError(
                    _("Line %(n)d: write field=weight, e.g. mobile=3.") % {"n": number})
            weights[key.strip()] = int(value.strip())
        return weights

    def clean_completeness_person(self):
        return self._weights("completeness_person")

    def clean_completeness_organisation(self):
        return self._weights("completeness_organisation")

    def values(self) -> dict:
        data = self.cleaned_data
        return {
            "completeness_weights": {"person": data["completeness_person"],
                                     "organisation": data["completeness_organisation"]},
            "component_weights": {name: data[f"weight_{name}"] for name in COMPONENTS},
            "fresh_days": data["fresh_days"], "expired_days": data["expired_days"],
            "stale_days": data["stale_days"],
        }
