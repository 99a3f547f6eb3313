"""Helpers shared by the `kehu` management commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

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


def read_json_source(source: str, stdin=None):
    """The JSON a command reads from a file, or from standard input when `source` is "-";
    a file that cannot be read or is not JSON is an error naming it (and the line)."""
    label = _("standard input") if source == "-" else source
    try:
        text = (stdin or sys.stdin).read() if source == "-" else Path(source).read_text(
            encoding="utf-8")
    except OSError as exc:
        raise CommandError(_("Cannot read %(path)s: %(error)s")
                           % {"path": label, "error": exc.strerror or exc}) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(_("%(path)s is not JSON: line %(line)d, column %(col)d: %(msg)s")
                           % {"path": label, "line": exc.lineno, "col": exc.colno,
                              "msg": exc.msg}) from None
