"""Every response under /api/v1/ is JSON `{"code", "message", "details"}`.

The NinjaAPI's exception handlers shape the errors raised in its operations; this middleware
covers what happens around them: an unknown path (Django's 404 page), a wrong method, a body
over the upload limit (refused here from its Content-Length before anything reads it), and
any HTML error page from Django itself."""

from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _

API_PREFIX = "/api/v1/"

_CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 413: "too_large", 429: "throttled"}


def _messages() -> dict[int, str]:
    return {400: _("The request is not valid."),
            401: _("Sign in, or send a valid API key as “Authorization: Bearer <key>”."),
            403: _("You do not have permission to do this."),
            404: _("Not found."),
            405: _("This method is not allowed here."),
            413: _("The request body is too large."),
            429: _("Too many requests; slow down.")}


def api_error(status: int, code: str, message, details=None) -> HttpResponse:
    body = {"code": code, "message": str(message), "details": details or {}}
    return HttpResponse(json.dumps(body, ensure_ascii=False), status=status,
                        content_type="application/json; charset=utf-8")


def too_large() -> HttpResponse:
    return api_error(413, "too_large", _("The request body is too large."),
                     {"limit_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE})


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if self._declared_too_large(request):
            return too_large()
        response = self.get_response(request)
        rate = getattr(request, "kehu_rate", None)
        if rate is not None:  # an API key's budget (kehu.accounts.services.apikey_rate_take)
            response["RateLimit-Limit"] = str(rate.limit)
            response["RateLimit-Remaining"] = str(max(rate.remaining, 0))
            response["RateLimit-Reset"] = str(rate.reset)
            if response.status_code == 429 and "Retry-After" not in response:
                response["Retry-After"] = str(rate.reset)
        if response.status_code < 400 or response.get("Content-Type", "").startswith(
                "application/json"):
            return response
        language = getattr(request, "LANGUAGE_CODE", None) or settings.LANGUAGE_CODE
        with translation.override(language):
            status = response.status_code
            code = _CODES.get(status, "server_error" if status >= 500 else "http_error")
            message = _messages().get(status, _("The server could not complete the request."))
            shaped = api_error(status, code, message)
        for header in ("Allow", "Retry-After"):
            if header in response:
                shaped[header] = response[header]
        return shaped

    @staticmethod
    def _declared_too_large(request) -> bool:
        # Multipart bodies may carry files past the limit (Django counts only their fields).
        if request.content_type == "multipart/form-data":
            return False
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return False
        return limit is not None and length > limit
