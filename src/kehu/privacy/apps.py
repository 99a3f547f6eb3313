from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "kehu.privacy"
    label = "privacy"
    verbose_name = _("Privacy")

    def ready(self) -> None:
        from kehu.core import labels
        from kehu.core.jobs import JobKind, register_job_kind
        from kehu.privacy import segment_condition
        from kehu.privacy.models import (
            CHANNELS,
            DEFAULT_PURPOSES,
            Assessment,
            ConsentRecord,
            LegalHold,
            PrivacyRequest,
            RetentionPolicy,
        )

        segment_condition.register()
        from kehu.core.events import subscribe
        from kehu.privacy.services import on_customer_changed

        subscribe("customer.field_changed", on_customer_changed, name="privacy.minors")
        _register_personal_data()
        labels.register_choices("consent.purpose", {c: label for c, label, _s in DEFAULT_PURPOSES})
        labels.register_choices("consent.channel", CHANNELS)
        labels.register_model("consent", ConsentRecord)
        labels.register_model("privacy_request", PrivacyRequest)
        labels.register_model("legal_hold", LegalHold)
        labels.register_model("retention", RetentionPolicy)
        labels.register_model("assessment", Assessment)
        labels.register_object("consent_link", _("consent link"))
        register_job_kind(JobKind(key="privacy.retention", label=_("Retention run"),
                                  permission="privacy.manage"))


def _register_personal_data() -> None:
    """How erasure treats the customer tables of the apps below (by label: strings only)."""
    from kehu.core.personal import register_personal_data

    for label in ("customers.Identifier", "customers.Address", "customers.ContactLink",
                  "customers.CustomerTag", "privacy.ConsentLink"):
        register_personal_data(label, delete_rows=True)
    register_personal_data("interactions.Interaction", erase=("summary", "outcome"))
    register_personal_data("interactions.Event", erase=("properties",))
    register_personal_data("transactions.Order", erase=("notes",))
    register_personal_data("transactions.Ticket", erase=("subject", "description", "resolution"))
    # The proof of consent and of its withdrawal outlives the person's data (the notice text
    # and who recorded it are not the person's).
    register_personal_data("privacy.ConsentRecord",
                           keep=("notice_text", "notice_version", "actor_label", "reference"))
    register_personal_data("privacy.PrivacyRequest", keep=("refusal_reason", "outcome"))
    for label in ("privacy.LegalHold", "privacy.Erasure", "privacy.ConsentState"):
        register_personal_data(label, skip=True)
