"""The default email backend: every message an .eml file in the outbox directory, so nothing
is lost without a mail server and the demo works offline (open one in any mail program)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

# The header carrying the OutboundMessage id: the file is named after it, so a retry of the
# same message replaces its file instead of adding a second.
MESSAGE_ID_HEADER = "X-Kehu-Message"


def outbox_dir() -> Path:
    return Path(settings.KEHU_HOME) / "outbox"


class OutboxEmailBackend(BaseEmailBackend):
    """Writes each message to `<directory>/<time>-<id>.eml` (RFC 5322, as sent by SMTP)."""

    def __init__(self, directory: str | os.PathLike | None = None, fail_silently=False, **kwargs):
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.directory = Path(directory) if directory else outbox_dir()

    def send_messages(self, email_messages) -> int:
        if not email_messages:
            return 0
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            try:
                data = message.message().as_bytes(linesep="\r\n")
                ours = str(message.extra_headers.get(MESSAGE_ID_HEADER, "")).strip()
                stem = (f"message-{ours}" if ours.isdigit() else
                        f"{timezone.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:12]}")
                path = self.directory / f"{stem}.eml"
                partial = path.with_suffix(".eml.part")
                # Written whole, then renamed: a reader never sees half a message.
                with open(partial, "wb") as handle:
                    handle.write(data)
                os.replace(partial, path)
                sent += 1
            except Exception:
                if not self.fail_silently:
                    raise
        return sent
