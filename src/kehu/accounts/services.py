"""Every write to users, teams, roles and API keys: permission-checked, validated, audited."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from kehu.accounts.default_roles import DEFAULT_ROLES
from kehu.accounts.models import ApiKey, ApiKeyUsage, Role, Team, User
from kehu.accounts.scopes import all_scopes
from kehu.core.actor import Actor
from kehu.core.audit import diff
from kehu.core.errors import ValidationFailed
from kehu.core.events import record_change
from kehu.core.permissions import FIELD_MODES, PERMISSIONS, SCOPES, SENSITIVE_FIELDS
from kehu.core.validation import full_clean

API_KEY_PREFIX = "kehu_"



# Roles ---------------------------------------------------------------------


def roles_ensure_defaults(*, actor: Actor) -> list[Role]:
    """Create the built-in roles that are missing; never touches edited ones."""
    created = []
    with transaction.atomic():
        for spec in DEFAULT_ROLES:
            if Role.objects.filter(code=spec["code"]).exists():
                continue
            role = Role(is_system=True, **spec)
            full_clean(role)
            role.save()
            record_change(actor=actor, action="role.create", event="role.created",
                          object_type="role",
                          object_id=role.pk, object_repr=role.code, changes={"created": spec})
            created.append(role)
    return created


def _validate_role_rules(permissions, record_scope, field_permissions) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(permissions) - set(PERMISSIONS))
    if unknown:
        errors["permissions"] = [_("Unknown permission: %s") % ", ".join(unknown)]
    if record_scope not in SCOPES:
        errors["record_scope"] = [_("Unknown record scope: %s") % record_scope]
    bad = [f"{k}={v}" for k, v in field_permissions.items()
           if k not in SENSITIVE_FIELDS or v not in FIELD_MODES]
    if bad:
        errors["field_permissions"] = [_("Unknown field or mode: %s") % ", ".join(bad)]
    return errors


def role_save(
    *,
    actor: Actor,
    role: Role | None = None,
    code: str,
    name: str,
    description: str = "",
    permissions: list[str],
    record_scope: str,
    field_permissions: dict[str, str],
) -> Role:
    """Create a role (role=None) or update one; the change lands in the audit log."""
    actor.require("role.manage")
    errors = _validate_role_rules(permissions, record_scope, field_permissions)
    if errors:
        raise ValidationFailed(details=errors)
    with transaction.atomic():
        if role is None:
            role = Role()
            before = {}
        else:
            role = Role.objects.select_for_update().get(pk=role.pk)
            before = _role_snapshot(role)
        role.code, role.name, role.description = code, name, description
        role.permissions = sorted(set(permissions))
        role.record_scope = record_scope
        role.field_permissions = dict(sorted(field_permissions.items()))
        full_clean(role)
        role.save()
        record_change(actor=actor, action="role.update" if before else "role.create",
                      event="role.updated" if before else "role.created",
                      object_type="role", object_id=role.pk, object_repr=role.code,
                      changes=diff(before, _role_snapshot(role)))
    return role


def _role_snapshot(role: Role) -> dict:
    return {
        "code": role.code,
        "name": role.name,
        "description": role.description,
        "permissions": list(role.permissions),
        "record_scope": role.record_scope,
        "field_permissions": dict(role.field_permissions),
    }


# Teams ---------------------------------------------------------------------


def team_save(
    *,
    actor: Actor,
    team: Team | None = None,
    name: str,
    parent: Team | None = None,
    region: str = "",
    managers: Iterable[User] = (),
) -> Team:
    actor.require("team.manage")
    with transaction.atomic():
        before = _team_snapshot(team) if team else {}
        team = Team.objects.select_for_update().get(pk=team.pk) if team else Team()
        if parent is not None and team.pk is not None:
            ancestor = parent
            while ancestor is not None:
                if ancestor.pk == team.pk:
                    raise ValidationFailed(
                        details={"parent": [_("A team cannot be inside itself.")]}
                    )
                ancestor = ancestor.parent
        team.name, team.parent, team.region = name, parent, region
        full_clean(team)
        team.save()
        team.managers.set(list(managers))
        record_change(actor=actor, action="team.update" if before else "team.create",
                      event="team.updated" if before else "team.created",
                      object_type="team", object_id=team.pk, object_repr=team.name,
                      changes=diff(before, _team_snapshot(team)))
    return team


def _team_snapshot(team: Team) -> dict:
    return {
        "name": team.name,
        "parent": team.parent_id,
        "region": team.region,
        "managers": sorted(team.managers.values_list("username", flat=True)),
    }


# Users ---------------------------------------------------------------------


def user_create(
    *,
    actor: Actor,
    username: str,
    password: str,
    display_name: str = "",
    email: str = "",
    role: Role | None = None,
    team: Team | None = None,
    is_superuser: bool = False,
) -> User:
    """Create a user with a password that passes Django's validators."""
    actor.require("user.manage")
    user = User(username=username, display_name=display_name, email=email.strip().lower(),
                role=role, team=team, is_superuser=is_superuser, is_staff=is_superuser)
    full_clean(user, exclude=["password"])
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(details={"password": list(exc.messages)}) from exc
    user.set_password(password)
    with transaction.atomic():
        user.save()
        record_change(actor=actor, action="user.create", event="user.created",
                      object_type="user", object_id=user.pk,
                      object_repr=user.username, changes=diff({}, _user_snapshot(user)))
    return user


def user_update(
    *,
    actor: Actor,
    user: User,
    display_name: str,
    email: str,
    role: Role | None,
    team: Team | None,
    is_active: bool,
) -> User:
    actor.require("user.manage")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = _user_snapshot(user)
        user.display_name, user.email = display_name, email.strip().lower()
        user.role, user.team, user.is_active = role, team, is_active
        full_clean(user, exclude=["password"])
        user.save(update_fields=["display_name", "email", "role", "team", "is_active"])
        record_change(actor=actor, action="user.update", event="user.updated",
                      object_type="user", object_id=user.pk,
                      object_repr=user.username, changes=diff(before, _user_snapshot(user)))
    return user


def user_set_password(*, actor: Actor, user: User, password: str) -> None:
    if actor.user is None or actor.user.pk != user.pk:
        actor.require("user.manage")
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(details={"password": list(exc.messages)}) from exc
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        record_change(actor=actor, action="user.password", event="user.password_changed",
                      object_type="user",
                      object_id=user.pk, object_repr=user.username)


def user_unlock(*, actor: Actor, user: User) -> int:
    """Clear the failed sign-ins that locked `user` out; returns how many were cleared."""
    from axes.utils import reset

    actor.require("user.manage")
    with transaction.atomic():
        cleared = reset(username=user.get_username())
        record_change(actor=actor, action="user.unlock", event="user.unlocked",
                      object_type="user", object_id=user.pk,
                      object_repr=user.username, changes={"failed_attempts_cleared": cleared})
    return cleared


def _user_snapshot(user: User) -> dict:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "role": user.role.code if user.role_id else None,
        "team": user.team.name if user.team_id else None,
        "is_active": user.is_active,
        "is_superuser": user.is_superuser,
    }


# API keys ------------------------------------------------------------------


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def apikey_create(
    *,
    actor: Actor,
    user: User,
    scopes: Iterable[str],
    name: str = "",
    expires_at: datetime | None = None,
    rate_limit: int | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key for `user` with broad and/or resource scopes (kehu.accounts.scopes) and an
    optional own limit of requests per minute; returns the row and the token, which is
    shown only once."""
    if actor.user is None or actor.user.pk != user.pk:
        actor.require("user.manage")
    else:
        actor.require("apikey.manage")
    scopes = sorted(set(scopes))
    valid = {code for code, _label in all_scopes()}
    if not scopes or set(scopes) - valid:
        raise ValidationFailed(
            details={"scopes": [_("Scopes must be among: %s") % ", ".join(sorted(valid))]}
        )
    if rate_limit is not None and (isinstance(rate_limit, bool) or not isinstance(
            rate_limit, int) or not 1 <= rate_limit <= RATE_LIMIT_MAX):
        raise ValidationFailed(details={"rate_limit": [
            _("Requests per minute: a whole number from 1 to %d.") % RATE_LIMIT_MAX]})
    prefix = secrets.token_hex(4)
    token = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        key = ApiKey.objects.create(user=user, name=name, prefix=prefix,
                                    key_hash=_hash_token(token), scopes=scopes,
                                    expires_at=expires_at, rate_limit=rate_limit)
        record_change(actor=actor, action="apikey.create", event="apikey.created",
                      object_type="apikey",
                      object_id=key.pk, object_repr=f"{prefix} {user.username}",
                      changes={"scopes": {"before": None, "after": scopes},
                               "rate_limit": {"before": None, "after": rate_limit}})
    return key, token


def apikey_revoke(*, actor: Actor, key: ApiKey) -> ApiKey:
    if actor.user is None or actor.user.pk != key.user_id:
        actor.require("user.manage")
    with transaction.atomic():
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        record_change(actor=actor, action="apikey.revoke", event="apikey.revoked",
                      object_type="apikey",
                      object_id=key.pk, object_repr=key.prefix)
    return key


def apikey_authenticate(token: str) -> ApiKey | None:
    """The live key matching a bearer token, or None. Constant-time on the hash.

    Every API call runs this, so it reads the key with its user in one fixed,
    parameterised query and the role by primary key, through `Model.objects.raw`
    (no ORM query compilation: a third of the cost).
    """
    if not token.startswith(API_KEY_PREFIX):
        return None
    prefix = token[len(API_KEY_PREFIX):].split("_", 1)[0]
    user = next(iter(User.objects.raw(_USER_WITH_KEY, [prefix])), None)
    if user is None or not secrets.compare_digest(user.k_hash, _hash_token(token)):
        return None
    key = ApiKey(id=user.k_id, user=user, prefix=prefix, key_hash=user.k_hash,
                 scopes=_json(user.k_scopes), revoked_at=_when(user.k_revoked_at),
                 expires_at=_when(user.k_expires_at), last_used_at=_when(user.k_last_used_at),
                 rate_limit=user.k_rate_limit)
    now = timezone.now()
    if key.revoked_at or (key.expires_at and key.expires_at <= now) or not user.is_active:
        return None
    if user.role_id is not None:
        user.role = next(iter(Role.objects.raw(_ROLE_BY_ID, [user.role_id])))
    # Touch at most once a minute so read-heavy clients don't write on every call.
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


RATE_LIMIT_MAX = 1_000_000


@dataclass(frozen=True)
class RateState:
    """A key's budget after this request: its limit per minute, what is left (negative: over
    it) and the seconds until the window resets."""

    limit: int
    remaining: int
    reset: int


def apikey_rate_take(*, key: ApiKey) -> RateState:
    """Count one request with `key`: against its per-minute budget (its `rate_limit`, else
    KEHU_API_KEY_RATE_LIMIT; fixed one-minute windows in the cache, so shared by the processes
    that share the cache) and towards its usage of the day, which is written to
    ApiKeyUsage at most once a minute per key and cache."""
    limit = key.rate_limit or settings.KEHU_API_KEY_RATE_LIMIT
    now = timezone.now()
    stamp = now.timestamp()
    window = int(stamp // 60)
    counter = f"kehu-apikey-rate:{key.pk}:{window}"
    cache.add(counter, 0, timeout=120)
    try:
        used = cache.incr(counter)
    except ValueError:  # expired between add and incr
        cache.set(counter, 1, timeout=120)
        used = 1
    _usage_count(key.pk, now)
    return RateState(limit=limit, remaining=limit - used, reset=60 - int(stamp % 60))


def _usage_count(key_id: int, now: datetime) -> None:
    day = timezone.localdate(now)
    pending = f"kehu-apikey-use:{key_id}:{day.isoformat()}"
    cache.add(pending, 0, timeout=2 * 86400)
    try:
        cache.incr(pending)
    except ValueError:
        cache.set(pending, 1, timeout=2 * 86400)
    if cache.add(f"kehu-apikey-use-flush:{key_id}", 1, timeout=60):
        apikey_usage_flush(key_id=key_id, day=day)


def apikey_usage_flush(*, key_id: int, day) -> int:
    """Move the requests counted in the cache for a key and day into ApiKeyUsage; returns
    how many moved (the API keys page and tests call it to show current figures)."""
    pending = f"kehu-apikey-use:{key_id}:{day.isoformat()}"
    count = cache.get(pending) or 0
    if not count:
        return 0
    try:
        cache.decr(pending, count)
    except ValueError:
        return 0
    with transaction.atomic():
        updated = ApiKeyUsage.objects.filter(key_id=key_id, day=day).update(
            requests=F("requests") + count)
        if not updated:
            usage, created = ApiKeyUsage.objects.get_or_create(
                key_id=key_id, day=day, defaults={"requests": count})
            if not created:
                ApiKeyUsage.objects.filter(pk=usage.pk).update(requests=F("requests") + count)
    return count


def apikey_owner_inactive(token: str) -> bool:
    """Whether `token` is a live key (right secret, not revoked, not expired) of a deactivated
    user: the API then answers 401 `account_inactive` rather than a bare 401. Runs only after
    `apikey_authenticate` refused the token, so it costs nothing on the hot path."""
    if not token.startswith(API_KEY_PREFIX):
        return False
    prefix = token[len(API_KEY_PREFIX):].split("_", 1)[0]
    key = ApiKey.objects.select_related("user").filter(prefix=prefix).first()
    if key is None or not secrets.compare_digest(key.key_hash, _hash_token(token)):
        return False
    live = key.revoked_at is None and (key.expires_at is None or key.expires_at > timezone.now())
    return live and not key.user.is_active


def _json(value):
    """Raw columns come back as text on SQLite and decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def _when(value):
    """A raw timestamp column as an aware datetime (Django stores them in UTC)."""
    if value is None:
        return None
    parsed = parse_datetime(value) if isinstance(value, str) else value
    return timezone.make_aware(parsed, UTC) if timezone.is_naive(parsed) else parsed


# Table names come from the models, never from input; values are always parameters.
_USER_WITH_KEY = (
    f"SELECT u.*, k.id AS k_id, k.key_hash AS k_hash, k.scopes AS k_scopes, "  # noqa: S608
    f"k.revoked_at AS k_revoked_at, k.expires_at AS k_expires_at, "
    f"k.last_used_at AS k_last_used_at, k.rate_limit AS k_rate_limit "
    f"FROM {User._meta.db_table} u JOIN {ApiKey._meta.db_table} k ON k.user_id = u.id "
    f"WHERE k.prefix = %s"
)
_ROLE_BY_ID = f"SELECT * FROM {Role._meta.db_table} WHERE id = %s"  # noqa: S608
