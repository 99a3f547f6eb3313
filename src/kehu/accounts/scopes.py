"""API key scopes: the three broad ones (`read`, `write`, `ingest`, every resource) and one
pair per resource (`customers:read`, `customers:write` …, `events:ingest`,
`webhooks:manage`), the one place that says which API paths belong to which resource and
what a key's scopes allow.

A key with `read` may read everything, with `write` write everything and ingest events (as
before resource scopes existed); a resource scope allows only its resource's paths
(`<resource>:write` reads too, `<resource>:manage` is both). The API answers 403
`insufficient_scope` naming the scope it needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

READ, WRITE, INGEST = "read", "write", "ingest"
BROAD = [(READ, _("read everything")), (WRITE, _("write everything")),
         (INGEST, _("ingest events"))]


@dataclass(frozen=True)
class Resource:
    code: str
    label: object
    paths: tuple[str, ...]  # the first segment of its API paths (after /api/v1/)
    actions: tuple[str, ...] = (READ, WRITE)


RESOURCES = (
    Resource("customers", _("Customers"), (
        "customers", "tags", "duplicates", "merges", "saved-views", "custom-fields",
        "field-rules", "form-layouts", "interactions", "follow-ups", "book-transfers",
        "stitches")),
    Resource("events", _("Events"), ("events", "track", "identify", "page", "screen",
                                     "alias", "group", "batch"), (READ, WRITE, INGEST)),
    Resource("sales", _("Sales"), (
        "orders", "products", "deals", "pipelines", "quotes", "contracts", "payments",
        "instalments", "invoice-requests", "receivables", "targets", "forecast",
        "attainment")),
    Resource("service", _("Service"), ("service", "tickets")),
    Resource("segments", _("Segments, rules and analysis"), (
        "segments", "rules", "rfm", "prediction", "insights", "dashboards", "reports", "quality",
        "assignment-rules")),
    Resource("privacy", _("Privacy"), ("privacy",)),
    Resource("webhooks", _("Webhooks"), ("webhooks", "webhook-deliveries"), ("manage",)),
    Resource("admin", _("Users, teams and jobs"), (
        "users", "teams", "roles", "jobs", "notifications")),
)
# Paths a key with any resource scope may call (who am I; the API's own description).
OPEN_PATHS = frozenset({"", "me", "docs", "openapi.json"})

_BY_PATH = {path: r for r in RESOURCES for path in r.paths}
_ACTION_LABELS = {READ: _("read access"), WRITE: _("write access"),
                  INGEST: _("ingest access"), "manage": _("manage access")}


def resource_scopes() -> list[tuple[str, str]]:
    """(code, label) of every resource scope, resource by resource."""
    return [(f"{r.code}:{action}", format_lazy(_("{resource}: {action}"), resource=r.label,
                                                action=_ACTION_LABELS[action]))
            for r in RESOURCES for action in r.actions]


def all_scopes() -> list[tuple[str, str]]:
    return [*BROAD, *resource_scopes()]


def resource_of(route: str) -> Resource | None:
    """The resource an API route (relative to /api/v1/) belongs to; None for open paths and
    for a path no resource claims (refused to resource-scoped keys)."""
    return _BY_PATH.get(route.split("/", 1)[0])


def needed_scope(route: str, need: str) -> str:
    """The resource scope a call needs (`customers:write`), for the error message."""
    resource = resource_of(route)
    if resource is None:
        return need
    action = need if need in resource.actions else resource.actions[-1]
    return f"{resource.code}:{action}"


def allows(scopes: list[str], route: str, need: str) -> bool:
    """Whether a key with `scopes` may make a call needing `need` (read, write, ingest) on
    `route`."""
    if need in scopes or (need == INGEST and WRITE in scopes):
        return True
    first = route.split("/", 1)[0]
    if first in OPEN_PATHS:  # any key with a resource's read or write scope
        return any(":" in s and not s.endswith(":" + INGEST) for s in scopes)
    resource = _BY_PATH.get(first)
    if resource is None:
        return False
    own = {s.split(":", 1)[1] for s in scopes if s.startswith(resource.code + ":")}
    if "manage" in own or need in own:
        return True
    return need == READ and WRITE in own
