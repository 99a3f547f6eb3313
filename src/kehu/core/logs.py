"""Structured logs: one JSON object per line, with the request id, user and job in context.

Stderr for the terminal or a process manager, and KEHU_HOME/logs/kehu-<role>.log rotated by
size for later reading. Context travels in contextvars, so every log line written while a
request or a background task runs carries it without being passed around.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("kehu_request_id", default=None)
user_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("kehu_user", default=None)
job_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("kehu_job", default=None)

# A request id a client or proxy may hand us: short, plain characters only (it is echoed).
_CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None)).keys()) | {"message", "asctime"}


class ContextFilter(logging.Filter):
    """Copies the current request id, user and job onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.user = user_var.get()
        record.job = job_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "user", "job"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        for key, value in vars(record).items():  # extra={...} given by the caller
            if key not in _STANDARD and key not in line and key not in ("request_id", "user", "job"):
                line[key] = value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def request_id_for(header_value: str | None) -> str:
    """The client's X-Request-ID when it is a plain short token, else a new one."""
    if header_value and _CLIENT_REQUEST_ID.match(header_value):
        return header_value
    return uuid.uuid4().hex


def logging_config(*, log_dir, role: str, level: str) -> dict:
    """Django's LOGGING for this process: JSON lines to stderr and a rotated file."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": "kehu.core.logs.ContextFilter"}},
        "formatters": {"json": {"()": "kehu.core.logs.JsonFormatter"}},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]},
            "file": {"class": "logging.handlers.RotatingFileHandler", "formatter": "json",
                     "filters": ["context"], "filename": str(log_dir / f"kehu-{role}.log"),
                     "maxBytes": 10 * 1024 * 1024, "backupCount": 5, "encoding": "utf-8",
                     "delay": True},
        },
        "root": {"handlers": ["console", "file"], "level": level},
        "loggers": {
            # Huey logs each task at INFO; keep its lines when the level allows.
            "huey": {"level": level},
            "django.request": {"level": "ERROR" if level != "DEBUG" else "DEBUG"},
        },
    }


def connect_task_context() -> None:
    """Background tasks log with their task as the job: `<task name>:<task id>`."""
    from huey.contrib.djhuey import HUEY
    from huey.signals import SIGNAL_COMPLETE, SIGNAL_ERROR, SIGNAL_EXECUTING

    @HUEY.signal(SIGNAL_EXECUTING)
    def _task_started(signal, task, *args, **kwargs):
        job_var.set(f"{task.name}:{task.id}")

    @HUEY.signal(SIGNAL_COMPLETE, SIGNAL_ERROR)
    def _task_ended(signal, task, *args, **kwargs):
        job_var.set(None)


class RequestContextMiddleware:
    """Gives each request an id (X-Request-ID, echoed on the response) and puts it and the
    signed-in user on every log line written while the request runs."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_for(request.headers.get("X-Request-ID"))
        user = getattr(request, "user", None)
        tokens = (request_id_var.set(request_id),
                  user_var.set(user.get_username() if user is not None and user.is_authenticated else None))
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(tokens[0])
            user_var.reset(tokens[1])
        response["X-Request-ID"] = request_id
        return response
