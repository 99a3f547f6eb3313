from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "kehu.segments"
    label = "segments"
    verbose_name = _("Segments")

    def ready(self):
        from kehu.core import labels
        from kehu.segments.models import Segment

        labels.register_model("segment", Segment)
