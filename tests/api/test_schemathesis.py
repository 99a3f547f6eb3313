"""Schemathesis over every operation of /api/v1/openapi.json, in process, as an admin key and as
a read-only key: no server error (5xx) and no response outside its documented schema.

In the suite it is bounded so that it stays quick on two cores: the schema's examples and a
few derandomized fuzzed cases (valid and invalid) per operation. `KEHU_PROBE_FULL=1` makes it
the full probe: schemathesis's coverage phase too (every boundary and type the schema implies)
and KEHU_PROBE_EXAMPLES fuzzed cases per operation (docs/security.md, "## API")."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.api.wsgi import in_process_wsgi

FULL = os.environ.get("KEHU_PROBE_FULL") == "1"
EXAMPLES = int(os.environ.get("KEHU_PROBE_EXAMPLES", "100" if FULL else "6"))

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", in_process_wsgi)
schema.config.phases.coverage.enabled = FULL

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
BOUNDED = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                   suppress_health_check=list(HealthCheck))


@pytest.fixture
def probe_keys(db, make_user):
    """An admin's key and a read-only user's key, and a few rows for generated ids to find."""
    from tests.factories import ApiKeyFactory, CustomerFactory

    admin = make_user("admin", username="probe-root", is_superuser=True)
    reader = make_user("read_only", username="probe-reader")
    for _ in range(3):
        CustomerFactory()
    _key, admin_token = ApiKeyFactory.issue(user=admin, scopes=("read", "write"))
    _key, reader_token = ApiKeyFactory.issue(user=reader, scopes=("read",))
    return {"admin": admin_token, "reader": reader_token}


def test_the_probe_covers_every_operation():
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 90
    assert {op.method.upper() for op in operations} == {"GET", "POST", "PUT", "PATCH", "DELETE"}


@schema.parametrize()
@BOUNDED
def test_every_operation_as_admin_key(case, probe_keys):
    case.call_and_validate(headers={"Authorization": f"Bearer {probe_keys['admin']}"},
                           checks=CHECKS)


@schema.parametrize()
@BOUNDED
def test_every_operation_as_read_only_key(case, probe_keys):
    case.call_and_validate(headers={"Authorization": f"Bearer {probe_keys['reader']}"},
                           checks=CHECKS)
