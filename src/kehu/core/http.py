"""Helpers shared by every app's API routers and pages (no ORM, no domain rules)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Schema

from kehu.core.actor import Actor


class ErrorOut(Schema):
    """Every API error: a stable machine code, a message in the caller's language, details."""

    code: str
    message: str
    details: Any = None


def actor_of(request: HttpRequest) -> Actor:
    return Actor.from_request(request)


ERROR_RESPONSES = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut,
                   422: ErrorOut}
