"""First-run setup shared by `kehu init` and `kehu demo`: migrate, roles, first admin."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from kehu.accounts import services as accounts
from kehu.accounts.models import Role, User
from kehu.core.actor import Actor

LOGIN_FILE = "admin-login.txt"


@dataclass(frozen=True)
class InitResult:
    admin_username: str
    admin_password: str | None  # None when the admin existed already
    roles_created: int


def login_file() -> Path:
    return Path(settings.KEHU_HOME) / LOGIN_FILE


def initialise(*, admin_username: str = "admin", verbosity: int = 0) -> InitResult:
    """Create or migrate the database, ensure the built-in roles and a first admin. Idempotent."""
    call_command("migrate", interactive=False, verbosity=verbosity)
    actor = Actor.system(via="cli")
    created_roles = accounts.roles_ensure_defaults(actor=actor)
    existing = User.objects.filter(is_superuser=True).order_by("pk").first()
    if existing is not None:
        return InitResult(existing.username, None, len(created_roles))
    password = secrets.token_urlsafe(12)
    accounts.user_create(
        actor=actor, username=admin_username, password=password,
        display_name="管理员", role=Role.objects.get(code="admin"), is_superuser=True,
    )
    path = login_file()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{admin_username}\n{password}\n")
    return InitResult(admin_username, password, len(created_roles))


def remembered_login() -> tuple[str, str] | None:
    """The first admin's login, if it was generated here and still works."""
    path = login_file()
    if not path.exists():
        return None
    lines = path.read_text().split()
    if len(lines) < 2:
        return None
    user = User.objects.filter(username=lines[0]).first()
    if user is None or not user.check_password(lines[1]):
        return None
    return lines[0], lines[1]
