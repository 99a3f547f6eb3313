"""Audit values are per field and masked per field everywhere: an import that adds an email
and a WeChat ID to a customer audits one key per identifier kind, and a marketer (email
shown, WeChat masked) never reads the WeChat ID in clear — on the card's history, the
audit page or its export. Entries written before (one joined "email:…, wechat:…" value)
are masked part by part."""

from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from kehu.accounts.models import Role
from kehu.cards.selectors import card_history
from kehu.core.actor import Actor
from kehu.core.models import AuditEntry
from kehu.customers import fields as catalogue
from kehu.customers import services
from kehu.interchange.services import import_job_create, import_job_run
from tests.factories import UserFactory, create_customer

pytestmark = pytest.mark.django_db

SECRET = "wx_secret_new"


@pytest.fixture
def imported(admin_user, tmp_path, settings):
    """A customer with an email and a WeChat ID; an import adds a second of each."""
    settings.MEDIA_ROOT = tmp_path / "media"
    customer = create_customer(name="王芳", mobile="13812345678", email="old@example.com",
                               wechat="wx_old_1")
    path = tmp_path / "a.csv"
    path.write_text(f"客户名称,手机,邮箱,微信\n王芳,13812345678,new@example.com,{SECRET}\n",
                    encoding="utf-8")
    actor = Actor(user=admin_user, via="web")
    job = import_job_create(actor=actor, file=path, filename=path.name)
    job = import_job_run(job_id=job.pk, actor=actor)
    assert job.updated == 1
    return customer


@pytest.fixture
def marketer(make_user):
    return make_user("marketer", username="mkt")


def test_identifier_changes_are_audited_one_key_per_kind(imported):
    entry = AuditEntry.objects.filter(action="customer.update").get()
    assert entry.changes["identifier.email"] == {"before": None, "after": "new@example.com"}
    assert entry.changes["identifier.wechat"] == {"before": None, "after": SECRET}
    assert "identifier" not in entry.changes


def test_a_marketer_reads_the_email_but_never_the_masked_wechat(imported, marketer):
    history = card_history(user=marketer, customer=imported)
    update = next(h for h in history if h.action == "customer.update")
    assert update.changes["identifier.email"]["after"] == "new@example.com"  # view: clear
    shown = update.changes["identifier.wechat"]["after"]
    assert shown and shown != SECRET
    assert SECRET not in repr([h.changes for h in history])


def test_a_joined_value_of_older_entries_is_masked_part_by_part(marketer):
    changes = {"identifier": {"before": None,
                              "after": f"email:new@example.com, wechat:{SECRET}"}}
    shown = catalogue.present_changes(marketer.access, changes)["identifier"]["after"]
    assert shown.startswith("email:new@example.com, wechat:")
    assert SECRET not in shown


def test_hidden_fields_are_left_out(imported):
    role = Role.objects.create(code="no_wechat", name="无微信",
                               permissions=["customer.view"], record_scope="all",
                               field_permissions={"customer.wechat": "hidden",
                                                  "customer.email": "view"})
    user = UserFactory(role=role, role_code=None)
    update = next(h for h in card_history(user=user, customer=imported)
                  if h.action == "customer.update")
    assert "identifier.wechat" not in update.changes and "identifier.email" in update.changes


def test_the_audit_page_and_its_export_mask_per_field(imported, client):
    role = Role.objects.create(code="masked_auditor", name="审计员（掩码）",
                               permissions=["customer.view", "audit.view", "audit.export"],
                               record_scope="all", field_permissions={"customer.email": "view"})
    auditor = UserFactory(role=role, role_code=None)
    client.force_login(auditor)
    page = client.get(reverse("core:audit")).content.decode()
    assert "new@example.com" in page and SECRET not in page
    export = b"".join(client.get(reverse("core:audit_export") + "?format=csv")
                      .streaming_content).decode("utf-8-sig")
    assert "new@example.com" in export and SECRET not in export
    rows = list(csv.reader(io.StringIO(export)))
    assert len(rows) > 1
    # The stored entry itself is untouched (the chain still verifies).
    from kehu.core.audit import audit_verify

    assert audit_verify().ok


def test_card_services_audit_identifiers_per_kind(imported, admin_user, marketer):
    actor = Actor(user=admin_user, via="web")
    services.identifier_add(actor=actor, customer=imported, kind="wechat", value="wx_card_2")
    entry = AuditEntry.objects.filter(action="customer.identifier_add").get()
    assert entry.changes["identifier.wechat"] == {"before": None, "after": "wx_card_2"}
    history = card_history(user=marketer, customer=imported)
    assert "wx_card_2" not in repr([h.changes for h in history])
