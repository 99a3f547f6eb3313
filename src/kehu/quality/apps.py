from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QualityConfig(AppConfig):
    name = "kehu.quality"
    label = "quality"
    verbose_name = _("Data quality")

    def ready(self):
        from kehu.core import labels
        from kehu.quality.list_filters import register_list_extensions
        from kehu.quality.models import QualitySettings, QualitySnapshot

        register_list_extensions()

        labels.register_object("quality", self.verbose_name, fields={
            "customers": _("Customers"), "removed": _("Removed"),
            "only_dirty": _("Only customers changed since")})
        labels.register_model("qualitysettings", QualitySettings)
        labels.register_model("qualitysnapshot", QualitySnapshot)
