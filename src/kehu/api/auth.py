"""API authentication: browser session (with CSRF) or `Authorization: Bearer <key>` with scopes."""

from __future__ import annotations

from django.conf import settings
from ninja.security import APIKeyCookie, HttpBearer

from kehu.accounts.services import apikey_authenticate
from kehu.core.errors import DomainError
from kehu.core.logs import user_var

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class InsufficientScope(DomainError):
    code = "insufficient_scope"
    status = 403


class BearerKeyAuth(HttpBearer):
    """An API key acts as its user, but only within its scopes (read: GET; write: the rest)."""

    def authenticate(self, request, token):
        key = apikey_authenticate(token)
        if key is None:
            return None
        needed = "read" if request.method in SAFE_METHODS else "write"
        if needed not in key.scopes:
            from django.utils.translation import gettext as _

            raise InsufficientScope(
                _("This API key lacks the “%s” scope.") % needed, details={"scope": needed}
            )
        request.user = key.user
        request.kehu_api_key = key
        user_var.set(key.user.get_username())  # log lines of this request name the key's user
        return key.user


class SessionUserAuth(APIKeyCookie):
    """The signed-in browser session; unsafe methods must carry the CSRF token."""

    param_name = settings.SESSION_COOKIE_NAME

    def authenticate(self, request, key):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None
