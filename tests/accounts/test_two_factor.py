"""Two-factor sign-in: required for administrators and compliance, optional for others;
recovery codes work once; sessions listed and revoked; bearer keys unaffected."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from kehu.core.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _enforced(settings):
    settings.KEHU_2FA_ENFORCED = True
    # django-otp slows retries after a wrong code (1 s, doubling): not what these tests time.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    settings.OTP_STATIC_THROTTLE_FACTOR = 0


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def code_for(user) -> str:
    device = TOTPDevice.objects.get(user=user)
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def enable(client, user) -> list[str]:
    client.post("/admin/security/", {"action": "start"})
    page = client.post("/admin/security/", {"action": "confirm", "token": code_for(user)})
    return re.findall(r"<code>([0-9a-f]{10})</code>", page.content.decode())


def test_an_administrator_must_set_it_up_first(admin_user):
    client = signed_in(admin_user)
    home = client.get("/")
    assert home.status_code == 302 and home["Location"].startswith("/admin/security/")
    api = client.get("/api/v1/customers")
    assert api.status_code == 403 and api.json()["code"] == "otp_setup_required"
    started = client.post("/admin/security/", {"action": "start"})
    assert "otpauth://totp/" in started.content.decode()
    wrong = client.post("/admin/security/", {"action": "confirm", "token": "000000"})
    assert 'data-testid="security-error"' in wrong.content.decode()
    assert not TOTPDevice.objects.filter(user=admin_user, confirmed=True).exists()
    codes = enable(client, admin_user)
    assert len(codes) == 10
    assert client.get("/").status_code == 200  # this session is verified
    assert AuditEntry.objects.filter(action="user.2fa_enable").exists()


def test_a_new_session_asks_for_a_code_and_a_recovery_code_works_once(admin_user):
    codes = enable(signed_in(admin_user), admin_user)
    other = signed_in(admin_user)
    asked = other.get("/customers/")
    assert asked.status_code == 302 and asked["Location"].startswith("/admin/2fa/verify/")
    bad = other.post("/admin/2fa/verify/", {"token": "123456", "next": "/customers/"})
    assert "error" in bad.content.decode() and other.get("/").status_code == 302
    good = other.post("/admin/2fa/verify/", {"token": codes[0], "next": "/customers/"})
    assert good.status_code == 302 and good["Location"] == "/customers/"
    assert other.get("/customers/").status_code == 200
    third = signed_in(admin_user)
    third.post("/admin/2fa/verify/", {"token": codes[0]})
    assert third.get("/").status_code == 302  # used up


def test_optional_for_a_sales_rep_and_sessions_can_be_revoked(make_user):
    rep = make_user("sales_rep")
    first, second = signed_in(rep), signed_in(rep)
    assert first.get("/").status_code == 200
    page = first.get("/admin/security/").content.decode()
    assert page.count('data-testid="session-row"') == 2
    other_id = [m for m in re.findall(r'name="session" value="([0-9a-f]{16})"', page)]
    assert len(other_id) == 1
    first.post("/admin/security/", {"action": "revoke", "session": other_id[0]})
    assert second.get("/").status_code == 302  # signed out
    assert first.get("/").status_code == 200


def test_bearer_keys_are_not_asked(admin_user, api_client_for):
    enable(signed_in(admin_user), admin_user)
    assert api_client_for(admin_user).get("/api/v1/customers").status_code == 200


def test_password_policy_kinds_of_character(settings, admin_user):
    from kehu.accounts.services import user_set_password
    from kehu.core.actor import Actor
    from kehu.core.errors import ValidationFailed

    settings.AUTH_PASSWORD_VALIDATORS = [
        {"NAME": "kehu.accounts.passwords.CharacterClassValidator",
         "OPTIONS": {"min_classes": 3}}]
    with pytest.raises(ValidationFailed):
        user_set_password(actor=Actor(user=admin_user), user=admin_user,
                          password="onlylowercaseletters")
    user_set_password(actor=Actor(user=admin_user), user=admin_user, password="Mixed-case-2026")
    admin_user.refresh_from_db()
    assert admin_user.check_password("Mixed-case-2026")
