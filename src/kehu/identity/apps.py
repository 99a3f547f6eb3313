from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "kehu.identity"
    label = "identity"
    verbose_name = _("Identity resolution")

    def ready(self):
        from kehu.core import labels
        from kehu.identity.models import DedupScan, DuplicateCandidate

        labels.register_model("duplicate", DuplicateCandidate)
        labels.register_model("dedup_scan", DedupScan)
