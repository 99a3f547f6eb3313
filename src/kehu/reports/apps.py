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
        labels.register_object("report", _("Report"), fields={
            "name": _("Name"), "spec": _("Definition"), "format": _("Format"),
            "rows": _("Rows")})
        labels.register_object("report_dashboard", _("Report dashboard"), fields={
            "name": _("Name"), "shared": _("Shared with everyone")})
        from kehu.reports.list_filters import register_list_filter

        register_list_filter()
