"""Forms for the behaviour pages. They check shape only; the services own the rules."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.interactions.models import Interaction


class InteractionLogForm(forms.Form):
    """The card's quick "log an interaction" form."""

    kind = forms.ChoiceField(label=_("Type"), choices=Interaction.KINDS, initial="call")
    direction = forms.ChoiceField(label=_("Direction"), choices=Interaction.DIRECTIONS,
                                  initial="outbound")
    summary = forms.CharField(label=_("What happened"), max_length=10000,
                              widget=forms.Textarea(attrs={"rows": 3}))
    outcome = forms.CharField(label=_("Outcome"), max_length=200, required=False)
    occurred_at = forms.DateTimeField(
        label=_("When"), required=False, help_text=_("Leave empty for now."),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
    )
    next_follow_up = forms.DateField(label=_("Next follow-up"), required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, prefix_id: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        if prefix_id:
            self.auto_id = f"id_{prefix_id}_%s"


class RescheduleForm(forms.Form):
    due_date = forms.DateField(label=_("New due date"),
                               widget=forms.DateInput(attrs={"type": "date"}))


class FollowUpFilterForm(forms.Form):
    SCOPES = [("mine", _("Assigned to me")), ("all", _("All I can see"))]

    show = forms.ChoiceField(label=_("Show"), choices=SCOPES, required=False, initial="mine",
                             widget=forms.Select(attrs={"data-autosubmit": ""}))
