from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardsConfig(AppConfig):
    name = "kehu.dashboards"
    label = "dashboards"
    verbose_name = _("Dashboards")

    def ready(self):
        from kehu.core import labels

        labels.register_object("dashboards", self.verbose_name)
        from kehu.dashboards.list_filters import register_list_filters

        register_list_filters()
        # Each board module registers itself on import (boards.register_board).
        from kehu.dashboards import board_modules  # noqa: F401
