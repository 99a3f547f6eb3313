"""AccessPolicy: the one mechanism for object permissions, record scope and field masking.

Selectors in every app ask the acting user's policy to restrict querysets and
to present sensitive fields, so pages, API and exports can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db.models import Q, QuerySet

from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.masking import mask_value
from kehu.core.permissions import (
    DERIVED_FIELDS,
    FIELD_EDIT,
    FIELD_HIDDEN,
    FIELD_MASKED,
    FIELD_VIEW,
    PERMISSIONS,
    SCOPE_ALL,
    SCOPE_OWN,
    SCOPE_TEAM,
    SENSITIVE_FIELDS,
)

# Where fields hidden for a role everywhere come from, besides the role's field permissions:
# apps above register a source (role code, None without a role -> field names such as
# "customer.industry"); kehu.customers registers the form designer's "hidden" rules.
_HIDDEN_FIELD_SOURCES: list[Callable[[str | None], Iterable[str]]] = []


def register_hidden_fields(source: Callable[[str | None], Iterable[str]]) -> None:
    if source not in _HIDDEN_FIELD_SOURCES:
        _HIDDEN_FIELD_SOURCES.append(source)


def _role_code(user) -> str | None:
    return user.role.code if getattr(user, "role_id", None) else None


@dataclass(frozen=True)
class AccessPolicy:
    user_id: int | None
    permissions: frozenset[str]
    scope: str
    field_modes: dict[str, str] = field(default_factory=dict)
    team_ids: frozenset[int] = frozenset()
    is_superuser: bool = False
    role_code: str | None = None

    @cached_property
    def hidden_fields(self) -> frozenset[str]:
        """Fields hidden for this user whatever their field permissions say
        (register_hidden_fields). Read when a field is first asked about, not on every
        request that only checks a permission."""
        if self.user_id is None:
            return frozenset()
        return frozenset(name for source in _HIDDEN_FIELD_SOURCES
                         for name in source(self.role_code))

    @classmethod
    def for_user(cls, user) -> AccessPolicy:
        if user is None or not user.is_authenticated or not user.is_active:
            return cls(user_id=None, permissions=frozenset(), scope=SCOPE_OWN)
        if user.is_superuser:
            return cls(
                user_id=user.pk,
                permissions=frozenset(PERMISSIONS),
                scope=SCOPE_ALL,
                field_modes={name: FIELD_EDIT for name in SENSITIVE_FIELDS},
                team_ids=frozenset(_teams_in_scope(user)),
                is_superuser=True,
                role_code=_role_code(user),
            )
        role = user.role
        if role is None:
            return cls(user_id=user.pk, permissions=frozenset(), scope=SCOPE_OWN)
        return cls(
            user_id=user.pk,
            permissions=frozenset(p for p in role.permissions if p in PERMISSIONS),
            scope=role.record_scope,
            field_modes=dict(role.field_permissions or {}),
            team_ids=frozenset(_teams_in_scope(user)) if role.record_scope == SCOPE_TEAM else frozenset(),
            role_code=role.code,
        )

    # Object permissions -------------------------------------------------
    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise PermissionDenied(details={"permission": permission})

    # Record scope ---------------------------------------------------------
    def record_filter(self, *, owner_field: str = "owner", team_field: str = "team") -> Q:
        """A Q object selecting the records this user may see."""
        if self.user_id is None:
            return Q(pk__in=[])
        if self.scope == SCOPE_ALL:
            return Q()
        own = Q(**{f"{owner_field}_id": self.user_id})
        if self.scope == SCOPE_TEAM and self.team_ids:
            return own | Q(**{f"{team_field}_id__in": sorted(self.team_ids)})
        return own

    def restrict(self, queryset: QuerySet, *, owner_field: str = "owner", team_field: str = "team"):
        if self.user_id is None:
            return queryset.none()
        condition = self.record_filter(owner_field=owner_field, team_field=team_field)
        return queryset.filter(condition) if condition else queryset

    def may_see_record(self, *, owner_id: int | None, team_id: int | None) -> bool:
        if self.user_id is None:
            return False
        if self.scope == SCOPE_ALL:
            return True
        if owner_id == self.user_id:
            return True
        return self.scope == SCOPE_TEAM and team_id in self.team_ids

    # Field permissions ----------------------------------------------------
    def field_mode(self, name: str) -> str:
        """edit / view / masked / hidden. The one rule for a field: hidden when a registered
        source hides it for this user (the form designer's "hidden" for their role), else
        the role's field permission (sensitive fields), else view or edit by permission. The
        list, the API, exports, filters, sorts and search all read it, so a field hidden for a
        role is hidden everywhere for that role."""
        if name in self.hidden_fields:
            return FIELD_HIDDEN
        if name not in SENSITIVE_FIELDS:
            return FIELD_EDIT if self.can(name.split(".")[0] + ".change") else FIELD_VIEW
        mode = self.field_modes.get(name, FIELD_MASKED)
        if mode == FIELD_EDIT and not self.can(name.split(".")[0] + ".change"):
            return FIELD_VIEW
        return mode

    def can_edit_field(self, name: str) -> bool:
        return self.field_mode(name) == FIELD_EDIT

    def can_read_field(self, name: str) -> bool:
        """Whether the clear value may be shown (edit or view)."""
        return self.field_mode(name) in (FIELD_EDIT, FIELD_VIEW)

    def present(self, name: str, value: Any) -> Any:
        """The value as this user may see it: itself, masked, or None when hidden."""
        mode = self.field_mode(name)
        if mode == FIELD_HIDDEN:
            return None
        if mode == FIELD_MASKED:
            return mask_value(name, value)
        return value

    def is_hidden(self, name: str) -> bool:
        return self.field_mode(name) == FIELD_HIDDEN

    # Conditions on fields -------------------------------------------------
    def may_condition_on(self, name: str, *, presence: bool = False) -> bool:
        """The one rule for conditions: whether this user may filter, sort, group or search
        on a field (segments, list filters and sorts, search, lookups, quality drill-downs).

        A condition on a value answers questions about it, so it needs the value in clear
        (view or edit): a birthday masked for the caller cannot be binary-searched with
        `between`. Only whether a value is present (`presence=True`: is set / is missing) may
        be asked of a masked field, because the masked form shows that much; nothing may be
        asked of a hidden one. Fields derived from a sensitive one (DERIVED_FIELDS) follow it.
        """
        mode = self.field_mode(DERIVED_FIELDS.get(name, name))
        if mode in (FIELD_EDIT, FIELD_VIEW):
            return True
        return presence and mode == FIELD_MASKED

    def require_condition(self, name: str, *, path: str, label: Any,
                          presence: bool = False) -> None:
        """ValidationFailed naming `path` (the filter, sort key or definition node) and the
        field's label unless `may_condition_on` allows the condition."""
        if not self.may_condition_on(name, presence=presence):
            raise ValidationFailed(details={path: [refusal_message(label)]})


def refusal_message(label: Any) -> str:
    """The message of a refused condition (one wording everywhere)."""
    from django.utils.translation import gettext

    return gettext("“%s” is masked or hidden for you: you may not filter, sort or search "
                   "on it.") % label


def _teams_in_scope(user) -> set[int]:
    """The user's own team, the teams they manage, and every sub-team of those."""
    from kehu.accounts.models import Team

    roots = set(user.managed_teams.values_list("id", flat=True))
    if user.team_id:
        roots.add(user.team_id)
    parents = dict(Team.objects.values_list("id", "parent_id"))
    children: dict[int, list[int]] = {}
    for team_id, parent_id in parents.items():
        children.setdefault(parent_id, []).append(team_id)
    result, stack = set(), list(roots)
    while stack:
        team_id = stack.pop()
        if team_id in result:
            continue
        result.add(team_id)
        stack.extend(children.get(team_id, []))
    return result


__all__ = ["AccessPolicy", "refusal_message", "register_hidden_fields", "FIELD_VIEW", "FIELD_MASKED",
           "FIELD_HIDDEN", "FIELD_EDIT"]
