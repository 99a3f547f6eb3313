import pytest

from kehu.accounts import services
from kehu.accounts.models import ApiKey, Role, Team, User
from kehu.core.actor import Actor
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from tests.factories import TeamFactory
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db


def test_built_in_roles_exist_with_their_scopes():
    scopes = dict(Role.objects.values_list("code", "record_scope"))
    assert scopes == {
        "admin": "all", "sales_manager": "team", "sales_rep": "own", "marketer": "all",
        "service_agent": "all", "data_steward": "all", "compliance_auditor": "all",
        "read_only": "all",
    }


def test_user_create_hashes_with_argon2_by_default_and_audits(admin_user, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    user = services.user_create(actor=Actor(user=admin_user), username="wangfang",
                                password="Kehu-Str0ng-pass", email=" WF@Example.COM ",
                                role=Role.objects.get(code="sales_rep"))
    assert user.password.startswith("argon2")
    assert user.email == "wf@example.com"
    entry = AuditEntry.objects.get(action="user.create")
    assert entry.actor_user_id == admin_user.pk
    assert entry.changes["role"] == {"before": None, "after": "sales_rep"}


def test_weak_password_is_rejected_and_nothing_is_created(admin_user):
    with pytest.raises(ValidationFailed) as info:
        services.user_create(actor=Actor(user=admin_user), username="weak", password="123")
    assert "password" in info.value.details
    assert not User.objects.filter(username="weak").exists()
    assert not AuditEntry.objects.filter(action="user.create").exists()


def test_non_admin_cannot_create_users_or_edit_roles(make_user):
    rep = make_user("sales_rep")
    before_users = User.objects.count()
    with pytest.raises(PermissionDenied):
        services.user_create(actor=Actor(user=rep), username="x", password="Kehu-Str0ng-pass")
    role = Role.objects.get(code="sales_rep")
    with pytest.raises(PermissionDenied):
        services.role_save(actor=Actor(user=rep), role=role, code=role.code, name=role.name,
                           permissions=["customer.view", "user.manage"], record_scope="all",
                           field_permissions={})
    role.refresh_from_db()
    assert User.objects.count() == before_users
    assert "user.manage" not in role.permissions and role.record_scope == "own"
    assert AuditEntry.objects.count() == 0


def test_role_save_validates_catalogue_and_records_diff(admin_user):
    role = Role.objects.get(code="read_only")
    # Later apps' migrations append their permissions; role_save stores them sorted.
    Role.objects.filter(pk=role.pk).update(permissions=sorted(role.permissions))
    role.refresh_from_db()
    with pytest.raises(ValidationFailed) as info:
        services.role_save(actor=Actor(user=admin_user), role=role, code="read_only",
                           name="Read only", permissions=["customer.fly"], record_scope="galaxy",
                           field_permissions={"customer.mobile": "sometimes"})
    assert set(info.value.details) == {"permissions", "record_scope", "field_permissions"}
    services.role_save(actor=Actor(user=admin_user), role=role, code="read_only",
                       name="Read only", permissions=list(role.permissions),
                       record_scope="team", field_permissions={"customer.mobile": "view"})
    entry = AuditEntry.objects.get(action="role.update")
    assert entry.changes["record_scope"] == {"before": "all", "after": "team"}
    assert "permissions" not in entry.changes


def test_team_cannot_be_its_own_ancestor(admin_user):
    parent = TeamFactory(name="A")
    child = TeamFactory(name="B", parent=parent)
    with pytest.raises(ValidationFailed):
        services.team_save(actor=Actor(user=admin_user), team=parent, name="A", parent=child)
    parent.refresh_from_db()
    assert parent.parent_id is None


def test_api_key_token_is_shown_once_and_stored_hashed(admin_user):
    key, token = services.apikey_create(actor=Actor(user=admin_user), user=admin_user,
                                        scopes=["read"])
    assert token.startswith("kehu_") and token not in key.key_hash
    assert services.apikey_authenticate(token).pk == key.pk
    assert services.apikey_authenticate(token[:-1] + "x") is None
    services.apikey_revoke(actor=Actor(user=admin_user), key=key)
    assert services.apikey_authenticate(token) is None


def test_api_key_scopes_are_validated(admin_user):
    with pytest.raises(ValidationFailed):
        services.apikey_create(actor=Actor(user=admin_user), user=admin_user, scopes=["root"])
    assert ApiKey.objects.count() == 0


def test_rep_may_not_issue_keys_for_someone_else(make_user):
    manager, other = make_user("sales_manager"), make_user("sales_rep")
    before = db_snapshot()
    with pytest.raises(PermissionDenied):
        services.apikey_create(actor=Actor(user=manager), user=other, scopes=["read"])
    assert db_snapshot() == before
    key, _ = services.apikey_create(actor=Actor(user=manager), user=manager, scopes=["read"])
    assert key.user == manager


def test_team_save_sets_managers(admin_user, make_user):
    boss = make_user("sales_manager")
    team = services.team_save(actor=Actor(user=admin_user), name="华东", managers=[boss])
    assert list(team.managers.all()) == [boss]
    assert Team.objects.get(name="华东").parent is None


def test_expired_keys_and_inactive_users_do_not_authenticate(admin_user, make_user):
    import datetime as dt

    from django.utils import timezone

    rep = make_user("sales_rep")
    _key, expired = services.apikey_create(actor=Actor(user=admin_user), user=rep, scopes=["read"],
                                           expires_at=timezone.now() - dt.timedelta(minutes=1))
    assert services.apikey_authenticate(expired) is None
    key, live = services.apikey_create(actor=Actor(user=admin_user), user=rep, scopes=["read"])
    found = services.apikey_authenticate(live)
    assert (found.pk, found.user.pk, found.user.role.code, found.scopes) == (
        key.pk, rep.pk, "sales_rep", ["read"])
    User.objects.filter(pk=rep.pk).update(is_active=False)
    assert services.apikey_authenticate(live) is None
