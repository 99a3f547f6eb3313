"""Two-factor sign-in (TOTP through django-otp), recovery codes, and the list of a user's
signed-in sessions with revoke.

A user sets up an authenticator app (a TOTP device, confirmed by a first code) and gets ten
single-use recovery codes (a static device). Once they have a device, every new session asks
for a code before any page; roles in `KEHU_2FA_ROLES` (default admin and compliance
auditor) and superusers must set one up before they can use kehu. The API's bearer keys are
a separate credential and are not asked.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.actor import Actor, client_ip
from kehu.core.errors import NotFound, ValidationFailed
from kehu.core.events import record_change

RECOVERY_CODES = 10
EXEMPT = ("/admin/2fa/", "/logout/", "/login/", "/static/", "/i18n/", "/privacy/link/",
          "/privacy/request/", "/healthz", "/readyz", "/metrics", "/api/v1/openapi.json",
          "/api/v1/docs")


def _devices(user):
    from django_otp.plugins.otp_static.models import StaticDevice
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice, StaticDevice


def has_two_factor(user) -> bool:
    TOTPDevice, _static = _devices(user)
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def requires_two_factor(user) -> bool:
    """Whether this user's role (or superuser status) makes two-factor sign-in mandatory."""
    roles = getattr(settings, "KEHU_2FA_ROLES", ("admin", "compliance_auditor"))
    role = getattr(user, "role", None)
    return bool(user.is_superuser or (role is not None and role.code in roles))


def totp_start(*, user) -> tuple[object, str]:
    """A new, unconfirmed authenticator for the user (an unconfirmed one is replaced): the
    device and its otpauth:// URI for the app (shown as text to type or scan)."""
    TOTPDevice, _static = _devices(user)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device = TOTPDevice.objects.create(user=user, name="kehu", confirmed=False)
    return device, device.config_url


def totp_confirm(*, actor: Actor, user, token: str) -> list[str]:
    """Confirm the pending authenticator with a first code; returns the recovery codes (shown
    once). Other authenticators and old recovery codes of the user are removed."""
    TOTPDevice, StaticDevice = _devices(user)
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).first()
        if device is None:
            raise NotFound(_("Start the setup first."))
        if not device.verify_token((token or "").strip()):
            raise ValidationFailed(details={"token": [_("That code is not right; try the "
                                                        "current one.")]}, code="otp_invalid")
        TOTPDevice.objects.filter(user=user, confirmed=True).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        StaticDevice.objects.filter(user=user).delete()
        static = StaticDevice.objects.create(user=user, name="recovery", confirmed=True)
        codes = [secrets.token_hex(5) for _i in range(RECOVERY_CODES)]
        for code in codes:
            static.token_set.create(token=code)
        record_change(actor=actor, action="user.2fa_enable", event="user.2fa_enabled",
                      object_type="user", object_id=user.pk, object_repr=user.get_username(),
                      changes={"two_factor": {"before": False, "after": True},
                               "recovery_codes": RECOVERY_CODES})
    return codes


def two_factor_disable(*, actor: Actor, user) -> None:
    """Remove the user's authenticator and recovery codes (the user themself, or an admin
    for someone who lost their phone: actor.require("user.manage") then)."""
    if actor.user is None or actor.user.pk != user.pk:
        actor.require("user.manage")
    TOTPDevice, StaticDevice = _devices(user)
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        StaticDevice.objects.filter(user=user).delete()
        record_change(actor=actor, action="user.2fa_disable", event="user.2fa_disabled",
                      object_type="user", object_id=user.pk, object_repr=user.get_username(),
                      changes={"two_factor": {"before": bool(removed), "after": False}})


def verify_session(request, token: str) -> bool:
    """Check a code (authenticator or recovery) for the signed-in user and mark the session
    verified; a recovery code works once."""
    from django_otp import login as otp_login
    from django_otp import match_token

    device = match_token(request.user, (token or "").strip().replace(" ", ""))
    if device is None:
        return False
    otp_login(request, device)
    return True


# Sessions ---------------------------------------------------------------------------------


def _key_id(session_key: str) -> str:
    return hashlib.sha256(session_key.encode()).hexdigest()[:16]


def session_list(*, user, current_key: str | None = None) -> list[dict]:
    """The user's live sessions: an id (never the key), where and with what it signed in,
    since when, until when, and whether it is this one."""
    rows = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        data = session.get_decoded()
        if str(data.get("_auth_user_id")) != str(user.pk):
            continue
        client = data.get("kehu_client") or {}
        rows.append({"id": _key_id(session.session_key), "ip": client.get("ip", ""),
                     "user_agent": client.get("ua", ""), "since": client.get("since", ""),
                     "expires": session.expire_date,
                     "current": session.session_key == current_key})
    return sorted(rows, key=lambda r: r["expires"], reverse=True)


def session_revoke(*, actor: Actor, user, session_id: str) -> None:
    """End one of the user's sessions (signed out at its next request)."""
    if actor.user is None or actor.user.pk != user.pk:
        actor.require("user.manage")
    for session in Session.objects.filter(expire_date__gt=timezone.now()).iterator():
        if _key_id(session.session_key) != session_id:
            continue
        if str(session.get_decoded().get("_auth_user_id")) != str(user.pk):
            break
        with transaction.atomic():
            session.delete()
            record_change(actor=actor, action="user.session_revoke",
                          event="user.session_revoked", object_type="user", object_id=user.pk,
                          object_repr=user.get_username(), changes={"session": session_id})
        return
    raise NotFound()


# Middleware -------------------------------------------------------------------------------


class TwoFactorMiddleware:
    """After authentication (and django-otp's OTPMiddleware): remember where a session signed
    in from; send a user with an authenticator to the code page until the session is
    verified, and a user whose role requires two factors to the setup page until they have
    one. The API answers 403 `otp_required` instead of redirecting."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and hasattr(request, "session"):
            if "kehu_client" not in request.session:
                request.session["kehu_client"] = {
                    "ip": client_ip(request) or "",
                    "ua": request.META.get("HTTP_USER_AGENT", "")[:200],
                    "since": timezone.localtime().strftime("%Y-%m-%d %H:%M")}
            if getattr(settings, "KEHU_2FA_ENFORCED", True) and not request.path.startswith(
                    EXEMPT) and not request.META.get("HTTP_AUTHORIZATION", "").startswith(
                    "Bearer "):
                answer = self._gate(request, user)
                if answer is not None:
                    return answer
        return self.get_response(request)

    @staticmethod
    def _gate(request, user):
        verified = getattr(user, "is_verified", lambda: False)()
        if verified:
            return None
        if has_two_factor(user):
            where, code = "accounts:2fa_verify", "otp_required"
        elif requires_two_factor(user):
            if request.path.startswith("/admin/security/"):
                return None
            where, code = "accounts:security", "otp_setup_required"
        else:
            return None
        if request.path.startswith("/api/"):
            return JsonResponse({"code": code, "message": _(
                "Two-factor sign-in is required: finish it in the browser."), "details": {}},
                status=403)
        from django.urls import reverse

        return redirect(f"{reverse(where)}?next={request.get_full_path()}")

