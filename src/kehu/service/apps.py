from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "kehu.service"
    label = "service"
    verbose_name = _("Service desk")

    def ready(self):
        from kehu.core import labels
        from kehu.service.models import BusinessCalendar, CalendarDay

        labels.register_model("calendar", BusinessCalendar,
                              fields={"date": _("date"), "kind": _("type")},
                              values={"kind": "calendar_day.kind"})
        labels.register_choices("calendar_day.kind", CalendarDay.KINDS)
