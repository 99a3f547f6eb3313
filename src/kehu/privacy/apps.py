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
