"""API: the current user, users, teams and roles. Thin: schemas in, services/selectors, schemas out."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from kehu.accounts import selectors, services
from kehu.accounts.models import Role, Team
from kehu.core.http import ERROR_RESPONSES, actor_of
from kehu.core.schemas import Flag, Id, Input, Page

router = Router(tags=["accounts"])


class RoleOut(Schema):
    id: int
    code: str
    name: str
    record_scope: str
    permissions: list[str]
    field_permissions: dict[str, str]


class TeamRef(Schema):
    id: int
    name: str


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    email: str
    is_active: bool
    role: str | None = None
    team: TeamRef | None = None

    @staticmethod
    def resolve_role(obj):
        if isinstance(obj, dict):  # MeOut is built from an already-resolved dict
            return obj.get("role")
        return obj.role.code if obj.role_id else None


class MeOut(UserOut):
    permissions: list[str]
    record_scope: str
    field_permissions: dict[str, str]
    language: str


class UserIn(Input):
    username: str = Field(..., min_length=1, max_length=150)
    password: str
    display_name: str = ""
    email: str = ""
    role: str | None = None
    team_id: Id | None = None


class UserPatch(Input):
    display_name: str | None = None
    email: str | None = None
    role: str | None = None
    team_id: Id | None = None
    is_active: Flag | None = None


class TeamOut(Schema):
    id: int
    name: str
    parent_id: int | None
    region: str
    managers: list[str]

    @staticmethod
    def resolve_managers(team):
        return [m.username for m in team.managers.all()]


class TeamIn(Input):
    name: str = Field(..., min_length=1, max_length=100)
    parent_id: Id | None = None
    region: str = ""
    managers: list[str] = []


def _role(code):
    return get_object_or_404(Role, code=code) if code else None


def _team(team_id):
    return get_object_or_404(Team, pk=team_id) if team_id else None


@router.get("/me", response={200: MeOut, **ERROR_RESPONSES}, summary="The signed-in user")
def me(request):
    user = request.user
    policy = user.access
    data = UserOut.from_orm(user).dict()
    data.update(
        permissions=sorted(policy.permissions),
        record_scope=policy.scope,
        field_permissions={name: policy.field_mode(name) for name in sorted(policy.field_modes)}
        if not policy.is_superuser
        else dict(policy.field_modes),
        language=request.LANGUAGE_CODE,
    )
    return data


@router.get("/users", response=list[UserOut], summary="List users")
@paginate(Page)
def list_users(request, search: str = ""):
    return selectors.user_list(user=request.user, search=search)


@router.get("/users/{user_id}", response={200: UserOut, **ERROR_RESPONSES}, summary="One user")
def get_user(request, user_id: Id):
    return selectors.user_get(user=request.user, user_id=user_id)


@router.post("/users", response={201: UserOut, **ERROR_RESPONSES}, summary="Create a user")
def create_user(request, payload: UserIn):
    user = services.user_create(
        actor=actor_of(request), username=payload.username, password=payload.password,
        display_name=payload.display_name, email=payload.email, role=_role(payload.role),
        team=_team(payload.team_id),
    )
    return Status(201, user)


@router.patch("/users/{user_id}", response={200: UserOut, **ERROR_RESPONSES}, summary="Update a user")
def update_user(request, user_id: Id, payload: UserPatch):
    target = selectors.user_get(user=request.user, user_id=user_id)
    fields = payload.dict(exclude_unset=True)

    def given(name, current):  # null leaves a text or yes/no field as it is
        return current if fields.get(name) is None else fields[name]

    return services.user_update(
        actor=actor_of(request), user=target,
        display_name=given("display_name", target.display_name),
        email=given("email", target.email),
        role=_role(fields["role"]) if "role" in fields else target.role,
        team=_team(fields["team_id"]) if "team_id" in fields else target.team,
        is_active=given("is_active", target.is_active),
    )


@router.get("/teams", response=list[TeamOut], summary="List teams")
@paginate(Page)
def list_teams(request):
    return selectors.team_list(user=request.user)


@router.post("/teams", response={201: TeamOut, **ERROR_RESPONSES}, summary="Create a team")
def create_team(request, payload: TeamIn):
    managers = list(selectors.user_list(user=request.user).filter(username__in=payload.managers))
    team = services.team_save(
        actor=actor_of(request), name=payload.name, parent=_team(payload.parent_id),
        region=payload.region, managers=managers,
    )
    return Status(201, team)


@router.get("/roles", response=list[RoleOut], summary="List roles")
def list_roles(request):
    return list(selectors.role_list(user=request.user))
