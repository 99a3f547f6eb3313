from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "kehu.identity"
    label = "identity"
    verbose_name = _("Identity resolution")

    def ready(self):
        from kehu.core import labels
        from kehu.core.jobs import RunningJobs, register_running_jobs
        from kehu.identity.models import DedupScan, DuplicateCandidate
        from kehu.identity.scan import dedup_scan_interrupted

        register_running_jobs(RunningJobs(
            name="dedup_scan", running=lambda: DedupScan.objects.filter(status=DedupScan.RUNNING),
            interrupted=dedup_scan_interrupted))
        labels.register_model("duplicate", DuplicateCandidate)
        labels.register_model("dedup_scan", DedupScan)
