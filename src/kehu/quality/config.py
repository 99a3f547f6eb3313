"""The effective quality configuration, read once per job or page."""

from __future__ import annotations

from kehu.quality.models import QualitySettings
from kehu.quality.scoring import Config, config_from


def load_config() -> Config:
    return config_from(QualitySettings.objects.filter(pk=1).first())
