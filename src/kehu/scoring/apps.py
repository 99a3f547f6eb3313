from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoringConfig(AppConfig):
    name = "kehu.scoring"
    label = "scoring"
    verbose_name = _("Customer value")

    def ready(self):
        from django.urls import reverse

        from kehu.core.jobs import JobKind, register_job_kind

        register_job_kind(JobKind(key="scoring_run", label=_("RFM scoring"), permission="scoring.view",
                                  detail_url=lambda job: reverse("scoring:rfm")))

