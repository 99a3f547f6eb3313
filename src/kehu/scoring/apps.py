from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoringConfig(AppConfig):
    name = "kehu.scoring"
    label = "scoring"
    verbose_name = _("Customer value")

    def ready(self):
        from django.urls import reverse

        from kehu.core import labels
        from kehu.core.jobs import JobKind, register_job_kind
        from kehu.scoring.models import ScoringRun, ScoringSettings

        register_job_kind(JobKind(key="scoring_run", label=_("RFM scoring"), permission="scoring.view",
                                  detail_url=lambda job: reverse("scoring:rfm")))
        labels.register_object("scoring", self.verbose_name)
        labels.register_model("scoring_run", ScoringRun, fields={
            "customers": _("Customers"), "rows_changed": _("Rows changed"),
            "lifecycle_changes": _("Lifecycle changes")})
        labels.register_model("scoring_settings", ScoringSettings)

        from kehu.scoring.models import CustomerValue
        from kehu.service.tiers import register_tier_source

        def value_tiers(customer_ids):
            return dict(CustomerValue.objects.filter(customer_id__in=customer_ids)
                        .values_list("customer_id", "value_tier"))

        register_tier_source(value_tiers)
