"""KEHU_EMAIL_URL: where email goes, as one URL. Standard library only (settings import it).

    smtp://user:pass@host:587?tls=1      SMTP with STARTTLS (port 587 when omitted)
    smtps://user:pass@host               SMTP over TLS (SSL; port 465 when omitted)
    smtp://host:25?ssl=1&timeout=20      the same with query flags
    file:///var/spool/kehu               each email an .eml file in that directory
    console://                           printed to standard output (development)
    (unset)                              each email an .eml file in KEHU_HOME/outbox/

Query options: `tls`, `ssl` (1/0, true/false, yes/no, on/off; not both), `timeout` (seconds,
> 0; default 30), `from` (the sender address; default KEHU_EMAIL_FROM). User name and password
are percent-decoded (`%40` for an @ in a user name). A URL that does not parse raises
EmailUrlError naming what is wrong, never echoing the password.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
OUTBOX_BACKEND = "kehu.notifications.backends.OutboxEmailBackend"
CONSOLE_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_TIMEOUT = 30.0
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_OPTIONS = ("tls", "ssl", "timeout", "from")


class EmailUrlError(ValueError):
    """KEHU_EMAIL_URL cannot be used; the message says why (without the password)."""


@dataclass(frozen=True)
class EmailConfig:
    """A parsed KEHU_EMAIL_URL: the Django email backend and its connection options."""

    backend: str
    host: str = ""
    port: int = 0
    username: str = ""
    password: str = ""
    use_tls: bool = False
    use_ssl: bool = False
    timeout: float = DEFAULT_TIMEOUT
    from_email: str = ""
    directory: str = ""  # the outbox backend's directory ("" = KEHU_HOME/outbox)

    def connection_options(self) -> dict:
        """Keyword arguments for django.core.mail.get_connection(backend, **options)."""
        if self.backend == SMTP_BACKEND:
            return {"host": self.host, "port": self.port, "username": self.username,
                    "password": self.password, "use_tls": self.use_tls,
                    "use_ssl": self.use_ssl, "timeout": self.timeout}
        if self.backend == OUTBOX_BACKEND and self.directory:
            return {"directory": self.directory}
        return {}

    def __repr__(self) -> str:  # never the password
        return (f"EmailConfig(backend={self.backend!r}, host={self.host!r}, port={self.port}, "
                f"username={self.username!r}, use_tls={self.use_tls}, use_ssl={self.use_ssl})")


def _flag(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise EmailUrlError(f"KEHU_EMAIL_URL: {name}={value!r} is not a yes/no value (use 1 or 0)")


def redact(url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


def parse_email_url(url: str | None) -> EmailConfig:
    """The email configuration KEHU_EMAIL_URL describes; unset means the .eml outbox."""
    url = (url or "").strip()
    if not url:
        return EmailConfig(backend=OUTBOX_BACKEND)
    shown = redact(url)
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise EmailUrlError(f"KEHU_EMAIL_URL {shown!r} is not a URL: {exc}") from None
    scheme = parts.scheme.lower()
    try:
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise EmailUrlError(f"KEHU_EMAIL_URL {shown!r}: the query string does not parse") from None
    options: dict[str, str] = {}
    for key, value in query:
        key = key.strip().lower()
        if key not in _OPTIONS:
            raise EmailUrlError(f"KEHU_EMAIL_URL {shown!r}: unknown option {key!r} "
                                f"(known: {', '.join(_OPTIONS)})")
        options[key] = value
    from_email = options.get("from", "").strip()
    if scheme == "console":
        return EmailConfig(backend=CONSOLE_BACKEND, from_email=from_email)
    if scheme == "file":
        path = unquote(parts.path or "")
        if parts.netloc or not path.startswith("/"):
            raise EmailUrlError(f"KEHU_EMAIL_URL {shown!r}: a file URL names an absolute "
                                "directory, file:///path/to/outbox")
        return EmailConfig(backend=OUTBOX_BACKEND, directory=str(Path(path)),
                           from_email=from_email)
    if scheme not in ("smtp", "smtps"):
        raise EmailUrlError(f"KEHU_EMAIL_URL {shown!r}: the scheme must be smtp, smtps, file or "
                            "console")
    try:
        host, port = parts.hostname or "", parts.port
    except ValueError:
        raise EmailUrlError(f"KEHU_EMAIL_URL {shown!r}: the port must be a number from 1 to "
                            "65535") from None
    if not host:
        raise EmailUrlError(f"KEHU_EMAIL_URL {shown!r}: name the mail server, "
                            "smtp://user:password@host:587?tls=1")
    use_ssl = scheme == "smtps" or _flag("ssl", options.get("ssl", "0"))
    use_tls = _flag("tls", options.get("tls", "0"))
    if use_ssl and use_tls:
        raise EmailUrlError(f"KEHU_EMAIL_URL {shown!r}: tls (STARTTLS) and ssl (smtps) exclude "
                            "each other; choose one")
    if port == 0:
        raise EmailUrlError(f"KEHU_EMAIL_URL {shown!r}: the port must be a number from 1 to "
                            "65535")
    if port is None:
        port = 465 if use_ssl else 587 if use_tls else 25
    timeout = DEFAULT_TIMEOUT
    if "timeout" in options:
        try:
            timeout = float(options["timeout"])
        except ValueError:
            timeout = -1.0
        if not 0 < timeout <= 3600:
            raise EmailUrlError(f"KEHU_EMAIL_URL {shown!r}: timeout must be a number of seconds "
                                "above 0 (at most 3600)")
    return EmailConfig(
        backend=SMTP_BACKEND, host=host, port=port,
        username=unquote(parts.username or ""), password=unquote(parts.password or ""),
        use_tls=use_tls, use_ssl=use_ssl, timeout=timeout, from_email=from_email)
