"""Hostile import files (issue 19, item 2): each is built here, byte by byte, and must be
refused with a clear message while memory stays bounded. Every read of a hostile file goes
through `check_file`, whose child process runs under an address-space limit: a regression
fails the test (the child dies, the message changes) instead of killing the test run."""

from __future__ import annotations

import base64
import io
import os
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import translation

from kehu.core.errors import ValidationFailed
from kehu.interchange.models import ImportJob, ImportRowError
from kehu.interchange.readers import Limits, ReaderError, check_file, open_table
from kehu.interchange.services import import_job_create, import_job_run

# Small enough that a parser which ignored the checks would hit it at once.
GUARD = Limits(max_memory_mb=512)

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.'
    'openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
    'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
_ROOT_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def sheet_xml(rows: str, dimension: str | None = None) -> bytes:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}>{dim}'
            f"<sheetData>{rows}</sheetData></worksheet>").encode()


def strings_xml(body: bytes, count: int) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><sst {_NS} count="{count}" '
            f'uniqueCount="{count}">').encode() + body + b"</sst>"


def crafted_xlsx(path: Path, sheet: bytes, strings: bytes | None = None) -> Path:
    """A minimal xlsx written part by part (what Excel would refuse to save is allowed)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _ROOT_RELS)
        archive.writestr("xl/workbook.xml", _WORKBOOK)
        archive.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
        archive.writestr("xl/sharedStrings.xml", strings or strings_xml(b"", 0))
    return path


HEADER_ROW = ('<row r="1"><c r="A1" t="inlineStr"><is><t>客户名称</t></is></c>'
              '<c r="B1" t="inlineStr"><is><t>备注</t></is></c></row>')


def refused(path: Path, limits: Limits = GUARD, *, sheet=None) -> ReaderError:
    with translation.override("en"), pytest.raises(ReaderError) as caught:
        check_file(path, filename=path.name, sheet=sheet, limits=limits)
    return caught.value


# Workbooks -----------------------------------------------------------------------------------


def test_one_cell_at_xfd1048576_is_refused_without_allocating_the_rectangle(tmp_path):
    path = crafted_xlsx(tmp_path / "bomb.xlsx", sheet_xml(
        HEADER_ROW + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'))
    assert path.stat().st_size < 2500  # the 1,965-byte file of the report
    error = refused(path)
    assert error.code == "too_large"
    assert "XFD1048576" in str(error) and "1,048,576 rows × 16,384 columns" in str(error)


def test_a_declared_dimension_beyond_the_limits_is_refused_before_parsing(tmp_path):
    path = crafted_xlsx(tmp_path / "dim.xlsx", sheet_xml(HEADER_ROW, dimension="A1:XFD1048576"))
    error = refused(path)
    assert error.code == "too_large" and "declares" in str(error)
    assert "XFD1048576" in str(error)


def test_xfd2000_is_refused_for_its_columns(tmp_path):
    path = crafted_xlsx(tmp_path / "wide.xlsx", sheet_xml(
        HEADER_ROW + '<row r="2000"><c r="XFD2000"><v>1</v></c></row>'))
    error = refused(path)
    assert "16,384 columns" in str(error) and "1,000 columns" in str(error)


def test_cells_without_a_reference_are_placed_as_the_parser_places_them(tmp_path):
    cells = "<c><v>1</v></c>" * 1200
    path = crafted_xlsx(tmp_path / "norefs.xlsx", sheet_xml(HEADER_ROW + f"<row>{cells}</row>"))
    assert "1,200 columns" in str(refused(path))


def test_a_shared_strings_bomb_is_refused_for_its_compression_ratio(tmp_path):
    body = b"<si><t>" + b"A" * (64 * 1024 * 1024) + b"</t></si>"
    path = crafted_xlsx(tmp_path / "sst.xlsx", sheet_xml(
        HEADER_ROW + '<row r="2"><c r="A2" t="s"><v>0</v></c></row>'), strings_xml(body, 1))
    assert path.stat().st_size < 300 * 1024
    error = refused(path)
    assert error.code == "too_large" and "xl/sharedStrings.xml" in str(error)


def test_more_shared_strings_than_cells_is_refused(tmp_path):
    body = b"".join(b"<si><t>%d</t></si>" % i for i in range(50_000))
    path = crafted_xlsx(tmp_path / "many.xlsx", sheet_xml(
        HEADER_ROW + '<row r="2"><c r="A2" t="s"><v>0</v></c></row>'), strings_xml(body, 50_000))
    assert "50,000 shared texts for 3 cells" in str(refused(path))


def test_a_zip_that_unpacks_beyond_the_limit_is_refused(tmp_path):
    path = crafted_xlsx(tmp_path / "big.xlsx", sheet_xml(HEADER_ROW))
    with zipfile.ZipFile(path, "a", zipfile.ZIP_STORED) as archive:
        archive.writestr("xl/media/padding.bin", os.urandom(3 * 1024 * 1024))
    error = refused(path, Limits(max_uncompressed_mb=2))
    assert "more than 2 MB" in str(error)


def test_a_10_mb_cell_is_refused_naming_its_row_and_column(tmp_path):
    text = base64.b64encode(os.urandom(7_600_000))  # 10 MB that does not compress away
    rows = HEADER_ROW + '<row r="2"><c r="A2" t="inlineStr"><is><t>张三</t></is></c>' \
                        '<c r="B2" t="s"><v>0</v></c></row>'
    path = crafted_xlsx(tmp_path / "cell.xlsx", sheet_xml(rows),
                        strings_xml(b"<si><t>" + text + b"</t></si>", 1))
    error = refused(path)
    assert error.code == "cell_too_long"
    assert str(error).startswith("Row 2, column B（备注） of “cell.xlsx” holds 10,133,336 "
                                 "characters; a cell may hold at most 32,767.")


def _sparse(path: Path, rows: int) -> Path:
    """Two cells, A1 and ALL<rows>: within every limit, yet calamine allocates the whole
    rectangle of 1,000 columns, 32 bytes a cell."""
    return crafted_xlsx(path, sheet_xml(
        '<row r="1"><c r="A1" t="inlineStr"><is><t>客户名称</t></is></c></row>'
        f'<row r="{rows}"><c r="A{rows}" t="inlineStr"><is><t>张三</t></is></c>'
        f'<c r="ALL{rows}"><v>1</v></c></row>'))


def test_a_file_that_still_exhausts_memory_kills_the_child_only(tmp_path):
    error = refused(_sparse(tmp_path / "sparse.xlsx", 8000), Limits(max_memory_mb=16))
    assert error.code == "too_large" and "more than 16 MB of memory" in str(error)
    # A smaller one within the default budget is read to its end.
    assert check_file(_sparse(tmp_path / "small.xlsx", 2000), filename="small.xlsx") == 1


# Text files --------------------------------------------------------------------------------


def test_a_csv_cell_over_the_cap_names_its_row_and_column(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("客户名称,备注\n张三,短\n李四," + "长" * 40_000 + "\n", encoding="utf-8")
    error = refused(path)
    assert error.code == "cell_too_long"
    assert str(error).startswith("Row 3, column B（备注） of “long.csv” holds 40,000")


def test_a_10_mb_csv_line_is_refused_while_streaming(tmp_path):
    path = tmp_path / "line.csv"
    path.write_bytes(b"name,notes\nzhang," + b"x" * (10 * 1024 * 1024) + b"\n")
    error = refused(path)
    assert error.code == "too_large" and "line 2 is longer than 1,048,576 characters" in str(error)


def test_csv_columns_and_rows_over_the_limits(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text("客户名称\n张三" + "," * 1500 + "\n", encoding="utf-8")
    assert "row 2 has 1,501 columns, more than 1,000" in str(refused(wide))
    tall = tmp_path / "tall.csv"
    tall.write_text("客户名称\n" + "".join(f"客户{i}\n" for i in range(30)), encoding="utf-8")
    assert "more than 20 rows" in str(refused(tall, Limits(max_rows=20)))
    assert check_file(tall, filename="tall.csv", limits=Limits(max_rows=30)) == 30


# Where uploads come in: the page, the CLI, the service -----------------------------------------


def _bomb(tmp_path: Path) -> Path:
    return crafted_xlsx(tmp_path / "bomb.xlsx", sheet_xml(
        HEADER_ROW + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'))


def _uploads(settings) -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_the_service_refuses_and_keeps_no_file(actor, tmp_path, settings):
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        import_job_create(actor=actor, file=_bomb(tmp_path), filename="bomb.xlsx")
    assert caught.value.code == "too_large" and "XFD1048576" in str(caught.value.message)
    assert _uploads(settings) == [] and not ImportJob.objects.exists()


def test_the_page_shows_the_refusal_in_chinese(client, admin_user, tmp_path, settings):
    client.force_login(admin_user)
    with open(_bomb(tmp_path), "rb") as upload:
        response = client.post(reverse("interchange:imports"),
                               {"file": upload, "kind": "customers"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "“bomb.xlsx”过大，无法导入" in page and "XFD1048576" in page
    assert _uploads(settings) == [] and not ImportJob.objects.exists()


def test_the_cli_refuses_with_the_message(db, admin_user, tmp_path, settings):
    with translation.override("en"), pytest.raises(CommandError) as caught:
        call_command("import", str(_bomb(tmp_path)))
    assert "too large to import" in str(caught.value) and "XFD1048576" in str(caught.value)
    assert _uploads(settings) == []


def test_a_rejected_long_cell_is_stored_and_shown_truncated(actor, client, admin_user, tmp_path):
    path = tmp_path / "phones.csv"
    path.write_text("客户名称,手机\n张三," + "1" * 30_000 + "\n", encoding="utf-8")
    job = import_job_create(actor=actor, file=path, filename="phones.csv")
    job = import_job_run(job_id=job.pk, actor=actor)
    assert job.rejected == 1
    stored = ImportRowError.objects.get(job=job)
    assert stored.row == 2 and len(stored.value) == 200 and stored.value.endswith("…")
    client.force_login(admin_user)
    page = client.get(reverse("interchange:import_job", args=[job.pk]))
    assert page.status_code == 200 and len(page.content) < 100_000


def test_open_table_applies_the_settings_limits(tmp_path, settings):
    settings.KEHU_IMPORT_MAX_COLUMNS = 3
    path = tmp_path / "four.csv"
    path.write_text("a,b,c,d\n1,2,3,4\n", encoding="utf-8")
    with pytest.raises(ReaderError) as caught:
        open_table(io.BytesIO(path.read_bytes()), filename="four.csv")
    assert caught.value.code == "too_large"
