from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PipelineConfig(AppConfig):
    name = "kehu.pipeline"
    label = "pipeline"
    verbose_name = _("Pipeline")

    def ready(self):
        from django.db.models import Count

        from kehu.core import labels
        from kehu.core.workload import register_open_items
        from kehu.pipeline import models as m

        def open_deals(user_ids: list[int]) -> dict[int, int]:
            return dict(m.Deal.objects.filter(owner_id__in=user_ids, status=m.OPEN)
                        .values("owner_id").annotate(n=Count("id")).values_list("owner_id", "n"))

        # Lead assignment's "least open items" counts a member's open deals too.
        register_open_items("deals", _("Open deals"), open_deals)
        labels.register_model("pipeline", m.Pipeline)
        labels.register_model("stage", m.Stage)
        labels.register_model("deal", m.Deal)
        labels.register_model("quote", m.Quote)
        labels.register_model("contract", m.Contract)
        labels.register_model("payment", m.Payment)
        labels.register_model("invoice_request", m.InvoiceRequest)
        labels.register_model("target", m.Target)
        labels.register_object("forecast", _("forecast"))
        labels.register_choices("deal.forecast_category", m.FORECAST_CATEGORIES)
        labels.register_choices("deal.status", m.STAGE_KINDS)
        labels.register_choices("deal_contact.decision_role",
                                m.DealContact._meta.get_field("decision_role").choices)
