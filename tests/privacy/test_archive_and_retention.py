"""The access archive holds every interaction, order, event and ticket of the person (JSON and
XLSX, zh-Hans labels); retention deletes what its policies say, dry runs delete nothing; the
GB18030 upload of the issue is never readable on disk and is gone once the job ends."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from kehu.core.actor import Actor
from kehu.core.models import AuditEntry
from kehu.interactions.models import Event, Interaction
from kehu.transactions.models import Order, Ticket
from tests.privacy.person import PERSON, id_number, make_person

pytestmark = pytest.mark.django_db


@pytest.fixture
def actor(admin_user):
    return Actor(user=admin_user)


def test_archive_has_every_row_of_the_person(actor, tmp_path):
    customer_id = make_person(actor, tmp_path)
    out = tmp_path / "out.zip"
    call_command("privacy", "export", str(customer_id), str(out), stdout=io.StringIO())
    with zipfile.ZipFile(out) as archive:
        assert set(archive.namelist()) == {"archive.json", "archive.xlsx", "README.txt"}
        data = json.loads(archive.read("archive.json"))
        workbook = archive.read("archive.xlsx")
    assert data["card"]["name"] == PERSON["name"] and data["card"]["id_number"] == id_number()
    tables = data["tables"]

    def ids(key):
        return {row["id"] for row in tables[key]["rows"]}

    assert ids("interactions.Interaction.customer") == set(
        Interaction.objects.filter(customer_id=customer_id).values_list("pk", flat=True))
    assert ids("transactions.Order.customer") == set(
        Order.objects.filter(customer_id=customer_id).values_list("pk", flat=True))
    assert ids("interactions.Event.customer") == set(
        Event.objects.filter(customer_id=customer_id).values_list("pk", flat=True))
    assert ids("transactions.Ticket.customer") == set(
        Ticket.objects.filter(customer_id=customer_id).values_list("pk", flat=True))
    assert tables["transactions.OrderLine.order"]["rows"][0]["quantity"]
    assert {r["value"] for r in tables["customers.Identifier.customer"]["rows"]} >= {
        "+86" + PERSON["mobile"], PERSON["email"], PERSON["wechat"]}
    assert tables["privacy.ConsentRecord.customer"]["rows"][0]["status"]["code"] == "granted"
    assert [a["action"] for a in data["sensitive_field_access"]] == ["customer.reveal"]
    assert tables["transactions.Order.customer"]["headers"]["notes"] == "备注"
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(workbook), read_only=True)
    assert book.sheetnames[0] == "客户资料卡"
    assert AuditEntry.objects.filter(action="customer.export_archive",
                                     object_id=str(customer_id)).exists()


def test_archive_api_is_for_privacy_managers(admin_user, make_user, api_client_for):
    from tests.factories import create_customer

    customer = create_customer(name="接口客户")
    assert api_client_for(make_user("sales_manager")).get(
        f"/api/v1/privacy/customers/{customer.pk}/archive").status_code == 403
    response = api_client_for(admin_user).get(f"/api/v1/privacy/customers/{customer.pk}/archive")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"


def _gb18030_csv(path: Path, rows: int = 1000) -> list[str]:
    lines = ["姓名,手机,身份证号"]
    secrets = []
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    for n in range(rows):
        body = f"11010519850101{n:03d}"
        number = body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights,
                                                                     strict=True)) % 11]
        phone = f"139{n:08d}"
        lines.append(f"客户{n},{phone},{number}")
        secrets += [phone, number]
    path.write_bytes("\n".join(lines).encode("gb18030"))
    return secrets


def _uploads() -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "imports"
    return [p for p in root.glob("*") if p.is_file() and not p.name.startswith("job-")]


def test_the_gb18030_upload_is_encrypted_at_rest_and_deleted_when_the_job_ends(actor, tmp_path):
    from kehu.interchange.services import import_job_create, import_job_run

    source = tmp_path / "客户.csv"
    secrets = _gb18030_csv(source, rows=1000)
    before = set(_uploads())
    job = import_job_create(actor=actor, file=source, filename=source.name)
    stored = Path(settings.MEDIA_ROOT) / job.file
    data = stored.read_bytes()
    assert data.startswith(b"KEHUENC1")
    for secret in secrets[:50] + secrets[-50:]:
        assert secret.encode("gb18030") not in data and secret.encode() not in data
    job = import_job_run(job_id=job.pk, actor=actor)
    assert job.created == 1000
    assert not stored.exists() and stored not in set(_uploads()) - before


def test_retention_deletes_kept_uploads_after_their_days_and_dry_run_keeps_them(actor, tmp_path):
    from kehu.interchange.models import ImportJob
    from kehu.interchange.services import import_job_create
    from kehu.privacy.retention import retention_run

    source = tmp_path / "kept.csv"
    _gb18030_csv(source, rows=3)
    job = import_job_create(actor=actor, file=source, filename=source.name)  # never run
    stored = Path(settings.MEDIA_ROOT) / job.file
    ImportJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - dt.timedelta(days=8))
    dry = retention_run(actor=actor, dry_run=True)
    assert dry["import_uploads"]["count"] == 1 and stored.exists()
    out = io.StringIO()
    call_command("privacy", "retention", "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert result["classes"]["import_uploads"]["count"] == 1
    assert not stored.exists() and ImportJob.objects.get(pk=job.pk).file == ""
    assert AuditEntry.objects.filter(action="retention.run").count() == 1


def test_retention_deletes_old_events_only(actor):
    from kehu.privacy.retention import retention_run
    from tests.factories import EventFactory

    old = EventFactory(occurred_at=timezone.now() - dt.timedelta(days=800))
    new = EventFactory()
    retention_run(actor=actor)
    assert not Event.objects.filter(pk=old.pk).exists()
    assert Event.objects.filter(pk=new.pk).exists()


def test_retention_run_api_is_reachable_and_dry_run_changes_nothing(make_user, api_client_for):
    # POST …/retention/run used to be taken by the …/retention/{data_class} pattern (405).
    from tests.factories import CustomerFactory

    customer = CustomerFactory()
    old = Event.objects.create(customer=customer, event_type="page_view",
                               occurred_at=timezone.now() - dt.timedelta(days=800))
    compliance = api_client_for(make_user("compliance_auditor"))
    answer = compliance.post("/api/v1/privacy/retention/run", {"dry_run": True},
                             content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["dry_run"] is True
    assert Event.objects.filter(pk=old.pk).exists()
    refused = api_client_for(make_user("sales_rep")).post(
        "/api/v1/privacy/retention/run", {"dry_run": True}, content_type="application/json")
    assert refused.status_code == 403
