"""SMS providers: KEHU_SMS_PROVIDER names a class (dotted path) with `send(to, text)` returning
the provider's message id. kehu ships the file provider (the default) and a console one; real
gateways (Aliyun, Tencent Cloud, Twilio …) are a small class of the operator's, configured,
never hard-coded (docs/notifications.md shows one).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import uuid
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from django.utils.module_loading import import_string

DEFAULT_PROVIDER = "kehu.notifications.sms.FileSmsProvider"


class SmsProvider(Protocol):
    """What an SMS provider offers. `to` is an E.164 number (+8613812345678). Raise to
    fail the attempt (it is retried with backoff); `PermanentSmsError` fails it for good."""

    def send(self, to: str, text: str) -> str: ...


class PermanentSmsError(Exception):
    """The provider refused the message for good (an invalid number, a blocked template):
    raised by a provider, the message is marked failed without more attempts."""


_lock = threading.Lock()


class FileSmsProvider:
    """Appends each message as one JSON line to KEHU_HOME/outbox/sms.log (the offline default:
    nothing is lost, and the demo shows what would have been sent)."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else Path(settings.KEHU_HOME) / "outbox" / "sms.log"

    def send(self, to: str, text: str) -> str:
        message_id = f"file-{uuid.uuid4().hex}"
        line = json.dumps({"id": message_id, "at": timezone.now().isoformat(), "to": to,
                           "text": text}, ensure_ascii=False)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return message_id


class ConsoleSmsProvider:
    """Prints each message to standard output (development)."""

    def send(self, to: str, text: str) -> str:
        message_id = f"console-{uuid.uuid4().hex}"
        sys.stdout.write(f"SMS {message_id} to {to}:\n{text}\n")
        sys.stdout.flush()
        return message_id


def sms_provider() -> SmsProvider:
    """An instance of the configured provider class."""
    path = getattr(settings, "KEHU_SMS_PROVIDER", "") or DEFAULT_PROVIDER
    try:
        provider_class = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"KEHU_SMS_PROVIDER {path!r} cannot be imported: {exc}") from exc
    provider = provider_class()
    if not callable(getattr(provider, "send", None)):
        raise ImproperlyConfigured(f"KEHU_SMS_PROVIDER {path!r} has no send(to, text) method")
    return provider
