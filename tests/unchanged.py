""""Nothing changed": a snapshot of every table a denied request could have written, for the
denial tests (STYLE.md, rule 9: for denied cases, assert that nothing changed).

    before = db_snapshot()
    ...the denied call...
    assert db_snapshot() == before

Every row of every kehu table (customers, their card, jobs, the audit log and its head …)
with every field, so a denied call that wrote a row, changed a field or appended an audit
entry is caught, wherever it wrote. Left out: what merely signing in or calling the API moves
(sessions, django-axes' access logs, a user's last login, an API key's last use).
"""

from __future__ import annotations

from typing import Any

IGNORED_MODELS = frozenset({"sessions.Session", "axes.AccessAttempt", "axes.AccessLog",
                            "axes.AccessFailureLog", "axes.AccessAttemptExpiration",
                            "admin.LogEntry",
                            # Requests per key per day: counted for refused calls too, like
                            # the key's last use.
                            "accounts.ApiKeyUsage"})
IGNORED_FIELDS = {"accounts.User": {"last_login"}, "accounts.ApiKey": {"last_used_at"}}


def db_snapshot() -> dict[str, list[dict[str, Any]]]:
    from django.apps import apps

    state = {}
    for model in apps.get_models():
        label = model._meta.label
        if label in IGNORED_MODELS or not model._meta.managed:
            continue
        skip = IGNORED_FIELDS.get(label, set())
        names = [f.attname for f in model._meta.concrete_fields if f.attname not in skip]
        state[label] = list(model._base_manager.order_by("pk").values(*names))
    return state
