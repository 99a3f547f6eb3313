"""Structured logs: JSON lines carrying the request id and the user, to stderr and a file."""

from __future__ import annotations

import io
import json
import logging

from django.conf import settings
from django.test import RequestFactory

from kehu.core.logs import ContextFilter, JsonFormatter, RequestContextMiddleware, job_var


def _capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("kehu.test.logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_a_request_logs_json_lines_with_its_id_and_user(make_user):
    logger, stream = _capture()
    user = make_user("sales_rep")

    def view(request):
        from django.http import HttpResponse

        logger.info("looked up %s", "张伟", extra={"customer": 12})
        return HttpResponse("ok")

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="req-1234abcd")
    request.user = user
    response = RequestContextMiddleware(view)(request)

    assert response["X-Request-ID"] == "req-1234abcd"
    line = json.loads(stream.getvalue().strip())
    assert line["message"] == "looked up 张伟"
    assert line["request_id"] == "req-1234abcd"
    assert line["user"] == user.username
    assert line["customer"] == 12
    assert line["level"] == "info"
    # Outside the request the context is gone again.
    logger.info("after")
    assert "request_id" not in json.loads(stream.getvalue().strip().splitlines()[-1])


def test_a_hostile_request_id_is_replaced_not_echoed():
    def view(request):
        from django.http import HttpResponse

        return HttpResponse("ok")

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="<script>alert(1)</script>")
    response = RequestContextMiddleware(view)(request)
    assert "<" not in response["X-Request-ID"]
    assert len(response["X-Request-ID"]) == 32


def test_background_tasks_log_their_job_and_the_file_handler_rotates():
    logger, stream = _capture()
    token = job_var.set("kehu.identity.tasks.dedup_scan_task:abc")
    try:
        logger.warning("scan slow")
    finally:
        job_var.reset(token)
    assert json.loads(stream.getvalue())["job"] == "kehu.identity.tasks.dedup_scan_task:abc"
    file_handler = settings.LOGGING["handlers"]["file"]
    assert file_handler["class"] == "logging.handlers.RotatingFileHandler"
    assert file_handler["filename"].startswith(str(settings.KEHU_HOME / "logs"))
    assert file_handler["maxBytes"] > 0 and file_handler["backupCount"] > 0
