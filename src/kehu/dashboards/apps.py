from django.apps import AppConfig
from django.db.models.signals import post_migrate
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
        # An installation upgraded to summaries has customers but no summary yet: the worker
        # builds them once after `kehu migrate` (`kehu dashboards rebuild-summaries` does it
        # in the foreground).
        post_migrate.connect(_summaries_backfill, sender=self)
        # Each board module registers itself on import (boards.register_board).
        from kehu.dashboards import board_modules  # noqa: F401


def _summaries_backfill(sender, using="default", **kwargs):
    from kehu.customers.models import Customer
    from kehu.dashboards.models import SummaryLedger
    from kehu.dashboards.tasks import summaries_rebuild_task

    if not SummaryLedger.objects.using(using).exists() and Customer.objects.using(using).exists():
        summaries_rebuild_task()
