"""One phone normaliser for the API and the import (issue 19, item 7): the same inputs are
accepted or refused by both, and an accepted one is the same number in both (the import
finds the customer the API created instead of making another)."""

from __future__ import annotations

import json

import pytest

from kehu.interchange.models import ImportJob
from kehu.interchange.services import import_job_create, import_job_run

ACCEPTED = ["13900000026", "１３９００００００２６", "+86 139 0000 0026", "１３９ ００００ ００２６",
            "１３９－００００－００２６", "＋８６１３９００００００２６", "(010)62345678", "139-0000-0026"]
REFUSED = ["-13900000026", "－１３９００００００２６", "−13900000026", "13900000026-", "12345",
           "139000000260000000000000000"]


@pytest.mark.parametrize("raw", ACCEPTED + REFUSED)
def test_api_and_import_agree(raw, actor, admin_user, api_client_for, tmp_path):
    client = api_client_for(admin_user)
    response = client.post("/api/v1/customers", data=json.dumps({"name": "甲", "mobile": raw}),
                           content_type="application/json")
    path = tmp_path / "phones.csv"
    # The same person (a row naming someone else would be a name conflict: issue 11).
    path.write_text(f"客户名称,手机\n甲,{raw}\n", encoding="utf-8")
    job = import_job_run(job_id=import_job_create(actor=actor, file=path,
                                                  filename="phones.csv").pk, actor=actor)
    assert job.status == ImportJob.DONE
    if raw in ACCEPTED:
        assert response.status_code == 201, response.content
        assert (job.created, job.updated + job.unchanged, job.rejected) == (0, 1, 0)
    else:
        assert response.status_code == 422, response.content
        assert (job.created, job.rejected) == (0, 1)
