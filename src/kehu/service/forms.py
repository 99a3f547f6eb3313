"""Forms of the service desk pages. They check shape only; services own the rules."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.customers.value_labels import VALUE_TIERS
from kehu.service.models import CalendarDay, Complaint
from kehu.transactions.models import Ticket, TicketMessage

ANY = _("Any")
STARS = [(5, _("5 · Very satisfied")), (4, _("4 · Satisfied")), (3, _("3 · Neutral")),
         (2, _("2 · Dissatisfied")), (1, _("1 · Very dissatisfied"))]
WEEKDAYS = [(0, _("Monday")), (1, _("Tuesday")), (2, _("Wednesday")), (3, _("Thursday")),
            (4, _("Friday")), (5, _("Saturday")), (6, _("Sunday"))]
TIME = {"type": "time"}


def _blank(choices, label=ANY):
    return [("", label), *choices]


class QueueFilterForm(forms.Form):
    q = forms.CharField(label=_("Number, subject or customer"), required=False)
    priority = forms.ChoiceField(label=_("Priority"), choices=_blank(Ticket.PRIORITIES),
                                 required=False)
    kind = forms.ChoiceField(label=_("Type"), choices=_blank(Ticket.KINDS), required=False)


class TicketWorkForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    status = forms.ChoiceField(label=_("Status"))
    priority = forms.ChoiceField(label=_("Priority"), choices=Ticket.PRIORITIES)
    assignee = forms.ModelChoiceField(label=_("Assignee"), queryset=None, required=False)
    resolution = forms.CharField(label=_("Resolution"), required=False,
                                 widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, users, allowed, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = users
        labels = dict(Ticket.STATUSES)
        self.fields["status"].choices = [(code, labels[code]) for code in allowed]


class MessageForm(forms.Form):
    kind = forms.ChoiceField(label=_("Type"), choices=TicketMessage.KINDS, initial="reply",
                             widget=forms.RadioSelect)
    channel = forms.ChoiceField(label=_("Channel"), choices=_blank(TicketMessage.CHANNELS, "—"),
                                required=False)
    body = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 3}))


class ComplaintForm(forms.Form):
    category = forms.ChoiceField(label=_("Category"), choices=Complaint.CATEGORIES)
    severity = forms.ChoiceField(label=_("Severity"), choices=Complaint.SEVERITIES,
                                 initial="medium")
    root_cause = forms.CharField(label=_("Root cause"), required=False,
                                 widget=forms.Textarea(attrs={"rows": 2}))
    corrective_action = forms.CharField(label=_("Corrective action"), required=False,
                                        widget=forms.Textarea(attrs={"rows": 2}))


class ComplaintOpenForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=200)
    category = forms.ChoiceField(label=_("Category"), choices=Complaint.CATEGORIES)
    severity = forms.ChoiceField(label=_("Severity"), choices=Complaint.SEVERITIES,
                                 initial="medium")
    priority = forms.ChoiceField(label=_("Priority"), choices=Ticket.PRIORITIES,
                                 initial="normal")
    description = forms.CharField(label=_("Description"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 4}))


class SurveySendForm(forms.Form):
    channel = forms.ChoiceField(label=_("Send by"), choices=[
        ("email", _("Email")), ("sms", _("SMS")), ("link", _("Link I share myself"))])


class PhoneRatingForm(forms.Form):
    rating = forms.TypedChoiceField(label=_("Satisfaction"), coerce=int, choices=STARS)
    nps = forms.TypedChoiceField(label=_("Would recommend (0–10)"), coerce=int,
                                 empty_value=None, required=False,
                                 choices=[("", "—")] + [(n, str(n)) for n in range(11)])
    comment = forms.CharField(label=_("What the customer said"), required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))


class MergeForm(forms.Form):
    into = forms.ModelChoiceField(label=_("Merge this ticket into"), queryset=None)

    def __init__(self, *args, candidates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["into"].queryset = candidates


class EscalateForm(forms.Form):
    reason = forms.CharField(label=_("Why"), max_length=500)


class PublicSurveyForm(forms.Form):
    rating = forms.TypedChoiceField(label=_("How satisfied are you?"), coerce=int,
                                    choices=[(n, str(n)) for n in range(1, 6)],
                                    widget=forms.RadioSelect)
    nps = forms.TypedChoiceField(
        label=_("How likely are you to recommend us to a friend? (optional)"), coerce=int,
        empty_value=None, required=False, choices=[(n, str(n)) for n in range(11)],
        widget=forms.RadioSelect)
    comment = forms.CharField(label=_("Anything to tell us? (optional)"), required=False,
                              max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))


class PolicyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    priority = forms.ChoiceField(label=_("Priority"), choices=_blank(Ticket.PRIORITIES),
                                 required=False)
    kind = forms.ChoiceField(label=_("Ticket type"), choices=_blank(Ticket.KINDS),
                             required=False)
    customer_tier = forms.ChoiceField(label=_("Customer value tier"),
                                      choices=_blank(VALUE_TIERS), required=False)
    calendar = forms.ModelChoiceField(label=_("Business calendar"), queryset=None,
                                      required=False, empty_label=_("Default calendar"))
    first_response_hours = forms.DecimalField(label=_("First response within (business hours)"),
                                              max_digits=7, decimal_places=2, required=False,
                                              min_value=0)
    next_response_hours = forms.DecimalField(label=_("Next response within (business hours)"),
                                             max_digits=7, decimal_places=2, required=False,
                                             min_value=0)
    resolution_hours = forms.DecimalField(label=_("Resolution within (business hours)"),
                                          max_digits=7, decimal_places=2, required=False,
                                          min_value=0)
    pause_statuses = forms.MultipleChoiceField(
        label=_("Clocks pause in"), required=False, widget=forms.CheckboxSelectMultiple,
        choices=[(c, label) for c, label in Ticket.STATUSES
                 if c in ("in_progress", "waiting_customer")])
    warn_percent = forms.IntegerField(label=_("Warn at (% of target)"), min_value=1,
                                      max_value=99, initial=80)
    position = forms.IntegerField(label=_("Order"), min_value=0, initial=100)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args, calendars, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["calendar"].queryset = calendars


class CalendarForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=80)
    time_zone = forms.CharField(label=_("Time zone"), max_length=40, initial="Asia/Shanghai")
    workdays = forms.TypedMultipleChoiceField(label=_("Working weekdays"), coerce=int,
                                              choices=WEEKDAYS,
                                              widget=forms.CheckboxSelectMultiple)
    day_start = forms.TimeField(label=_("Work starts"), widget=forms.TimeInput(TIME))
    lunch_start = forms.TimeField(label=_("Lunch break starts"), required=False,
                                  widget=forms.TimeInput(TIME))
    lunch_end = forms.TimeField(label=_("Lunch break ends"), required=False,
                                widget=forms.TimeInput(TIME))
    day_end = forms.TimeField(label=_("Work ends"), widget=forms.TimeInput(TIME))
    is_default = forms.BooleanField(label=_("Default calendar"), required=False)


class CalendarDayForm(forms.Form):
    date = forms.DateField(label=_("Date"), widget=forms.DateInput({"type": "date"}))
    kind = forms.ChoiceField(label=_("Type"), choices=CalendarDay.KINDS)
    name = forms.CharField(label=_("Name"), max_length=80, required=False)


class LoadYearForm(forms.Form):
    year = forms.TypedChoiceField(label=_("Year"), coerce=int, choices=[])

    def __init__(self, *args, years, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["year"].choices = [(y, str(y)) for y in years]
