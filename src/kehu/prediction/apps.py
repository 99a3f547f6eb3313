from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PredictionConfig(AppConfig):
    name = "kehu.prediction"
    label = "prediction"
    verbose_name = _("Prediction")

    def ready(self):
        from django.urls import reverse

        from kehu.core import labels
        from kehu.core.jobs import JobKind, register_job_kind
        from kehu.core.score_commands import register_score_command
        from kehu.prediction.commands import clv_score_command
        from kehu.prediction.list_filters import register_list_extensions
        from kehu.prediction.models import CustomerPrediction, ModelFit

        register_job_kind(JobKind(key="prediction_fit", label=_("Customer-base model fit"),
                                  permission="scoring.view",
                                  detail_url=lambda job: reverse("prediction:validation")))
        labels.register_model("prediction_fit", ModelFit, fields={
            "customers_scored": _("Customers scored"), "rows_changed": _("Rows changed")})
        labels.register_model("customer_prediction", CustomerPrediction)
        labels.register_choices("audit.action", {"prediction.score": _("Score customer value "
                                                                       "predictions")})
        register_score_command(clv_score_command)
        register_list_extensions()
