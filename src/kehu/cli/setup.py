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
    modes_fixed: int = 0  # files and folders under KEHU_HOME made private by this run


def login_file() -> Path:
    return Path(settings.KEHU_HOME) / LOGIN_FILE


def home_make_private(home: Path | None = None) -> int:
    """Make everything under KEHU_HOME readable by its owner only: folders 700, files 600
    (the database and its WAL, uploads, reports, Huey's queue, keys). New files get these
    modes from the umask set in settings; this fixes those an older kehu created. Returns how
    many were changed. Symbolic links are left alone."""
    home = Path(home or settings.KEHU_HOME)
    changed = 0
    for root, folders, files in os.walk(home):
        for name, mode in [(n, 0o700) for n in folders] + [(n, 0o600) for n in files]:
            path = Path(root) / name
            try:
                info = path.lstat()
            except OSError:
                continue
            if path.is_symlink() or info.st_uid != os.getuid():
                continue
            if info.st_mode & 0o777 & ~mode:
                path.chmod(info.st_mode & 0o777 & mode)
                changed += 1
    if home.stat().st_mode & 0o077:
        home.chmod(0o700)
        changed += 1
    return changed


def initialise(*, admin_username: str = "admin", verbosity: int = 0) -> InitResult:
    """Create or migrate the database, ensure the built-in roles and a first admin, make
    KEHU_HOME private. Idempotent."""
    call_command("migrate", interactive=False, verbosity=verbosity)
    modes_fixed = home_make_private()
    actor = Actor.system(via="cli")
    created_roles = accounts.roles_ensure_defaults(actor=actor)
    existing = User.objects.filter(is_superuser=True).order_by("pk").first()
    if existing is not None:
        return InitResult(existing.username, None, len(created_roles), modes_fixed)
    password = secrets.token_urlsafe(12)
    accounts.user_create(
        actor=actor, username=admin_username, password=password,
        display_name="管理员", role=Role.objects.get(code="admin"), is_superuser=True,
    )
    path = login_file()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{admin_username}\n{password}\n")
    return InitResult(admin_username, password, len(created_roles), modes_fixed)


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
