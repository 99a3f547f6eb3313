"""The webhook endpoint form: URL, what it receives (event type patterns, one per line or
picked from the catalogue), and the SSRF exception an administrator may grant."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from kehu.core.events import delivered_types


def event_type_groups() -> list[tuple[str, list[str]]]:
    """The catalogue of event types grouped by what they are about ("customer", "order" …)."""
    groups: dict[str, list[str]] = {}
    for event_type in sorted(delivered_types()):
        groups.setdefault(event_type.split(".")[0], []).append(event_type)
    return sorted(groups.items())


class WebhookForm(forms.Form):
    url = forms.URLField(label=_("Receiver URL"), max_length=500, assume_scheme="https")
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    event_types = forms.CharField(
        label=_("Event types"), widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One per line: an event type (deal.won), a group (customer.*) or * for "
                    "every event."))
    allow_private_network = forms.BooleanField(
        label=_("Allow a private network address (an on-premises system)"), required=False)

    def clean_event_types(self) -> list[str]:
        lines = [line.strip() for line in self.cleaned_data["event_types"].splitlines()]
        return [line for line in lines if line]
