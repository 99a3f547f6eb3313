"""Notification tests: users, an SMTP server on 127.0.0.1, an outbox per test."""

from __future__ import annotations

import socket

import pytest
from django.utils import translation

from kehu.core.actor import Actor


@pytest.fixture(autouse=True)
def _english():
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _own_home(settings, tmp_path):
    """Each test its own KEHU_HOME (the outbox lives there) and the offline default channels."""
    settings.KEHU_HOME = tmp_path
    settings.KEHU_EMAIL_URL = ""
    settings.KEHU_SMS_PROVIDER = "kehu.notifications.sms.FileSmsProvider"
    settings.KEHU_MESSAGE_RETRY_SECONDS = 60
    settings.KEHU_MESSAGE_MAX_ATTEMPTS = 3
    yield


@pytest.fixture
def system():
    return Actor.system(via="system")


class _Handler:
    """Collects the envelopes it accepts; answers 451 (try later) while `fail` > 0."""

    def __init__(self):
        self.envelopes = []
        self.fail = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.fail > 0:
            self.fail -= 1
            return "451 4.3.0 Try again later"
        self.envelopes.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on 127.0.0.1 and a free port; `.handler.envelopes` holds
    what it received, `.url` is the KEHU_EMAIL_URL for it."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = _Handler()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=30)
    controller.start()
    controller.url = f"smtp://127.0.0.1:{port}?timeout=10"
    controller.handler = handler
    try:
        yield controller
    finally:
        controller.stop()
