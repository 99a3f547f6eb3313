from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "kehu.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self):
        from kehu.core import labels
        from kehu.notifications.models import Notification, OutboundMessage

        labels.register_model("notification", Notification)
        labels.register_model("outbound_message", OutboundMessage)
        labels.register_choices("audit.action", {
            "notification.send": _("Send notification"),
            "outbound_message.retry": _("Send a failed message again"),
            "outbound_message.redact": _("Erase a customer's sent messages"),
        })
