"""Administration pages for users, teams, roles and API keys. Thin: forms in, services do the work."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from kehu.accounts import selectors, services
from kehu.accounts.forms import (
    ApiKeyForm,
    PasswordForm,
    RoleForm,
    TeamForm,
    UserCreateForm,
    UserEditForm,
)
from kehu.core.actor import Actor
from kehu.core.errors import DomainError
from kehu.core.pages import requires, show_errors
from kehu.core.permissions import PERMISSIONS, SENSITIVE_FIELDS


@requires("user.manage")
def user_list(request):
    users = selectors.user_list(user=request.user, search=request.GET.get("q", ""),
                                include_inactive=True)
    return render(request, "accounts/user_list.html", {"users": users, "q": request.GET.get("q", "")})


@requires("user.manage")
def user_create(request):
    roles, teams = selectors.role_list(user=request.user), selectors.team_list(user=request.user)
    form = UserCreateForm(request.POST or None, roles=roles, teams=teams)
    if request.method == "POST" and form.is_valid():
        try:
            created = services.user_create(actor=Actor.from_request(request), **form.cleaned_data)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("User %s created.") % created.username)
            return redirect("accounts:users")
    return render(request, "accounts/form.html", {"form": form, "title": _("New user"),
                                                  "back": "accounts:users"})


@requires("user.manage")
def user_edit(request, user_id: int):
    target = selectors.user_get(user=request.user, user_id=user_id)
    roles, teams = selectors.role_list(user=request.user), selectors.team_list(user=request.user)
    initial = {"display_name": target.display_name, "email": target.email, "role": target.role,
               "team": target.team, "is_active": target.is_active}
    form = UserEditForm(request.POST or None, initial=initial, roles=roles, teams=teams)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_update(actor=Actor.from_request(request), user=target, **form.cleaned_data)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("User %s saved.") % target.username)
            return redirect("accounts:users")
    return render(request, "accounts/form.html", {"form": form, "back": "accounts:users",
                                                  "title": _("Edit user %s") % target.username,
                                                  "unlock_user": target})


@requires("user.manage")
@require_POST
def user_unlock(request, user_id: int):
    target = selectors.user_get(user=request.user, user_id=user_id)
    cleared = services.user_unlock(actor=Actor.from_request(request), user=target)
    messages.success(request, _("Cleared %(n)d failed sign-ins of %(user)s; they can sign in again.")
                     % {"n": cleared, "user": target.username})
    return redirect("accounts:user_edit", user_id=target.pk)


@requires("team.manage")
def team_list(request):
    return render(request, "accounts/team_list.html",
                  {"tree": selectors.team_tree(user=request.user)})


@requires("team.manage")
def team_edit(request, team_id: int | None = None):
    team = selectors.team_get(user=request.user, team_id=team_id) if team_id else None
    teams = selectors.team_list(user=request.user)
    if team:
        teams = teams.exclude(pk=team.pk)
    initial = ({"name": team.name, "parent": team.parent, "region": team.region,
                "managers": list(team.managers.all())} if team else {})
    form = TeamForm(request.POST or None, initial=initial, teams=teams,
                    users=selectors.user_list(user=request.user))
    if request.method == "POST" and form.is_valid():
        try:
            services.team_save(actor=Actor.from_request(request), team=team, **form.cleaned_data)
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Team saved."))
            return redirect("accounts:teams")
    title = _("Edit team %s") % team.name if team else _("New team")
    return render(request, "accounts/form.html", {"form": form, "title": title,
                                                  "back": "accounts:teams"})


@requires("role.manage")
def role_list(request):
    return render(request, "accounts/role_list.html", {
        "roles": selectors.role_list(user=request.user),
        "permission_labels": PERMISSIONS, "sensitive_fields": SENSITIVE_FIELDS,
    })


@requires("role.manage")
def role_edit(request, role_id: int | None = None):
    role = selectors.role_get(user=request.user, role_id=role_id) if role_id else None
    form = RoleForm(request.POST or None, role=role)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.role_save(
                actor=Actor.from_request(request), role=role, code=data["code"],
                name=data["name"], description=data["description"],
                permissions=data["permissions"], record_scope=data["record_scope"],
                field_permissions=form.field_permissions(),
            )
        except DomainError as exc:
            show_errors(form, exc)
        else:
            messages.success(request, _("Role saved."))
            return redirect("accounts:roles")
    return render(request, "accounts/role_form.html", {"form": form, "role": role})


@login_required
def apikey_list(request):
    if not (request.user.access.can("apikey.manage") or request.user.access.can("user.manage")):
        raise DjangoPermissionDenied("apikey.manage")
    form = ApiKeyForm(request.POST or None)
    token = None
    if request.method == "POST" and form.is_valid():
        try:
            _key, token = services.apikey_create(
                actor=Actor.from_request(request), user=request.user,
                scopes=form.cleaned_data["all_scopes"], name=form.cleaned_data["name"],
                rate_limit=form.cleaned_data["rate_limit"],
            )
        except DomainError as exc:
            show_errors(form, exc)
        else:
            form = ApiKeyForm()
    keys = list(selectors.apikey_list(user=request.user))
    return render(request, "accounts/apikey_list.html",
                  {"keys": selectors.apikey_usage(keys=keys), "form": form, "token": token,
                   "default_rate_limit": settings.KEHU_API_KEY_RATE_LIMIT})


@login_required
@require_POST
def apikey_revoke(request, key_id: int):
    key = selectors.apikey_list(user=request.user).filter(pk=key_id).first()
    if key is None:
        raise DjangoPermissionDenied("apikey")
    services.apikey_revoke(actor=Actor.from_request(request), key=key)
    messages.success(request, _("Key %s revoked.") % key.prefix)
    return redirect("accounts:apikeys")


@login_required
def password_change(request):
    form = PasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if not request.user.check_password(form.cleaned_data["old_password"]):
            form.add_error("old_password", _("The current password is wrong."))
        else:
            try:
                services.user_set_password(actor=Actor.from_request(request), user=request.user,
                                           password=form.cleaned_data["new_password"])
            except DomainError as exc:
                show_errors(form, exc)
            else:
                from django.contrib.auth import update_session_auth_hash

                update_session_auth_hash(request, request.user)
                messages.success(request, _("Password changed."))
                return redirect("web:home")
    return render(request, "accounts/form.html", {"form": form, "title": _("Change password"),
                                                  "back": "web:home"})


@login_required
@require_http_methods(["GET", "POST"])
def security(request):
    """The signed-in user's own security: two-factor sign-in (set up, recovery codes,
    remove) and their signed-in sessions (revoke)."""
    from kehu.accounts import twofactor

    actor = Actor.from_request(request)
    context: dict = {}
    action = request.POST.get("action") if request.method == "POST" else None
    try:
        if action == "start":
            _device, context["otpauth"] = twofactor.totp_start(user=request.user)
        elif action == "confirm":
            context["codes"] = twofactor.totp_confirm(actor=actor, user=request.user,
                                                      token=request.POST.get("token", ""))
            from django_otp import login as otp_login
            from django_otp.plugins.otp_totp.models import TOTPDevice

            otp_login(request, TOTPDevice.objects.get(user=request.user, confirmed=True))
        elif action == "disable":
            twofactor.two_factor_disable(actor=actor, user=request.user)
            messages.success(request, _("Two-factor sign-in removed."))
            return redirect("accounts:security")
        elif action == "revoke":
            twofactor.session_revoke(actor=actor, user=request.user,
                                     session_id=request.POST.get("session", ""))
            messages.success(request, _("Session signed out."))
            return redirect("accounts:security")
    except DomainError as exc:
        context["error"] = "; ".join(str(m) for msgs in (exc.details or {}).values()
                                     for m in msgs) if isinstance(exc.details, dict) and \
            exc.details else str(exc.message)
        if action == "confirm":
            from django_otp.plugins.otp_totp.models import TOTPDevice

            pending = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
            context["otpauth"] = pending.config_url if pending else None
    context.update({
        "enabled": twofactor.has_two_factor(request.user),
        "required": twofactor.requires_two_factor(request.user),
        "sessions": twofactor.session_list(user=request.user,
                                           current_key=request.session.session_key)})
    return render(request, "accounts/security.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def two_factor_verify(request):
    """The code page after the password, for users with an authenticator."""
    from django.utils.http import url_has_allowed_host_and_scheme

    from kehu.accounts import twofactor

    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    error = ""
    if request.method == "POST":
        if twofactor.verify_session(request, request.POST.get("token", "")):
            return redirect(target)
        error = _("That code is not right.")
    return render(request, "accounts/two_factor_verify.html", {"next": target, "error": error})
