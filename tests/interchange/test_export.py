"""Customer export: masking and record scope exactly as on the list, formula neutralisation,
CSV with BOM and xlsx that opens, column validation, permission (403, nothing audited), the
audit entry, the page, the API and the `kehu export` command end to end."""

import csv
import io
from datetime import datetime

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone, translation

from kehu.accounts.models import Role
from kehu.core.actor import Actor
from kehu.core.errors import PermissionDenied, ValidationFailed
from kehu.core.models import AuditEntry
from kehu.customers.selectors import CustomerFilters, customer_list
from kehu.interchange.export import customers_export
from tests.factories import CustomFieldFactory, TeamFactory, create_customer
from tests.unchanged import db_snapshot

pytestmark = pytest.mark.django_db

ID = "11010519491231002X"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export(user, *, columns=("name", "mobile"), fmt="csv", filters=None, sort="name"):
    return customers_export(actor=Actor(user=user, via="web"), columns=list(columns), fmt=fmt,
                            filters=filters or CustomerFilters(), sort=sort)


def csv_rows(result) -> list[list[str]]:
    raw = b"".join(result.content)
    assert raw.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))


def xlsx_rows(content) -> list[tuple]:
    data = content.read() if hasattr(content, "read") else content
    sheet = openpyxl.load_workbook(io.BytesIO(data)).active
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


def grant_export(role_code: str) -> None:
    role = Role.objects.get(code=role_code)
    role.permissions = [*role.permissions, "customer.export"]
    role.save(update_fields=["permissions"])


@pytest.fixture
def book(make_user):
    """Team A (a manager and a rep) and team B (a rep); one customer each, the rep's with an
    ID number."""
    team_a, team_b = TeamFactory(), TeamFactory()
    rep = make_user("sales_rep", team=team_a)
    manager = make_user("sales_manager", team=team_a)
    other = make_user("sales_rep", team=team_b)
    create_customer(owner=rep, name="甲", mobile="13812345678", email="jia@example.com",
                    id_number=ID, source="展会")
    create_customer(owner=manager, name="乙", mobile="13900000002", source="展会")
    create_customer(owner=other, name="丙", mobile="13700000003", source="官网")
    return {"rep": rep, "manager": manager, "other": other}


def test_csv_masks_by_role_and_never_shows_id_numbers(make_user, book):
    with translation.override("en"):
        admin_rows = csv_rows(export(make_user("admin"), columns=["name", "mobile", "email"]))
        marketer_result = export(make_user("marketer"), columns=["name", "mobile", "email"])
    assert admin_rows == [["Name", "Mobile", "Email"],
                          ["丙", "'+8613700000003", ""],
                          ["甲", "'+8613812345678", "jia@example.com"],
                          ["乙", "'+8613900000002", ""]]
    raw = b"".join(marketer_result.content).decode("utf-8-sig")
    assert list(csv.reader(io.StringIO(raw))) == [
        ["Name", "Mobile", "Email"], ["丙", "137****0003", ""],
        ["甲", "138****5678", "jia@example.com"], ["乙", "139****0002", ""]]
    assert ID not in raw and ID[-4:] not in raw


def test_a_hidden_field_is_an_empty_cell(make_user, book):
    role = Role.objects.get(code="marketer")
    role.field_permissions = {**role.field_permissions, "customer.mobile": "hidden"}
    role.save(update_fields=["field_permissions"])
    rows = csv_rows(export(make_user("marketer"), columns=["name", "mobile"]))
    assert rows[1:] == [["丙", ""], ["甲", ""], ["乙", ""]]


@pytest.mark.parametrize("who", ["admin", "manager", "rep", "marketer"])
@pytest.mark.parametrize("filters", [CustomerFilters(), CustomerFilters(source="展会")])
def test_record_scope_and_filters_are_the_lists(who, filters, make_user, book):
    grant_export("sales_rep")
    user = book[who] if who in book else make_user(who)
    user = type(user).objects.get(pk=user.pk)  # the role as granted above
    listed = [c.name for c in customer_list(user=user, filters=filters, sort="name",
                                            limit=200).items]
    exported = [row[0] for row in csv_rows(export(user, columns=["name"], filters=filters))[1:]]
    assert exported == listed
    expected = {"admin": {"甲", "乙", "丙"}, "manager": {"甲", "乙"}, "rep": {"甲"},
                "marketer": {"甲", "乙", "丙"}}[who]
    if filters.source:
        expected -= {"丙"}
    assert set(exported) == expected


def test_formulas_are_neutralised_in_csv_and_xlsx(make_user):
    admin = make_user("admin")
    CustomFieldFactory(key="memo", field_type="text")
    create_customer(owner=admin, name='=HYPERLINK("http://evil.example","点我")',
                    source="@SUM(A1)", custom={"memo": "+cmd|' /C calc'!A0"})
    columns = ["name", "source", "custom.memo"]
    rows = csv_rows(export(admin, columns=columns))
    assert rows[1] == ["'=HYPERLINK(\"http://evil.example\",\"点我\")", "'@SUM(A1)",
                       "'+cmd|' /C calc'!A0"]
    result = export(admin, columns=columns, fmt="xlsx")
    sheet = openpyxl.load_workbook(result.content).active
    cells = list(sheet.iter_rows(min_row=2))[0]
    assert [c.value for c in cells] == rows[1]
    assert [c.data_type for c in cells] == ["s", "s", "s"]


def test_xlsx_has_headers_in_the_users_language_and_the_rows(make_user, book):
    admin = make_user("admin")
    with translation.override("zh-hans"):
        result = export(admin, fmt="xlsx", columns=["name", "owner", "lifecycle_stage",
                                                    "created_at"])
    assert (result.format, result.rows, result.content_type) == ("xlsx", 3, XLSX)
    assert result.filename.startswith("客户-") and result.filename.endswith(".xlsx")
    rows = xlsx_rows(result.content)
    assert rows[0] == ("名称", "负责人", "生命周期阶段", "创建时间")
    assert [r[:3] for r in rows[1:]] == [("丙", str(book["other"]), "潜在"),
                                         ("甲", str(book["rep"]), "潜在"),
                                         ("乙", str(book["manager"]), "潜在")]
    assert all(isinstance(r[3], datetime) for r in rows[1:])


def test_unknown_columns_are_named(make_user):
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        export(make_user("admin"), columns=["name", "salary", "custom.nope"])
    assert caught.value.details == {"columns": ["Unknown columns: salary, custom.nope."]}
    assert not AuditEntry.objects.filter(action="customer.export").exists()


def test_without_customer_export_nothing_is_exported_or_audited(make_user, book):
    before = AuditEntry.objects.count()
    with pytest.raises(PermissionDenied):
        export(book["rep"])  # sales_rep has no customer.export by default
    with pytest.raises(PermissionDenied):
        customers_export(actor=Actor.system(via="cli"), filters=CustomerFilters(),
                         columns=["name"], fmt="csv")
    assert AuditEntry.objects.count() == before


def test_one_audit_entry_with_count_format_columns_and_filters(make_user, book):
    marketer = make_user("marketer")
    before = AuditEntry.objects.count()
    result = export(marketer, filters=CustomerFilters(source="展会", q=ID), fmt="csv")
    assert AuditEntry.objects.count() == before + 1  # written before a single row streamed
    entry = AuditEntry.objects.get(action="customer.export")
    assert (entry.actor_user_id, entry.object_type) == (marketer.pk, "customer")
    # The ID number is hidden for the marketer: the search does not match on it (issue 19).
    assert entry.changes == {"rows": 0, "format": "csv", "columns": ["name", "mobile"],
                             "filters": {"q": "110***********002X", "source": "展会"},
                             "sort": "name"}
    assert len(csv_rows(result)) == 1
    export(marketer, fmt="xlsx")
    assert AuditEntry.objects.filter(action="customer.export").latest("seq").changes["rows"] == 3


def test_api_export(make_user, api_client_for, book):
    marketer = make_user("marketer")
    client = api_client_for(marketer, scopes=("read",))
    response = client.get("/api/v1/customers/export", {
        "format": "csv", "columns": "name,mobile", "source": "展会", "sort": "name"})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "filename*=UTF-8''%E5%AE%A2%E6%88%B7-" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbf")
    assert body.decode("utf-8-sig").splitlines()[1:] == ["甲,138****5678", "乙,139****0002"]
    xlsx = client.get("/api/v1/customers/export?format=xlsx&columns=name&columns=owner")
    assert xlsx.status_code == 200 and xlsx["Content-Type"] == XLSX
    assert len(xlsx_rows(b"".join(xlsx.streaming_content))) == 4


def test_api_unknown_column_is_422_and_denied_is_403(make_user, api_client_for, book):
    admin = api_client_for(make_user("admin"))
    with translation.override("en"):
        bad = admin.get("/api/v1/customers/export", {"columns": "name,salary"},
                        HTTP_ACCEPT_LANGUAGE="en")
    assert bad.status_code == 422
    assert bad.json()["details"] == {"columns": ["Unknown columns: salary."]}
    reader = api_client_for(make_user("read_only"))
    before = AuditEntry.objects.count()
    denied = reader.get("/api/v1/customers/export")
    assert denied.status_code == 403 and denied.json()["code"] == "permission_denied"
    assert AuditEntry.objects.count() == before


def test_page_export_follows_the_list_query(make_user, book):
    marketer = make_user("marketer")
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    client.force_login(marketer)
    page = client.get("/customers/", {"source": "展会"}).content.decode()
    assert 'id="customer-export"' in page and 'name="source" value="展会"' in page
    response = client.get("/interchange/customers/export/", {
        "format": "xlsx", "source": "展会", "cols": ["name", "mobile"], "sort": "name"})
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    assert response["Cache-Control"] == "private, no-store"
    assert xlsx_rows(b"".join(response.streaming_content)) == [
        ("名称", "手机"), ("甲", "138****5678"), ("乙", "139****0002")]
    bad = client.get("/interchange/customers/export/", {"format": "pdf", "source": "展会"})
    assert bad.status_code == 302 and bad["Location"] == "/customers/?source=%E5%B1%95%E4%BC%9A"

    reader = Client()
    reader.force_login(make_user("read_only"))
    assert 'id="customer-export"' not in reader.get("/customers/").content.decode()
    before = AuditEntry.objects.count()
    assert reader.get("/interchange/customers/export/", {"format": "csv"}).status_code == 403
    assert AuditEntry.objects.count() == before


def test_cli_writes_the_file_as_the_named_user(make_user, book, tmp_path):
    marketer = make_user("marketer")
    out = tmp_path / "客户.xlsx"
    stdout = io.StringIO()
    with translation.override("en"):
        call_command("export", str(out), "--filter", "source=展会", "--columns", "name,mobile",
                     "--sort", "name", "--as", marketer.username, "--language", "en",
                     stdout=stdout)
    assert stdout.getvalue().strip() == f"2 rows written to {out}"
    assert xlsx_rows(out.read_bytes()) == [("Name", "Mobile"), ("甲", "138****5678"),
                                           ("乙", "139****0002")]
    entry = AuditEntry.objects.get(action="customer.export")
    assert (entry.actor_user_id, entry.via, entry.changes["rows"]) == (marketer.pk, "cli", 2)

    make_user("admin", username="root", is_superuser=True)
    out_csv = tmp_path / "all.csv"
    call_command("export", str(out_csv), "--columns", "name,mobile", stdout=io.StringIO())
    assert out_csv.read_bytes().startswith(b"\xef\xbb\xbf")
    assert "13812345678" in out_csv.read_text("utf-8-sig")  # the superuser sees clear numbers


@pytest.mark.parametrize("args, message", [
    (["--filter", "salary=1"], "Unknown filter “salary”"),
    (["--filter", "created_from=yesterday"], "Invalid filter"),
    (["--columns", "name,salary"], "Unknown columns: salary."),
    (["--as", "nobody"], "No active user “nobody”."),
    (["--format", "csv", "--as", "reader"], "You do not have permission"),
])
def test_cli_refuses_clearly(args, message, make_user, tmp_path):
    make_user("admin", username="root", is_superuser=True)
    make_user("read_only", username="reader")
    out = tmp_path / "out.csv"
    before = db_snapshot()
    with translation.override("en"), pytest.raises(CommandError, match=message):
        call_command("export", str(out), *args, "--language", "en", stdout=io.StringIO())
    assert not out.exists()
    assert db_snapshot() == before


def test_queries_do_not_grow_with_rows(make_user, book):
    """Tags are prefetched per chunk, owners and teams joined: no query per row."""
    admin = make_user("admin")
    columns = ["name", "owner", "team", "tags"]
    admin.access.field_mode("customer.mobile")  # the policy's own queries: once per request

    def run(fmt):
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            result = export(admin, columns=columns, fmt=fmt)
            if fmt == "csv":
                b"".join(result.content)
        return len(queries)

    few = {fmt: run(fmt) for fmt in ("csv", "xlsx")}
    for n in range(5):
        create_customer(owner=admin, name=f"新{n}")
    assert {fmt: run(fmt) for fmt in ("csv", "xlsx")} == few


def test_export_carries_the_quality_and_value_columns_of_the_list(make_user):
    """The fast reader joins the later layers' one-to-one rows exactly as the list presents them."""
    from kehu.quality.models import CustomerQuality
    from kehu.scoring.models import CustomerValue

    admin = make_user("admin")
    scored = create_customer(name="甲", owner=admin)
    create_customer(name="乙", owner=admin)
    CustomerQuality.objects.create(customer=scored, score=73, computed_at=timezone.now())
    CustomerValue.objects.create(customer=scored, r_score=5, f_score=4, m_score=3,
                                 rfm_segment="champions", value_tier="high_value",
                                 monetary="1280.00", frequency=6, window_days=365,
                                 scored_at=timezone.now())
    columns = ("name", "quality_score", "value_tier", "rfm_segment", "rfm_code", "monetary")
    with translation.override("en"):
        rows = csv_rows(export(admin, columns=columns))
    assert rows[1:] == [["甲", "73", "High value", "Champions", "543", "1280.00"],
                        ["乙", "", "", "", "", ""]]
