from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationConfig(AppConfig):
    name = "kehu.integration"
    label = "integration"
    verbose_name = _("Integration")

    def ready(self):
        from kehu.core import labels
        from kehu.core.events import subscribe
        from kehu.integration.models import Stitch, Visitor, WebhookDelivery, WebhookEndpoint
        from kehu.integration.services import webhook_deliveries_enqueue

        labels.register_model("webhook", WebhookEndpoint)
        labels.register_model("webhook_delivery", WebhookDelivery)
        labels.register_model("visitor", Visitor)
        labels.register_choices("stitch.reason", Stitch.REASONS)
        # Every event; each endpoint's filter picks its own (services.endpoint_wants).
        subscribe("*", webhook_deliveries_enqueue, name="integration.webhooks")
