"""The pipeline's tests read messages in English (services translate to the active language)."""

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield
