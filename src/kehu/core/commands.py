"""Helpers shared by the `kehu` management commands."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError
from django.utils.translation import gettext as _


def acting_user(username: str | None, *, option: str | None):
    """The active user a command acts as: the one named, else the first superuser.

    With `option` (the flag that names a user) a missing superuser is an error naming it;
    without, None is returned and the command acts as the system.
    """
    users = get_user_model().objects.filter(is_active=True)
    if username:
        user = users.filter(username=username).first()
        if user is None:
            raise CommandError(_("No active user “%s”.") % username)
        return user
    user = users.filter(is_superuser=True).order_by("pk").first()
    if user is None and option:
        raise CommandError(_("No superuser to act as; name a user with %s.") % option)
    return user
