from django import forms

from kehu.insights.models import ChurnSettings


class ChurnSettingsForm(forms.ModelForm):
    class Meta:
        model = ChurnSettings
        fields = ["window_days", "model_kind", "min_labelled", "min_each_class",
                  "medium_threshold", "high_threshold"]
