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
    assignee = forms.TypedChoiceField(label=_("Assignee"), required=False, coerce=int,
                                      empty_value=None,
                                      widget=forms.Select(attrs={"data-autosubmit": ""}))
    q = forms.CharField(label=_("Search"), required=False, max_length=100,
                        widget=forms.TextInput(attrs={"type": "search",
                                                      "placeholder": _("Task or customer")}))

    def __init__(self, *args, assignees=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [("", _("Anyone"))] + [
            (user.pk, str(user)) for user in assignees]


class SnoozeForm(forms.Form):
    """+1 day, +3 days, +1 week, or a day."""

    days = forms.TypedChoiceField(required=False, coerce=int, empty_value=None,
                                  choices=[(1, "+1"), (3, "+3"), (7, "+7")])
    until = forms.DateField(label=_("Snooze until"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if (data.get("days") is None) == (data.get("until") is None):
            raise forms.ValidationError(_("Choose a day or a number of days."))
        return data


class ReassignForm(forms.Form):
    assignee = forms.TypedChoiceField(label=_("Assign to"), coerce=int)

    def __init__(self, *args, assignees=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].choices = [(user.pk, str(user)) for user in assignees]
