"""Schemathesis over every operation of /api/v1/openapi.json, in process, as an admin key and as
a read-only key: no server error (5xx) and no response that breaks its documented schema.

A bounded number of examples per operation keeps it quick; `derandomize` makes a failure
reproduce on every run. The probe by hand (more examples): docs/security.md, "## API".
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.api.wsgi import in_process_wsgi

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", in_process_wsgi)

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture
def probe_keys(db, make_user):
    """An admin's key and a read-only user's key, and a few rows for ids to find."""
    from tests.factories import ApiKeyFactory, CustomerFactory

    admin = make_user("admin", username="probe-root", is_superuser=True)
    reader = make_user("read_only", username="probe-reader")
    for _ in range(3):
        CustomerFactory()
    _key, admin_token = ApiKeyFactory.issue(user=admin, scopes=("read", "write"))
    _key, reader_token = ApiKeyFactory.issue(user=reader, scopes=("read",))
    return {"admin": admin_token, "reader": reader_token}


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_as_admin_key(case, probe_keys):
    case.call_and_validate(headers={"Authorization": f"Bearer {probe_keys['admin']}"},
                           checks=CHECKS)


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_every_operation_as_read_only_key(case, probe_keys):
    case.call_and_validate(headers={"Authorization": f"Bearer {probe_keys['reader']}"},
                           checks=CHECKS)
