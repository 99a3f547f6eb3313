"""The validation report in xlsx and csv, with formula injection neutralised."""

from __future__ import annotations

import csv

import pytest
from django.utils import translation

from kehu.interchange.mapping import MappingError
from kehu.interchange.report import ReportWriter, write_report
from kehu.interchange.rows import RowError

ERRORS = [
    RowError(row=2, column="手机", value="12345", reason="Enter a valid phone number."),
    RowError(row=3, column="=cmd|' /C calc'!A0", value="=HYPERLINK(\"http://x\",\"y\")",
             reason="Enter a valid email address."),
    RowError(row=4, column="预算", value="-1", reason="Must be at least 0."),
    RowError(row=5, column="备注", value="@SUM(A1)", reason="x"),
    RowError(row=6, column="备注", value="+1", reason="\tTab"),
    RowError(row=7, column="身份证号", value="110***********1233", reason="r"),
]
EXPECTED = [
    ["Row", "Column", "Value", "Reason"],
    [2, "手机", "12345", "Enter a valid phone number."],
    [3, "'=cmd|' /C calc'!A0", "'=HYPERLINK(\"http://x\",\"y\")", "Enter a valid email address."],
    [4, "预算", "'-1", "Must be at least 0."],
    [5, "备注", "'@SUM(A1)", "x"],
    [6, "备注", "'+1", "'\tTab"],
    [7, "身份证号", "110***********1233", "r"],
]


def test_xlsx_report_is_neutralised(tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "report.xlsx"
    with translation.override("en"):
        assert write_report(ERRORS, path) == 6
    sheet = load_workbook(path).active
    assert sheet.title == "Import report"
    assert [list(r) for r in sheet.iter_rows(values_only=True)] == EXPECTED
    assert all(cell.data_type != "f" for r in sheet.iter_rows() for cell in r)


def test_csv_report_has_a_bom_and_is_neutralised(tmp_path):
    path = tmp_path / "report.csv"
    with translation.override("en"):
        assert write_report(ERRORS, path) == 6
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [[str(v) for v in line] for line in EXPECTED]


def test_headers_follow_the_active_language(tmp_path):
    path = tmp_path / "r.csv"
    with translation.override("zh-hans"):
        write_report([], path)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header = next(csv.reader(handle))
    with translation.override("zh-hans"):
        from django.utils.translation import gettext

        assert header == [gettext("Row"), gettext("Column"), gettext("Value"), gettext("Reason")]


def test_writer_streams_errors_as_they_come(tmp_path):
    from openpyxl import load_workbook

    path = tmp_path / "stream.xlsx"
    with ReportWriter(path) as writer:
        for error in ERRORS[:2]:
            writer.add(error)
        writer.extend(ERRORS[2:3])
    assert writer.count == 3
    assert load_workbook(path).active.max_row == 4


def test_report_name_must_be_xlsx_or_csv(tmp_path):
    with translation.override("en"), pytest.raises(MappingError) as caught:
        write_report(ERRORS, tmp_path / "report.txt")
    assert str(caught.value) == "The report must be an .xlsx or .csv file, not “report.txt”."
    assert not (tmp_path / "report.txt").exists()
