"""API authentication: browser session (with CSRF) or `Authorization: Bearer <key>` with scopes."""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from ninja.security import APIKeyCookie, HttpBasicAuth, HttpBearer
from ninja.security.apikey import APIKeyBase

from kehu.accounts import scopes
from kehu.accounts.selectors import user_locked_out
from kehu.accounts.services import apikey_authenticate, apikey_owner_inactive, apikey_rate_take
from kehu.core.errors import DomainError
from kehu.core.logs import user_var
from kehu.integration.ingest_api import INGEST_ROUTES, body_write_key

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

# POST operations that only read (a JSON body too rich for a query string): a `read` key may
# call them. Every other POST, PUT, PATCH and DELETE writes and needs `write`.
READ_ONLY_POSTS = frozenset({"segments/preview", "rules/<rule_id>/dry-run"})


class InsufficientScope(DomainError):
    code = "insufficient_scope"
    status = 403


class RateLimited(DomainError):
    """Over the key's requests per minute (429; the RateLimit-* and Retry-After headers are
    set by kehu.api.middleware from `request.kehu_rate`)."""

    code = "rate_limited"
    status = 429


class KeyRefused(DomainError):
    """A real key whose user may not act now: deactivated, or locked out of signing in."""

    status = 401


def _route(request) -> str:
    match = getattr(request, "resolver_match", None)
    return match.route.removeprefix("api/v1/") if match is not None else ""


def scope_needed(request) -> str:
    """`read` for GET and the read-only POSTs, `ingest` for the event ingestion calls (a
    `write` key may make them too), `write` for everything else."""
    if request.method in SAFE_METHODS:
        return "read"
    route = _route(request)
    if request.method == "POST" and route in INGEST_ROUTES:
        return "ingest"
    return "read" if request.method == "POST" and route in READ_ONLY_POSTS else "write"


class BearerKeyAuth(HttpBearer):
    """An API key acts as its user, but only within its scopes, and only while the user may
    sign in: the keys of a deactivated user, or of one locked out by failed sign-ins (from the
    address the lockout holds for), are refused with 401 and a code saying why."""

    def authenticate(self, request, token):
        key = apikey_authenticate(token)
        if key is None:
            if apikey_owner_inactive(token):
                raise KeyRefused(_("This API key's user is deactivated."), code="account_inactive")
            return None
        if user_locked_out(user=key.user, request=request):
            raise KeyRefused(_("This API key's user is locked out after failed sign-ins; an "
                               "administrator can unlock them."), code="account_locked")
        needed = scope_needed(request)
        route = _route(request)
        if not scopes.allows(key.scopes, route, needed):
            if any(":" in s for s in key.scopes):  # a resource-scoped key: name that scope
                needed = scopes.needed_scope(route, needed)
            raise InsufficientScope(
                _("This API key lacks the “%s” scope.") % needed, details={"scope": needed}
            )
        rate = request.kehu_rate = apikey_rate_take(key=key)
        if rate.remaining < 0:
            raise RateLimited(_("Too many requests with this API key; retry after %d seconds.")
                              % rate.reset, details={"retry_after": rate.reset})
        request.user = key.user
        request.kehu_api_key = key
        user_var.set(key.user.get_username())  # log lines of this request name the key's user
        return key.user


class BasicKeyAuth(HttpBasicAuth):
    """Segment's way of sending a write key: HTTP Basic with the key as the user name (and no
    password). Only on the ingestion calls."""

    def authenticate(self, request, username, password):
        return BearerKeyAuth().authenticate(request, username)


class WriteKeyAuth(APIKeyBase):
    """Browsers and mini-programs (track.js): the key as `writeKey` in the JSON body (or the
    query string), so a `text/plain` POST from another site needs no CORS preflight. Only on
    the ingestion calls; give such pages an `ingest`-only key."""

    openapi_in = "query"
    param_name = "writeKey"

    def _get_key(self, request):
        return request.GET.get(self.param_name) or body_write_key(request)

    def authenticate(self, request, key):
        return BearerKeyAuth().authenticate(request, key) if key else None


class SessionUserAuth(APIKeyCookie):
    """The signed-in browser session; unsafe methods must carry the CSRF token.

    Without a signed-in session there is nothing to protect from cross-site requests, so the
    answer is 401 (sign in or send a key), not a CSRF failure."""

    param_name = settings.SESSION_COOKIE_NAME

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not user.is_active:
            return None
        return super().__call__(request)

    def authenticate(self, request, key):
        return request.user
