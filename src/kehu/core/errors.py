"""Domain errors with stable codes. Services raise them; API and pages render them.

The code is a contract for API clients; the message is translated for people.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code = "error"
    status = 400
    default_message = _("The request could not be completed.")

    def __init__(self, message: Any = None, *, details: Any = None, code: str | None = None):
        self.message = message if message is not None else self.default_message
        self.details = details if details is not None else {}
        if code:
            self.code = code
        super().__init__(str(self.message))


class ValidationFailed(DomainError):
    """Input was rejected; details maps each field to its list of messages."""

    code = "validation_error"
    status = 422
    default_message = _("Some fields are not valid.")


class PermissionDenied(DomainError):
    code = "permission_denied"
    status = 403
    default_message = _("You do not have permission to do this.")


class NotFound(DomainError):
    code = "not_found"
    status = 404
    default_message = _("Not found.")


class RateLimited(DomainError):
    """The caller used up an allowance (e.g. sensitive lookups per hour); try again later."""

    code = "rate_limited"
    status = 429
    default_message = _("Too many lookups; try again later.")


class Conflict(DomainError):
    """Someone else changed the record since the caller read it (optimistic locking)."""

    code = "conflict"
    status = 409
    default_message = _("Someone else changed this record since you opened it.")


def validation_details(exc) -> dict[str, list[str]]:
    """Flatten a Django ValidationError into {field: [messages]}."""
    if hasattr(exc, "message_dict"):
        return {field: [str(m) for m in messages] for field, messages in exc.message_dict.items()}
    return {"__all__": [str(m) for m in exc.messages]}
