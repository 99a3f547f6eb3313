"""ASGI entry point: what `kehu serve` runs by default (gunicorn's asyncio worker)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kehu.settings")
os.environ["KEHU_ASGI"] = "1"  # settings: no per-thread persistent connections

from django.core.asgi import get_asgi_application  # noqa: E402

application = get_asgi_application()
