from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InterchangeConfig(AppConfig):
    name = "kehu.interchange"
    label = "interchange"
    verbose_name = _("Import and export")

    def ready(self):
        from django.urls import reverse

        from kehu.core.jobs import JobKind, register_job_kind
        from kehu.interchange.models import ImportJob
        from kehu.interchange.services import import_job_interrupted

        def detail_url(job):
            import_job = ImportJob.objects.filter(job=job).only("pk").first()
            return reverse("interchange:import_job", args=[import_job.pk]) if import_job else None

        register_job_kind(JobKind(key="import", label=_("Import"), permission="customer.import",
                                  detail_url=detail_url, interrupted=import_job_interrupted))
        register_job_kind(JobKind(key="export", label=_("Export"), permission="customer.export",
                                  keep_days=30))

        from kehu.core.personal import register_erasure_hook, register_retention_handler
        from kehu.interchange.erasure import imports_erase, reports_expire, uploads_expire

        register_erasure_hook("imports", imports_erase)
        register_retention_handler("import_uploads", uploads_expire)
        register_retention_handler("import_reports", reports_expire)
