from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "kehu.core"
    label = "core"
    verbose_name = _("Core")

    def ready(self):
        from kehu.core import labels
        from kehu.core.logs import connect_task_context
        from kehu.core.models import AuditEntry, FieldRule

        connect_task_context()
        labels.register_model("fieldrule", FieldRule)
        labels.register_model("audit", AuditEntry)
