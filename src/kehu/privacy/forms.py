"""Forms of the privacy pages (input shape only; the services validate the rules)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.privacy.models import CHANNELS, Assessment, PrivacyRequest, RetentionPolicy


def purpose_choices() -> list[tuple[str, str]]:
    from kehu.privacy.consent import purpose_codes, purpose_label

    return [(code, purpose_label(code)) for code in purpose_codes()]


class ConsentForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=())
    channel = forms.ChoiceField(label=_("Channel"), choices=CHANNELS, initial="any")
    status = forms.ChoiceField(label=_("Consent"), choices=[
        ("granted", _("Grant")), ("withdrawn", _("Withdraw"))])
    source = forms.ChoiceField(label=_("Source"), choices=[
        ("verbal", _("Verbal, on a call")), ("form", _("Form")), ("card", _("Customer card"))],
        initial="verbal")
    notice_text = forms.CharField(label=_("Notice shown"), required=False, max_length=10000,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    notice_version = forms.CharField(label=_("Notice version"), required=False, max_length=40)
    expires_at = forms.DateTimeField(label=_("Expires"), required=False,
                                     widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    guardian_consent = forms.BooleanField(label=_("Given by a parent or guardian"),
                                          required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purpose"].choices = purpose_choices()


class BulkConsentForm(ConsentForm):
    segment = forms.TypedChoiceField(label=_("Customers of segment"), coerce=int, choices=())

    def __init__(self, *args, segments=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].choices = [(s.pk, s.name) for s in segments]
        self.fields["source"].initial = "form"


class CheckForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=())
    channel = forms.ChoiceField(label=_("Channel"), choices=CHANNELS, initial="sms")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purpose"].choices = purpose_choices()


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300)


class RequestForm(forms.Form):
    kind = forms.ChoiceField(label=_("Request"), choices=PrivacyRequest.KINDS)
    requester_name = forms.CharField(label=_("Requester"), required=False, max_length=100)
    requester_contact = forms.CharField(label=_("Phone or email"), required=False,
                                        max_length=200)
    details = forms.CharField(label=_("Details"), required=False, max_length=5000,
                              widget=forms.Textarea(attrs={"rows": 3}))


class VerifyForm(forms.Form):
    verification = forms.CharField(label=_("How the identity was checked"), max_length=200)
    customer_id = forms.IntegerField(label=_("Customer number"), required=False, min_value=1)


class OutcomeForm(forms.Form):
    outcome = forms.CharField(label=_("What was done"), max_length=5000,
                              widget=forms.Textarea(attrs={"rows": 2}))


class RefuseForm(forms.Form):
    refusal_reason = forms.CharField(label=_("Reason for refusal"), max_length=5000,
                                     widget=forms.Textarea(attrs={"rows": 2}))


class PolicyForm(forms.Form):
    data_class = forms.ChoiceField(choices=RetentionPolicy.DATA_CLASSES, widget=forms.HiddenInput)
    days = forms.IntegerField(label=_("Keep for (days)"), min_value=1, max_value=36500)
    is_active = forms.BooleanField(label=_("Active"), required=False)


class AssessmentForm(forms.Form):
    key = forms.SlugField(label=_("Key (same key: a new version)"), required=False, max_length=60)
    kind = forms.ChoiceField(label=_("Kind"), choices=Assessment.KINDS)
    title = forms.CharField(label=_("Title"), max_length=200)
    purpose = forms.ChoiceField(label=_("Purpose"), choices=(), required=False)
    risk = forms.ChoiceField(label=_("Risk"), choices=[("low", _("Low")), ("medium", _("Medium")),
                                                       ("high", _("High"))])
    body = forms.CharField(label=_("Content"), widget=forms.Textarea(attrs={"rows": 6}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["purpose"].choices = [("", "—"), *purpose_choices()]


class PublicRequestForm(RequestForm):
    requester_name = forms.CharField(label=_("Your name"), max_length=100)
    requester_contact = forms.CharField(label=_("Your phone or email"), max_length=200)


class PurposeForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=40)
    name = forms.CharField(label=_("Name"), max_length=80)
    description = forms.CharField(label=_("Description"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    separate = forms.BooleanField(label=_("Separate consent required"), required=False)
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
