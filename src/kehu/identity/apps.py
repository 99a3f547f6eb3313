from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "kehu.identity"
    label = "identity"
    verbose_name = _("Identity resolution")

    def ready(self):
        from django.urls import reverse

        from kehu.core import labels
        from kehu.core.jobs import JobKind, register_job_kind
        from kehu.identity.models import DedupScan, DuplicateCandidate
        from kehu.identity.scan import dedup_scan_interrupted

        register_job_kind(JobKind(key="dedup_scan", label=_("Duplicate scan"), permission="customer.merge",
                                  detail_url=lambda job: reverse("identity:queue"),
                                  interrupted=dedup_scan_interrupted))
        labels.register_model("duplicate", DuplicateCandidate)
        labels.register_model("dedup_scan", DedupScan)
