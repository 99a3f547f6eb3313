from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoringConfig(AppConfig):
    name = "kehu.scoring"
    label = "scoring"
    verbose_name = _("Customer value")

    def ready(self):
        from kehu.core import labels
        from kehu.scoring.models import ScoringRun, ScoringSettings

        labels.register_object("scoring", self.verbose_name)
        labels.register_model("scoring_run", ScoringRun, fields={
            "customers": _("Customers"), "rows_changed": _("Rows changed"),
            "lifecycle_changes": _("Lifecycle changes")})
        labels.register_model("scoring_settings", ScoringSettings)
