"""Helpers for server-rendered pages: permission gates and showing service errors on forms."""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied

from kehu.core.errors import DomainError


def requires(permission: str):
    """Sign-in required, then the permission; otherwise a 403 page (nothing is done)."""

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.access.can(permission):
                raise DjangoPermissionDenied(permission)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def show_errors(form, exc: DomainError) -> None:
    """Attach a service's field errors to the form fields they name (others go on top)."""
    details = exc.details if isinstance(exc.details, dict) else {}
    placed = False
    for field, messages in details.items():
        if not isinstance(messages, list | tuple):
            continue
        target = field if field in form.fields else None
        for message in messages:
            form.add_error(target, str(message))
            placed = True
    if not placed:
        form.add_error(None, str(exc.message))
