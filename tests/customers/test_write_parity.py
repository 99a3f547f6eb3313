"""PARITY: the same rows through the per-row services (customer_create / customer_update)
and through the import (customers_upsert_many) give the same outcomes, the same errors
(field and message) and the same audit entries — every importable field and every rule:
the data steward's field rules (required, format, allowed values), person/organisation
fields, ID-number agreement, required custom fields, company, province and city."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.utils import translation

from kehu.core.actor import Actor
from kehu.core.errors import ValidationFailed
from kehu.core.models import AuditEntry
from kehu.customers import services
from kehu.customers.models import Address, Customer, Identifier
from kehu.interchange.selectors import import_row_errors
from kehu.interchange.services import import_job_create, import_job_run
from kehu.quality import services as quality_services
from tests.factories import CustomFieldFactory

pytestmark = pytest.mark.django_db

# field -> the column header the import file names it by
COLUMNS = {
    "name": "客户名称", "kind": "客户类型", "mobile": "手机", "email": "邮箱", "wechat": "微信",
    "gender": "性别", "birthday": "生日", "id_number": "身份证号", "address": "地址",
    "province": "省份", "city": "城市", "company": "公司名称", "title": "职位",
    "uscc": "统一社会信用代码", "industry": "行业", "source": "来源",
    "lifecycle_stage": "阶段", "notes": "备注", "custom.level": "客户等级",
}
ID_NUMBER = "11010519491231002X"  # born 1949-12-31, female

CREATES = [
    # every person field, all good
    {"name": "王芳", "mobile": "138 1234 5678", "email": "Wang.Fang@Example.com",
     "wechat": "wangfang_88", "gender": "female", "birthday": "1949-12-31",
     "id_number": ID_NUMBER, "address": "浙江省杭州市西湖区文三路90号",
     "company": "阿里巴巴（中国）有限公司", "title": "采购经理", "source": "展会",
     "lifecycle_stage": "prospect", "notes": "老客户介绍", "custom.level": "3"},
    # the required-email rule
    {"name": "李四", "mobile": "13900000002", "custom.level": "2"},
    # the mobile format rule (a Hong Kong number is a valid phone, not a mainland mobile)
    {"name": "陈大文", "mobile": "+852 6123 4567", "email": "chan@example.hk",
     "custom.level": "1"},
    # the allowed-values rule on the source
    {"name": "赵六", "email": "zhao@example.com", "source": "地推", "custom.level": "2"},
    # the ID number disagrees with the birthday
    {"name": "孙七", "email": "sun@example.com", "id_number": ID_NUMBER,
     "birthday": "1950-01-01", "custom.level": "2"},
    # the required custom field is missing
    {"name": "周八", "email": "zhou@example.com"},
    # province and city without an address; the ID number fills birthday and gender
    {"name": "吴九", "email": "wu@example.com", "province": "广东", "city": "深圳",
     "id_number": "44030519900101123X", "custom.level": "4"},
    # an organisation with its own fields
    {"name": "深圳市某某科技有限公司", "kind": "organisation", "email": "info@moumou.cn",
     "uscc": "91350100M000100Y43", "industry": "软件", "source": "官网"},
    # a person field on an organisation
    {"name": "某某贸易有限公司", "kind": "organisation", "email": "trade@example.com",
     "industry": "贸易", "company": "某某集团"},
]

# Updates of the customers the creates made, matched by email (as the import matches).
UPDATES = [
    {"name": "王芳", "email": "wang.fang@example.com", "notes": "续约", "title": "采购总监",
     "company": "阿里云"},
    {"name": "吴九", "email": "wu@example.com", "source": "地推"},  # the allowed-values rule
    {"name": "吴九", "email": "wu@example.com", "mobile": "13700000009", "province": "广东",
     "city": "广州"},
    {"name": "深圳市某某科技有限公司", "email": "info@moumou.cn", "industry": "硬件"},
]


@pytest.fixture
def book(db):
    system = Actor.system(via="system")
    CustomFieldFactory(key="level", label="客户等级", field_type="number", required=True,
                       applies_to="person")
    for rule in ({"field": "email", "rule": "required"},
                 {"field": "mobile", "rule": "format", "pattern": r"\+861[3-9]\d{9}",
                  "message": "%(field)s must be a mainland mobile."},
                 {"field": "source", "rule": "allowed", "allowed_values": ["展会", "官网"]}):
        quality_services.field_rule_create(actor=system, **rule)


def _changes(row: dict) -> dict:
    values = {k: v for k, v in row.items() if not k.startswith("custom.")}
    custom = {k[len("custom."):]: v for k, v in row.items() if k.startswith("custom.")}
    if values.get("province") or values.get("city"):
        values["address"] = {"province": values.pop("province", ""),
                             "city": values.pop("city", ""),
                             "raw": values.pop("address", "") or ""} if not values.get(
            "address") else values["address"]
        values.pop("province", None)
        values.pop("city", None)
    if custom:
        values["custom"] = custom
    return values


def _per_row_create(actor, row) -> tuple[str, set]:
    values = _changes(row)
    try:
        services.customer_create(actor=actor, **values)
    except ValidationFailed as exc:
        return "rejected", {(f, m) for f, ms in exc.details.items() for m in ms}
    return "created", set()


def _per_row_update(actor, row) -> tuple[str, set]:
    customer = Customer.objects.get(primary_email=row["email"].lower(),
                                    status=Customer.STATUS_ACTIVE)
    values = _changes({k: v for k, v in row.items() if k != "email"})
    try:
        updated = services.customer_update(actor=actor, customer=customer,
                                           expected_version=None, changes=values)
    except ValidationFailed as exc:
        return "rejected", {(f, m) for f, ms in exc.details.items() for m in ms}
    return ("updated" if updated.version != customer.version else "unchanged"), set()


def _import(actor, tmp_path: Path, rows: list[dict], name: str):
    fields = [f for f in COLUMNS if any(f in row for row in rows)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([COLUMNS[f] for f in fields])
    for row in rows:
        writer.writerow([row.get(f, "") for f in fields])
    path = tmp_path / name
    path.write_text(buffer.getvalue(), encoding="utf-8")
    job = import_job_create(actor=actor, file=path, filename=path.name,
                            options={"precedence": ["email", "mobile"]})
    job = import_job_run(job_id=job.pk, actor=actor)
    by_header = {header: field for field, header in COLUMNS.items()}
    errors: dict[int, set] = {}
    for error in import_row_errors(job):
        errors.setdefault(error.row - 2, set()).add((by_header.get(error.column, error.column),
                                                     error.reason))
    return job, errors


def _stored() -> list[dict]:
    """Every customer as stored: columns, identifiers, primary address."""
    out = []
    for c in Customer.objects.order_by("pk"):
        out.append({
            "columns": {f: getattr(c, f) for f in (
                "kind", "name", "gender", "birthday", "title", "company", "uscc", "industry",
                "source", "lifecycle_stage", "notes", "custom", "province", "city", "region",
                "primary_mobile", "primary_email", "id_number_masked", "version")},
            "identifiers": sorted(Identifier.objects.filter(customer=c, is_live=True)
                                  .values_list("kind", "value", "is_primary")),
            "address": list(Address.objects.filter(customer=c, is_primary=True).values_list(
                "province", "city", "district", "detail", "region")),
        })
    return out


def _audit(since: int) -> list[tuple[str, dict]]:
    return [(e.action, e.changes) for e in AuditEntry.objects.filter(
        seq__gt=since, object_type="customer").order_by("seq")]


def _last_seq() -> int:
    entry = AuditEntry.objects.order_by("-seq").first()
    return entry.seq if entry else 0


def test_the_services_and_the_import_decide_every_row_alike(book, admin_user, tmp_path,
                                                            settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    actor = Actor(user=admin_user, via="web")
    with translation.override("en"):
        # The per-row services.
        start = _last_seq()
        per_row = [_per_row_create(actor, row) for row in CREATES]
        per_row += [_per_row_update(actor, row) for row in UPDATES]
        stored_per_row, audit_per_row = _stored(), _audit(start)
        Customer.objects.all().delete()

        # The import: the same rows, one file of creates and one of updates.
        start = _last_seq()
        job, errors = _import(actor, tmp_path, CREATES, "creates.csv")
        imported = [("rejected" if i in errors else "created", errors.get(i, set()))
                    for i in range(len(CREATES))]
        assert (job.created, job.rejected) == (
            sum(1 for o, _e in imported if o == "created"),
            sum(1 for o, _e in imported if o == "rejected"))
        job, errors = _import(actor, tmp_path, UPDATES, "updates.csv")
        outcomes = iter(["rejected" if i in errors else None for i in range(len(UPDATES))])
        updates = [(next(outcomes) or "updated", errors.get(i, set()))
                   for i in range(len(UPDATES))]
        assert job.updated == sum(1 for o, _e in updates if o == "updated")
        imported += updates
        stored_import, audit_import = _stored(), _audit(start)

    # Every rule bit at least once, and both paths agree row by row.
    assert [o for o, _e in per_row] == [
        "created", "rejected", "rejected", "rejected", "rejected", "rejected", "created",
        "created", "rejected", "updated", "rejected", "updated", "updated"]
    assert imported == per_row
    assert per_row[1][1] == {("email", "Email is required.")}
    assert per_row[2][1] == {("mobile", "Mobile must be a mainland mobile.")}
    assert per_row[5][1] == {("custom.level", "客户等级 is required.")}
    assert per_row[8][1] == {("company", "Only persons have this field.")}
    assert stored_import == stored_per_row
    assert stored_per_row[0]["columns"]["company"] == "阿里云"
    assert stored_per_row[1]["columns"]["province"] == "广东省"
    assert audit_import == audit_per_row

