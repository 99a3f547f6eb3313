from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "kehu.insights"
    label = "insights"
    verbose_name = _("Insights")

    def ready(self):
        from django.urls import reverse

        from kehu.core import labels
        from kehu.core.jobs import JobKind, register_job_kind
        from kehu.insights import signals  # noqa: F401 - registers the built-in signal kinds
        from kehu.insights.list_extensions import register_list_extensions
        from kehu.insights.models import (
            CHURN_LEVELS,
            ChurnModelFit,
            ChurnSettings,
            CustomerChurn,
            ProductAssociation,
            SignalRule,
        )

        def churn_page(job):
            return reverse("insights:churn")

        # A fit keeps its own row (ChurnModelFit); the others are frequent and kept 30 days.
        for key, label, keep in (("churn_fit", _("Churn model fit"), None),
                                 ("churn_score", _("Churn scoring"), 30),
                                 ("signals_detect", _("Purchase signals"), 30),
                                 ("recommendations_build", _("Product recommendations"), 30)):
            register_job_kind(JobKind(key=key, label=label, permission="scoring.view",
                                      detail_url=churn_page, keep_days=keep))
        register_list_extensions()
        signals.register_contract_signal()
        labels.register_object("insights", self.verbose_name)
        labels.register_choices("churn.level", CHURN_LEVELS)
        labels.register_object("churn", _("churn model"))
        labels.register_object("signals", _("purchase signals"))
        labels.register_object("recommendations", _("product recommendations"))
        labels.register_model("customer_churn", CustomerChurn)
        labels.register_model("churn_model_fit", ChurnModelFit, fields={
            "enough_data": _("enough data"), "labelled": _("labelled customers"),
            "auc": _("AUC")})
        labels.register_model("churn_settings", ChurnSettings)
        labels.register_model("signal_rule", SignalRule, fields={
            "customers": _("Customers"), "new_signals": _("New signals"),
            "cleared": _("Cleared")})
        labels.register_model("product_association", ProductAssociation, fields={
            "associations": _("Associations"), "products": _("Products"),
            "customers": _("Customers")})
