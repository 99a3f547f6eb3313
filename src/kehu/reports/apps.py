from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "kehu.reports"
    label = "reports"
    verbose_name = _("Reports")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from kehu.core import labels

        labels.register_object("reports", self.verbose_name)
        from kehu.reports.list_filters import register_list_filter

        register_list_filter()
