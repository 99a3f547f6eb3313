"""Reads of users, teams, roles and keys, scoped by the acting user."""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.db.models import QuerySet
from django.utils import timezone

from kehu.accounts.models import ApiKey, ApiKeyUsage, Role, Team, User
from kehu.core.errors import NotFound


def user_list(*, user: User, search: str = "", include_inactive: bool = False) -> QuerySet[User]:
    """Everyone signed in sees the directory (owners must be pickable); managers see inactive too."""
    users = User.objects.select_related("role", "team")
    if not (include_inactive and user.access.can("user.manage")):
        users = users.filter(is_active=True)
    if search:
        from django.db.models import Q

        users = users.filter(
            Q(username__icontains=search) | Q(display_name__icontains=search)
            | Q(first_name__icontains=search) | Q(last_name__icontains=search)
        )
    return users.order_by("username")


def user_get(*, user: User, user_id: int) -> User:
    found = user_list(user=user, include_inactive=True).filter(pk=user_id).first()
    if found is None:
        raise NotFound()
    return found


def team_list(*, user: User) -> QuerySet[Team]:
    return Team.objects.select_related("parent").prefetch_related("managers").order_by("name")


def team_get(*, user: User, team_id: int) -> Team:
    team = team_list(user=user).filter(pk=team_id).first()
    if team is None:
        raise NotFound()
    return team


def team_tree(*, user: User) -> list[tuple[int, Team]]:
    """Teams in tree order with their depth, for indented lists and pickers."""
    teams = list(team_list(user=user))
    children: dict[int | None, list[Team]] = {}
    for team in teams:
        children.setdefault(team.parent_id, []).append(team)
    ordered: list[tuple[int, Team]] = []

    def walk(parent_id, depth):
        for team in children.get(parent_id, []):
            ordered.append((depth, team))
            walk(team.pk, depth + 1)

    walk(None, 0)
    return ordered


def role_list(*, user: User) -> QuerySet[Role]:
    return Role.objects.order_by("id")


def role_get(*, user: User, role_id: int) -> Role:
    role = Role.objects.filter(pk=role_id).first()
    if role is None:
        raise NotFound()
    return role


def apikey_list(*, user: User) -> QuerySet[ApiKey]:
    """Admins see every key; others their own."""
    keys = ApiKey.objects.select_related("user")
    if user.access.can("user.manage"):
        return keys
    return keys.filter(user=user)


def apikey_usage(*, keys: list[ApiKey], days: int = 7) -> list[ApiKey]:
    """The keys with `requests_today`, `requests_week` (the last `days` days) and `daily`
    ([(day, requests)], newest first): ApiKeyUsage plus the requests counted in the cache
    and not written yet."""
    today = timezone.localdate()
    pending = cache.get_many([f"kehu-apikey-use:{k.pk}:{today.isoformat()}" for k in keys])
    since = today - dt.timedelta(days=days - 1)
    rows = ApiKeyUsage.objects.filter(key__in=keys, day__gte=since).values_list(
        "key_id", "day", "requests")
    by_key: dict[int, list[tuple]] = {}
    for key_id, day, requests in rows:
        by_key.setdefault(key_id, []).append((day, requests))
    for key in keys:
        waiting = pending.get(f"kehu-apikey-use:{key.pk}:{today.isoformat()}") or 0
        daily = dict(by_key.get(key.pk, []))
        if waiting:
            daily[today] = daily.get(today, 0) + waiting
        daily = sorted(daily.items(), reverse=True)
        key.daily = daily
        key.requests_today = next((n for day, n in daily if day == today), 0)
        key.requests_week = sum(n for _day, n in daily)
    return keys


def team_members(*, user: User, team: Team) -> QuerySet[User]:
    return User.objects.filter(team=team, is_active=True).order_by("username")


def user_locked_out(*, user: User, request) -> bool:
    """Whether the sign-in lockout holds for `user` on this request: the same rule, counter and
    cool-off as the sign-in page (django-axes with AXES_LOCKOUT_PARAMETERS, username and IP by
    default), so a user locked out of signing in from an address is locked out of the API
    there too, and an admin's unlock (`user_unlock`) lifts both."""
    from axes.handlers.proxy import AxesProxyHandler

    AxesProxyHandler.update_request(request)
    return AxesProxyHandler.is_locked(request, credentials={"username": user.get_username()})


def users_with_permission(permission: str) -> list[User]:
    """Active users whose role grants `permission` (and superusers): whom the system tells
    about something only they can act on (a disabled webhook, a failed job…)."""
    users = User.objects.filter(is_active=True).select_related("role")
    return [u for u in users
            if u.is_superuser or (u.role is not None and permission in (u.role.permissions or []))]
