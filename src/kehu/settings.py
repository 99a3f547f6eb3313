"""Django settings for kehu, read from the environment with safe defaults.

KEHU_HOME holds everything kehu writes: the SQLite database, Huey's queue,
uploads and the generated secret and encryption keys (never committed).
"""

from __future__ import annotations

import base64
import ipaddress
import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# Everything kehu writes under KEHU_HOME (database, its WAL, uploads, reports, Huey's queue,
# keys) is readable by the owner only: files 600, directories 700.
os.umask(0o077)
KEHU_HOME = Path(os.environ.get("KEHU_HOME") or Path.cwd() / "var").resolve()
KEHU_HOME.mkdir(mode=0o700, parents=True, exist_ok=True)


def _persistent_secret(name: str, env: str, factory) -> str:
    """Return the secret from the environment, else from KEHU_HOME, generating it once."""
    if os.environ.get(env):
        return os.environ[env]
    path = KEHU_HOME / name
    if path.exists():
        return path.read_text().strip()
    value = factory()
    # O_EXCL: two processes starting at once must not write different secrets.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


SECRET_KEY = _persistent_secret("secret_key", "KEHU_SECRET_KEY", lambda: secrets.token_urlsafe(50))
# 32 bytes, base64: AES-256-GCM field encryption and HMAC blind indexes derive from it.
KEHU_ENCRYPTION_KEY = _persistent_secret(
    "encryption_key",
    "KEHU_ENCRYPTION_KEY",
    lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
)

# Keys the audit hash chain (HMAC-SHA256) and signs `kehu audit checkpoint` heads: kept
# outside the database, so a database writer cannot recompute the chain.
KEHU_AUDIT_KEY = _persistent_secret(
    "audit_key", "KEHU_AUDIT_KEY", lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
# Proxies whose X-Forwarded-For is believed (comma-separated IPs or CIDRs); empty: none.
KEHU_TRUSTED_PROXIES = [
    item.strip() for item in os.environ.get("KEHU_TRUSTED_PROXIES", "").split(",") if item.strip()
]
for _proxy in KEHU_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as _exc:
        raise ImproperlyConfigured(
            f"KEHU_TRUSTED_PROXIES: {_proxy!r} is not an IP address or network") from _exc

DEBUG = _env_bool("KEHU_DEBUG")
KEHU_PRODUCTION = _env_bool("KEHU_PRODUCTION")

ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("KEHU_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if host.strip()
]
CSRF_TRUSTED_ORIGINS = [
    origin.strip()
    for origin in os.environ.get("KEHU_CSRF_TRUSTED_ORIGINS", "").split(",")
    if origin.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "huey.contrib.djhuey",
    "kehu.core",
    "kehu.accounts",
    "kehu.notifications",
    "kehu.customers",
    "kehu.interactions",
    "kehu.transactions",
    "kehu.pipeline",
    "kehu.service",
    "kehu.scoring",
    "kehu.identity",
    "kehu.quality",
    "kehu.prediction",
    "kehu.insights",
    "kehu.cards",
    "kehu.segments",
    "kehu.automation",
    "kehu.assignment",
    "kehu.privacy",
    "kehu.integration",
    "kehu.interchange",
    "kehu.dashboards",
    "kehu.reports",
    "kehu.api",
    "kehu.cli",
    "kehu.web",
]

MIDDLEWARE = [
    "kehu.core.metrics.MetricsMiddleware",
    "kehu.core.middleware.ServerTimingMiddleware",
    "kehu.core.middleware.AsyncStreamingMiddleware",
    # Outside the rest: every /api/v1/ answer, Django's own error pages too, is JSON.
    "kehu.api.middleware.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "kehu.core.logs.RequestContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Two-factor sign-in (kehu.accounts.twofactor): after the user and messages are known.
    "kehu.accounts.twofactor.TwoFactorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "kehu.core.middleware.DomainErrorMiddleware",
    # Last, so it sees the authenticated user and can count failures.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "kehu.urls"
WSGI_APPLICATION = "kehu.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "kehu.web.context_processors.navigation",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()
# Under the ASGI server (kehu/asgi.py) each request's views run in a thread of their own, so a
# connection kept per thread would leak: PostgreSQL takes connections from a pool instead,
# SQLite opens one per request (cheap, a file).
SERVED_BY_ASGI = _env_bool("KEHU_ASGI")
CONN_MAX_AGE = 0 if SERVED_BY_ASGI else 600
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=CONN_MAX_AGE,
                                         conn_health_checks=not SERVED_BY_ASGI)
    }
    if SERVED_BY_ASGI:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {"min_size": 1, "max_size": 20}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": KEHU_HOME / "kehu.sqlite3",
            "OPTIONS": {
                # WAL lets readers run beside the one writer; IMMEDIATE avoids
                # "database is locked" upgrades from read to write locks.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=10000; "
                    # Read through the OS page cache without a copy per page (large books).
                    "PRAGMA mmap_size=268435456;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            # Reuse connections: opening one (and its PRAGMAs) costs more than a lookup.
            "CONN_MAX_AGE": CONN_MAX_AGE,
            "CONN_HEALTH_CHECKS": True,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    # The password policy (docs/privacy.md, "Accounts"): length and kinds of character.
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": int(os.environ.get("KEHU_PASSWORD_MIN_LENGTH", "8"))}},
    {"NAME": "kehu.accounts.passwords.CharacterClassValidator",
     "OPTIONS": {"min_classes": int(os.environ.get("KEHU_PASSWORD_MIN_CLASSES", "1"))}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "web:login"
# Two-factor sign-in: roles that must set it up (superusers always), and a switch for
# installations that sign in through a gateway that already asks for a second factor.
KEHU_2FA_ROLES = tuple(r.strip() for r in os.environ.get(
    "KEHU_2FA_ROLES", "admin,compliance_auditor").split(",") if r.strip())
KEHU_2FA_ENFORCED = _env_bool("KEHU_2FA_ENFORCED", True)
OTP_TOTP_ISSUER = "kehu"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

# Login throttling: five failures for one username from one address lock it for an hour.
AXES_FAILURE_LIMIT = int(os.environ.get("KEHU_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 1
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/lockout.html"
AXES_VERBOSE = False
# The same client address as the audit log records (X-Forwarded-For only from trusted proxies).
AXES_CLIENT_IP_CALLABLE = "kehu.core.actor.client_ip"

SESSION_COOKIE_AGE = int(os.environ.get("KEHU_SESSION_AGE", str(8 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

if KEHU_PRODUCTION:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = _env_bool("KEHU_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "kehu_language"
TIME_ZONE = os.environ.get("KEHU_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = KEHU_HOME / "static"
STATIC_ROOT.mkdir(exist_ok=True)
MEDIA_ROOT = KEHU_HOME / "uploads"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
# Serve straight from the package's static folders too, so a fresh clone needs no collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Requests per key (or signed-in user) and worker process before HTTP 429 `throttled`.
# Per second, not per minute: the throttle keeps one timestamp per request in its window.
KEHU_API_RATE_LIMIT = os.environ.get("KEHU_API_RATE_LIMIT", "1000/s")
# Requests per minute per API key unless the key has its own limit (RateLimit-* headers, 429
# with Retry-After); counted in the cache: a shared cache (Redis) makes it one budget for all
# processes. docs/integration.md.
KEHU_API_KEY_RATE_LIMIT = int(os.environ.get("KEHU_API_KEY_RATE_LIMIT", "60000"))
# Lookups by ID number per user and hour before HTTP 429 `rate_limited`; an alert (audit
# action `security.lookup_limit`) is raised once an hour when a user passes
# KEHU_SENSITIVE_LOOKUP_ALERT (default: the limit). docs/permissions.md.
KEHU_SENSITIVE_LOOKUP_LIMIT = max(1, int(os.environ.get("KEHU_SENSITIVE_LOOKUP_LIMIT", "60")))
KEHU_SENSITIVE_LOOKUP_ALERT = max(1, int(os.environ.get("KEHU_SENSITIVE_LOOKUP_ALERT")
                                         or KEHU_SENSITIVE_LOOKUP_LIMIT))
# Duplicate scans merge groups at or above this match probability (e.g. 0.995) without
# review, each merge undoable; unset (the default) means never.
# /metrics answers a scraper presenting this bearer token, or a signed-in admin (user.manage).
KEHU_METRICS_TOKEN = os.environ.get("KEHU_METRICS_TOKEN", "").strip()
KEHU_DEDUP_AUTO_MERGE = os.environ.get("KEHU_DEDUP_AUTO_MERGE") or None

# Import files are checked against these before they are read (docs/security.md, "Import
# limits"); the first read of an upload runs in a child process under KEHU_IMPORT_MAX_MEMORY_MB.
KEHU_IMPORT_MAX_ROWS = int(os.environ.get("KEHU_IMPORT_MAX_ROWS", "1048576"))
KEHU_IMPORT_MAX_COLUMNS = int(os.environ.get("KEHU_IMPORT_MAX_COLUMNS", "1000"))
KEHU_IMPORT_MAX_CELL_CHARS = int(os.environ.get("KEHU_IMPORT_MAX_CELL_CHARS", "32767"))
KEHU_IMPORT_MAX_UNCOMPRESSED_MB = int(os.environ.get("KEHU_IMPORT_MAX_UNCOMPRESSED_MB", "1024"))
KEHU_IMPORT_MAX_RATIO = int(os.environ.get("KEHU_IMPORT_MAX_RATIO", "200"))
KEHU_IMPORT_MAX_MEMORY_MB = int(os.environ.get("KEHU_IMPORT_MAX_MEMORY_MB", "2048"))
# Uploaded import files are deleted when their job ends; one left by a job that failed
# (resumable) or was abandoned is deleted this many hours after its job last changed.
KEHU_IMPORT_UPLOAD_HOURS = int(os.environ.get("KEHU_IMPORT_UPLOAD_HOURS", "168"))


# Domain events (kehu.core.events): tries before a failing delivery becomes a dead letter,
# the first retry's delay (doubling each time), how long delivered events are kept, and
# extra modules whose import subscribes handlers (comma-separated dotted paths).
KEHU_EVENT_MAX_ATTEMPTS = max(1, min(int(os.environ.get("KEHU_EVENT_MAX_ATTEMPTS", "5")), 100))
KEHU_EVENT_RETRY_SECONDS = max(0, min(int(os.environ.get("KEHU_EVENT_RETRY_SECONDS", "30")),
                                      86400))
KEHU_EVENT_RETENTION_DAYS = max(1, min(int(os.environ.get("KEHU_EVENT_RETENTION_DAYS", "30")),
                                       3650))
KEHU_EVENT_SUBSCRIBERS = [m.strip() for m in os.environ.get("KEHU_EVENT_SUBSCRIBERS", "").split(",")
                          if m.strip()]

# Outbound webhooks (kehu.integration): hosts allowed even on a private/loopback address
# (comma-separated; the SSRF guard refuses internal addresses otherwise), the timeout of one
# call, and after how many days of failing without a success an endpoint is disabled.
KEHU_WEBHOOK_ALLOWED_HOSTS = [h.strip() for h in
                              os.environ.get("KEHU_WEBHOOK_ALLOWED_HOSTS", "").split(",")
                              if h.strip()]
KEHU_WEBHOOK_TIMEOUT_SECONDS = max(1, min(int(os.environ.get("KEHU_WEBHOOK_TIMEOUT_SECONDS",
                                                             "10")), 60))
KEHU_WEBHOOK_DISABLE_AFTER_DAYS = max(1, min(int(os.environ.get(
    "KEHU_WEBHOOK_DISABLE_AFTER_DAYS", "5")), 60))

# Email, SMS and notifications (docs/notifications.md). KEHU_EMAIL_URL: smtp://user:pass@host:587
# ?tls=1, smtps://…, file:///dir, console://; unset: each email an .eml file in KEHU_HOME/outbox/.
from kehu.notifications.email_url import EmailUrlError, parse_email_url  # noqa: E402

KEHU_EMAIL_URL = os.environ.get("KEHU_EMAIL_URL", "").strip()
try:
    _email = parse_email_url(KEHU_EMAIL_URL)
except EmailUrlError as _exc:
    raise ImproperlyConfigured(str(_exc)) from None
EMAIL_BACKEND = _email.backend
EMAIL_HOST, EMAIL_PORT, EMAIL_TIMEOUT = _email.host or "localhost", _email.port or 25, _email.timeout
EMAIL_HOST_USER, EMAIL_HOST_PASSWORD = _email.username, _email.password
EMAIL_USE_TLS, EMAIL_USE_SSL = _email.use_tls, _email.use_ssl
DEFAULT_FROM_EMAIL = SERVER_EMAIL = (_email.from_email or os.environ.get("KEHU_EMAIL_FROM", "").strip()
                                     or "kehu <noreply@localhost>")
KEHU_SMS_PROVIDER = os.environ.get("KEHU_SMS_PROVIDER", "").strip() or "kehu.notifications.sms.FileSmsProvider"
KEHU_MESSAGE_MAX_ATTEMPTS = max(1, min(int(os.environ.get("KEHU_MESSAGE_MAX_ATTEMPTS", "5")), 50))
KEHU_MESSAGE_RETRY_SECONDS = max(0, min(int(os.environ.get("KEHU_MESSAGE_RETRY_SECONDS", "60")), 86400))
# The daily digest goes out at this local hour (0-23) or the first worker hour after it.
KEHU_DIGEST_HOUR = max(0, min(int(os.environ.get("KEHU_DIGEST_HOUR", "8")), 23))
# Absolute links in emails (the digest): the address users open kehu at.
KEHU_BASE_URL = os.environ.get("KEHU_BASE_URL", "http://127.0.0.1:8000").strip().rstrip("/")

REDIS_URL = os.environ.get("REDIS_URL", "").strip()
HUEY = {
    "name": "kehu",
    "immediate": _env_bool("KEHU_HUEY_IMMEDIATE"),
    # An idle consumer polls the queue at most every 0.5 s (Huey's default backs off to 10 s),
    # so an event rule acts within a second of the commit (bench/rules_bench.py).
    "consumer": {"workers": 2, "worker_type": "thread", "periodic": True, "max_delay": 0.5},
}
if REDIS_URL:
    HUEY.update({"huey_class": "huey.RedisHuey", "url": REDIS_URL})
else:
    HUEY.update({"huey_class": "huey.SqliteHuey", "filename": str(KEHU_HOME / "huey.sqlite3")})

# JSON lines (kehu.core.logs) to stderr and KEHU_HOME/logs/kehu-<role>.log, 10 MB x 5 rotated.
LOG_DIR = KEHU_HOME / "logs"
LOG_DIR.mkdir(mode=0o700, exist_ok=True)
LOGGING_CONFIG = "logging.config.dictConfig"
from kehu.core.logs import logging_config  # noqa: E402 - needs only the standard library

LOGGING = logging_config(log_dir=LOG_DIR, role=os.environ.get("KEHU_PROCESS_ROLE", "web"),
                         level=os.environ.get("KEHU_LOG_LEVEL", "WARNING").upper())
# Event ingestion (docs/integration.md, "Event ingestion"): events per minute per API key, and
# how many visitors may be joined to one customer in a day.
KEHU_INGEST_RATE_LIMIT = int(os.environ.get("KEHU_INGEST_RATE_LIMIT", "600000"))
KEHU_INGEST_MAX_STITCHES_PER_DAY = int(os.environ.get("KEHU_INGEST_MAX_STITCHES_PER_DAY", "20"))
