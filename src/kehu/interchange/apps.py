from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InterchangeConfig(AppConfig):
    name = "kehu.interchange"
    label = "interchange"
    verbose_name = _("Import and export")

    def ready(self):
        from kehu.core.jobs import RunningJobs, register_running_jobs
        from kehu.interchange.models import ImportJob
        from kehu.interchange.services import import_job_interrupted

        register_running_jobs(RunningJobs(
            name="import", running=lambda: ImportJob.objects.filter(status=ImportJob.RUNNING),
            interrupted=import_job_interrupted))
