from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ScoringConfig(AppConfig):
    name = "kehu.scoring"
    label = "scoring"
    verbose_name = _("Customer value")

