"""The one NinjaAPI under /api/v1/: authentication, error format, and every app's router."""

from __future__ import annotations

import copy
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.core.signals import got_request_exception
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.throttling import AuthRateThrottle

from kehu.accounts.api import router as accounts_router
from kehu.api.auth import BasicKeyAuth, BearerKeyAuth, SessionUserAuth, WriteKeyAuth
from kehu.api.middleware import too_large
from kehu.api.parser import KehuParser
from kehu.assignment.api import router as assignment_router
from kehu.automation.api import router as automation_router
from kehu.cards.api import router as cards_router
from kehu.core.api import router as jobs_router
from kehu.core.errors import DomainError
from kehu.customers.api import custom_fields_fingerprint
from kehu.customers.api import router as customers_router
from kehu.dashboards.api import router as dashboards_router
from kehu.identity.api import router as identity_router
from kehu.insights.api import router as insights_router
from kehu.integration.api import router as integration_router
from kehu.integration.ingest_api import router as ingest_router
from kehu.interactions.api import router as interactions_router
from kehu.interchange.api import router as interchange_router
from kehu.notifications.api import router as notifications_router
from kehu.pipeline.api import router as pipeline_router
from kehu.prediction.api import router as prediction_router
from kehu.privacy.api import router as privacy_router
from kehu.quality.api import router as quality_router
from kehu.reports.api import router as reports_router
from kehu.scoring.api import router as scoring_router
from kehu.segments.api import router as segments_router
from kehu.service.api import router as service_router
from kehu.transactions.api import router as transactions_router

logger = logging.getLogger("django.request")


class KehuAPI(NinjaAPI):
    """The NinjaAPI with its OpenAPI document built once per path prefix, language and set of
    custom fields (the one part that depends on data): a 500 KB document of ~300 operations
    takes seconds to generate, and the routes cannot change while the process runs. Callers
    get a copy, so none can alter the cached one."""

    _schemas: dict[tuple[str, str, str], Any]

    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        from django.utils.translation import get_language

        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        cache = self.__dict__.setdefault("_schemas", {})
        key = (path_prefix, get_language() or "", custom_fields_fingerprint())
        if key not in cache:
            if len(cache) >= 8:  # custom fields changed many times: start afresh
                cache.clear()
            cache[key] = super().get_openapi_schema(path_prefix=path_prefix)
        return copy.deepcopy(cache[key])


api = KehuAPI(
    title="kehu API",
    version="1",
    description=(
        "Customer data platform API. Authenticate with the browser session (send the CSRF "
        "token on writes) or `Authorization: Bearer <api key>`. Keys carry scopes: `read` "
        "for GET and POST /segments/preview (it only reads), `write` for everything else, "
        "`ingest` for the Segment-compatible event calls only (track, identify, page, screen, "
        "alias, group, batch: a `write` key may make them too; they also take the key as "
        "Segment's Basic auth or a `writeKey` in the body, and tolerate unknown fields); the "
        "keys of a deactivated or locked-out user are refused (401 `account_inactive`, "
        "`account_locked`). Every answer under /api/v1/, errors included, is JSON; errors are "
        "`{code, message, details}`. Request bodies are JSON objects and a field the operation "
        "does not know is refused (422 naming it); numbers, ids, pages and dates are bounded "
        "as documented on each field."
    ),
    urls_namespace="api",
    parser=KehuParser(),
    auth=[BearerKeyAuth(), SessionUserAuth()],
    # Per key or user and per worker process; a call centre's integration shares one key.
    throttle=[AuthRateThrottle(settings.KEHU_API_RATE_LIMIT)],
)


def _error(request, status: int, code: str, message, details=None):
    return api.create_response(
        request, {"code": code, "message": str(message), "details": details or {}}, status=status
    )


@api.exception_handler(DomainError)
def on_domain_error(request, exc: DomainError):
    return _error(request, exc.status, exc.code, exc.message, exc.details)


@api.exception_handler(ValidationError)
def on_request_invalid(request, exc: ValidationError):
    details = {}
    for error in exc.errors:
        # loc is ("body", "payload", "field", …) or ("query", "field"): keep the field path.
        loc = list(error.get("loc", []))
        path = loc[2:] if loc[:1] == ["body"] else loc[1:]
        field = ".".join(str(part) for part in path) or "__all__"
        # Our own validators' messages are translated; drop pydantic's "Value error, " prefix.
        own = error.get("ctx", {}).get("error") if error.get("type") == "value_error" else None
        details.setdefault(field, []).append(str(own) if own else error.get("msg", ""))
    return _error(request, 422, "invalid_request", _("The request is not valid."), details)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request, exc):
    return _error(request, 401, "unauthenticated",
                  _("Sign in, or send a valid API key as “Authorization: Bearer <key>”."))


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return _error(request, 404, "not_found", _("Not found."))


@api.exception_handler(RequestDataTooBig)
def on_too_large(request, exc):
    return too_large()


@api.exception_handler(SuspiciousOperation)
def on_suspicious(request, exc):
    return _error(request, 400, "bad_request", _("The request is not valid."))


@api.exception_handler(Exception)
def on_server_error(request, exc):
    # Logged with its traceback and signalled as Django does, but answered in the API's shape.
    logger.error("Internal Server Error: %s", request.path, exc_info=exc)
    got_request_exception.send(sender=None, request=request)
    return _error(request, 500, "server_error",
                  _("The server could not complete the request."))


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    if exc.status_code == 403 and "CSRF" in str(exc):
        return _error(request, 403, "csrf_failed",
                      _("The CSRF token is missing or wrong; reload the page and try again."))
    if exc.status_code == 429:
        return _error(request, 429, "throttled", _("Too many requests; slow down."))
    if exc.status_code == 400:  # ninja's "Cannot parse request body"
        return _error(request, 400, "bad_request",
                      _("The request body could not be read as JSON."))
    return _error(request, exc.status_code, "http_error", str(exc))


api.add_router("/", accounts_router)
api.add_router("/", interactions_router)
api.add_router("/", transactions_router)
# Before customers: "/customers/export" must not be taken for "/customers/{customer_id}".
api.add_router("/", interchange_router)
# Before customers too: "/customers/merge".
api.add_router("/", identity_router)
api.add_router("/", quality_router)
api.add_router("/", customers_router)
api.add_router("/", cards_router)
api.add_router("/", segments_router)
api.add_router("/", scoring_router)
api.add_router("/", jobs_router)
api.add_router("/", notifications_router)
api.add_router("/", pipeline_router)
api.add_router("/", service_router)
api.add_router("/", prediction_router)
api.add_router("/", insights_router)
api.add_router("/", automation_router)
api.add_router("/", dashboards_router)
api.add_router("/", reports_router)
api.add_router("/", assignment_router)
api.add_router("/", privacy_router)
api.add_router("/", integration_router)
# Segment-compatible ingestion: its clients send the key as Basic auth too.
api.add_router("/", ingest_router,
               auth=[BearerKeyAuth(), BasicKeyAuth(), WriteKeyAuth(), SessionUserAuth()])
