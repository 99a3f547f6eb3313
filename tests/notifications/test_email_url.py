"""KEHU_EMAIL_URL parsing: every documented form, and clear errors that never echo a password."""

from __future__ import annotations

import pytest

from kehu.notifications.email_url import (
    CONSOLE_BACKEND,
    OUTBOX_BACKEND,
    SMTP_BACKEND,
    EmailUrlError,
    parse_email_url,
    redact,
)


def test_unset_means_the_outbox():
    assert parse_email_url("").backend == OUTBOX_BACKEND
    assert parse_email_url(None).backend == OUTBOX_BACKEND


def test_smtp_with_starttls():
    config = parse_email_url("smtp://mailer%40corp.cn:p%40ss:w@smtp.corp.cn:587?tls=1")
    assert config.backend == SMTP_BACKEND
    assert (config.host, config.port) == ("smtp.corp.cn", 587)
    assert (config.username, config.password) == ("mailer@corp.cn", "p@ss:w")
    assert config.use_tls and not config.use_ssl and config.timeout == 30
    assert config.connection_options()["password"] == "p@ss:w"
    assert "p@ss" not in repr(config)


@pytest.mark.parametrize("url,port,tls,ssl", [
    ("smtps://u:p@mail.example.com", 465, False, True),
    ("smtp://mail.example.com?ssl=1", 465, False, True),
    ("smtp://mail.example.com?tls=true", 587, True, False),
    ("smtp://mail.example.com", 25, False, False),
    ("SMTP://mail.example.com:2525?tls=0", 2525, False, False),
])
def test_ports_and_flags(url, port, tls, ssl):
    config = parse_email_url(url)
    assert (config.port, config.use_tls, config.use_ssl) == (port, tls, ssl)


def test_timeout_from_and_other_backends():
    config = parse_email_url("smtp://h.example.com?timeout=12.5&from=kehu%20%3Cno@corp.cn%3E")
    assert config.timeout == 12.5 and config.from_email == "kehu <no@corp.cn>"
    assert parse_email_url("console://").backend == CONSOLE_BACKEND
    config = parse_email_url("file:///var/spool/kehu")
    assert config.backend == OUTBOX_BACKEND and config.directory == "/var/spool/kehu"


@pytest.mark.parametrize("url,says", [
    ("smtp://", "name the mail server"),
    ("smtp://u:pw@host:99999", "port"),
    ("smtp://u:pw@host:abc", "port"),
    ("smtp://host:0", "port"),
    ("smtp://host?tls=maybe", "tls='maybe'"),
    ("smtp://host?tls=1&ssl=1", "exclude each other"),
    ("smtps://host?tls=1", "exclude each other"),
    ("smtp://host?timeout=-1", "timeout"),
    ("smtp://host?timeout=soon", "timeout"),
    ("smtp://host?tsl=1", "unknown option 'tsl'"),
    ("http://host", "scheme"),
    ("host:25", "scheme"),
    ("file://relative/dir", "absolute"),
])
def test_bad_urls_say_what_is_wrong_without_the_password(url, says):
    with pytest.raises(EmailUrlError) as caught:
        parse_email_url(url)
    assert says in str(caught.value)
    assert "pw@" not in str(caught.value)


def test_redact():
    assert redact("smtp://u:secret@h:25") == "smtp://u:***@h:25"
    assert redact("smtp://h:25") == "smtp://h:25"


def test_a_bad_url_stops_the_settings_with_a_clear_error(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "KEHU_HOME": str(tmp_path), "KEHU_EMAIL_URL": "smtp://u:hunter2@h?tls=2",
           "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}
    result = subprocess.run([sys.executable, "-c", "import kehu.settings"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "tls='2'" in result.stderr
    assert "hunter2" not in result.stderr
