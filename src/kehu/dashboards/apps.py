from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DashboardsConfig(AppConfig):
    name = "kehu.dashboards"
    label = "dashboards"
    verbose_name = _("Dashboards")

    def ready(self):
        from kehu.core import labels
        from kehu.core.events import subscribe
        from kehu.dashboards import summaries
        from kehu.dashboards.list_filters import register_list_filters

        labels.register_object("dashboards", self.verbose_name)
        # The daily summaries follow the domain events (dashboards/summaries.py).
        subscribe(summaries.PATTERNS, summaries.on_event, name=summaries.SUBSCRIBER)
        register_list_filters()
        # Each board module registers itself on import (boards.register_board).
        from kehu.dashboards import board_modules  # noqa: F401
