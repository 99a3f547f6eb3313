from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "kehu.segments"
    label = "segments"
    verbose_name = _("Segments")

    def ready(self):
        from django.urls import reverse

        from kehu.core import labels
        from kehu.core.jobs import JobKind, register_job_kind
        from kehu.segments.models import Segment

        labels.register_model("segment", Segment)

        def segment_page(job):
            segment_id = (job.result or {}).get("segment_id")
            return (reverse("segments:detail", args=[segment_id]) if segment_id
                    else reverse("segments:list"))

        register_job_kind(JobKind(key="segment_refresh", label=_("Segment refresh"),
                                  permission="segment.view", detail_url=segment_page,
                                  keep_days=7))
