"""Reading import files: every encoding and delimiter, workbooks and sheets, cell text, errors."""

from __future__ import annotations

import codecs
import datetime as dt
import io

import pytest
from django.utils import translation

from kehu.interchange import readers
from kehu.interchange.readers import ReaderError, cell_text, open_table

HEADERS = ["客户名称", "手机", "备注"]
# A quoted comma, a doubled quote and a line break inside a cell: still one Excel row each.
TEXT = '客户名称,手机,备注\r\n张三,13812345678,"北京, 朝阳"\r\n李四,13912345678,"说""好""\n的"\r\n'
ROWS = [(2, ["张三", "13812345678", "北京, 朝阳"]), (3, ["李四", "13912345678", '说"好"\n的'])]


def read(path, **kwargs):
    with open_table(path, filename=kwargs.pop("filename", path.name), **kwargs) as table:
        return table, list(table.rows())


# Text encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize(("encoding", "prefix", "detected"), [
    ("utf-8", b"", "utf-8"),
    ("utf-8", codecs.BOM_UTF8, "utf-8-sig"),
    ("gbk", b"", "gb18030"),
    ("gb18030", b"", "gb18030"),
    ("utf-16-le", codecs.BOM_UTF16_LE, "utf-16"),
    ("utf-16-be", codecs.BOM_UTF16_BE, "utf-16"),
    ("utf-16-le", b"", "utf-16-le"),
    ("utf-16-be", b"", "utf-16-be"),
])
def test_every_encoding_is_detected_and_read(tmp_path, encoding, prefix, detected):
    path = tmp_path / "customers.csv"
    path.write_bytes(prefix + TEXT.encode(encoding))
    table, rows = read(path)
    assert (table.kind, table.encoding, table.delimiter) == ("csv", detected, ",")
    assert table.headers == HEADERS
    assert table.header_row == 1
    assert rows == ROWS
    assert table.sheets == [] and table.sheet is None


def test_gb18030_characters_outside_gbk(tmp_path):
    path = tmp_path / "rare.csv"
    path.write_bytes("姓名,备注\n王䶮,€\n".encode("gb18030"))
    table, rows = read(path)
    assert table.encoding == "gb18030"
    assert rows == [(2, ["王䶮", "€"])]


@pytest.mark.parametrize(("encoding", "detected"), [("utf-8", "utf-8"), ("gbk", "gb18030")])
def test_chinese_first_seen_after_a_long_ascii_start(tmp_path, encoding, detected):
    lines = ["name,phone"] + [f"user{i},1381234{i:04d}" for i in range(5000)] + ["张三,13800000000"]
    path = tmp_path / "late.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    assert path.stat().st_size > 64 * 1024
    table, rows = read(path)
    assert table.encoding == detected
    assert rows[-1] == (5002, ["张三", "13800000000"])
    assert len(rows) == 5001


def test_a_file_that_changes_encoding_midway_is_a_reader_error(tmp_path):
    head = "姓名,手机\n" + "".join(f"张{i},1381234{i:04d}\n" for i in range(6000))
    path = tmp_path / "mixed.csv"
    path.write_bytes(head.encode("utf-8") + "李四,13900000000\n".encode("gbk"))
    with translation.override("en"), pytest.raises(ReaderError) as caught:
        open_table(path, filename="mixed.csv")
    assert str(caught.value) == ("Row 6002 of “mixed.csv” cannot be read as UTF-8 text; save "
                                 "the file again as UTF-8 and retry.")
    assert caught.value.code == "encoding"


# Delimiters -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "text", "delimiter"), [
    ("list.tsv", "姓名\t手机\n张三\t13812345678\n", "\t"),
    ("list.txt", "姓名\t手机\n张三\t13812345678\n", "\t"),
    ("list.csv", "姓名;手机\n张三;13812345678\n", ";"),
    ("list.csv", "姓名,手机\n张三,13812345678\n", ","),
    ("list.xls", "姓名\t手机\n张三\t13812345678\n", "\t"),  # "xls" exports that are really TSV
])
def test_delimiter_is_sniffed(tmp_path, name, text, delimiter):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    table, rows = read(path)
    assert table.delimiter == delimiter
    assert table.headers == ["姓名", "手机"]
    assert rows == [(2, ["张三", "13812345678"])]


def test_excel_sep_hint_line_is_obeyed_and_not_counted(tmp_path):
    path = tmp_path / "hint.csv"
    path.write_text("sep=;\n姓名;备注\n张三;a,b\n", encoding="utf-8")
    table, rows = read(path)
    assert (table.delimiter, table.headers, rows) == (";", ["姓名", "备注"], [(2, ["张三", "a,b"])])


def test_single_column_file(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("姓名\n张三\n李四\n", encoding="utf-8")
    table, rows = read(path)
    assert table.headers == ["姓名"]
    assert rows == [(2, ["张三"]), (3, ["李四"])]


def test_blank_rows_are_skipped_but_counted_and_short_rows_padded(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("\n姓名,手机,备注,,\n张三\n\n,,\n李四,139, x ,extra,more\n", encoding="utf-8")
    table, rows = read(path)
    assert table.header_row == 2
    assert table.headers == ["姓名", "手机", "备注"]
    assert rows == [(3, ["张三", "", ""]), (6, ["李四", "139", "x"])]
    assert table.row_count_estimate == 4


def test_rows_can_be_read_twice_and_from_an_open_file(tmp_path):
    data = TEXT.encode("gbk")
    with open_table(io.BytesIO(data), filename="upload.csv") as table:
        assert list(table.rows()) == ROWS
        assert list(table.rows()) == ROWS


class _Pipe(io.RawIOBase):
    def __init__(self, data):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        chunk = self._data.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)


def test_an_unseekable_stream_is_spooled(tmp_path):
    with open_table(_Pipe(TEXT.encode("utf-8")), filename="pipe.csv") as table:
        assert table.headers == HEADERS
        assert list(table.rows()) == ROWS


def test_row_count_estimate_of_a_large_file_is_close(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("姓名,手机\n" + "".join(f"张{i},1381234{i:04d}\n" for i in range(20000)),
                    encoding="utf-8")
    with open_table(path, filename="big.csv") as table:
        assert 19000 < table.row_count_estimate < 21000


# Unreadable files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.csv", b"", "“empty.csv” is empty: it has no header row."),
    ("blank.csv", b"\r\n\r\n", "“blank.csv” is empty: it has no header row."),
    ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10",
     "“photo.csv” is not a spreadsheet or a text file."),
    ("broken.xlsx", b"PK\x03\x04 not really a zip",
     "“broken.xlsx” is not a spreadsheet that can be read."),
    ("broken.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
     "“broken.xls” is not a spreadsheet that can be read."),
    ("page.xls", b"<html><body><table><tr><td>a</td></tr></table></body></html>",
     "“page.xls” is a web page saved as a spreadsheet; open it in Excel or WPS, save it as "
     ".xlsx and import that."),
])
def test_unreadable_files_raise_reader_error_naming_the_file(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with translation.override("en"), pytest.raises(ReaderError) as caught:
        open_table(path, filename=name)
    assert str(caught.value) == message
    assert caught.value.code in ("empty", "unreadable")


def test_missing_file(tmp_path):
    with translation.override("en"), pytest.raises(ReaderError) as caught:
        open_table(tmp_path / "nope.csv", filename="客户.csv")
    assert str(caught.value) == "“客户.csv” cannot be opened."


def test_a_sheet_name_for_a_text_file_is_an_error(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("姓名\n张三\n", encoding="utf-8")
    with translation.override("en"), pytest.raises(ReaderError) as caught:
        open_table(path, filename="a.csv", sheet="Sheet1")
    assert str(caught.value) == ("“a.csv” is a text file and has no sheets; leave out the "
                                 "sheet “Sheet1”.")


# Workbooks ------------------------------------------------------------------------------------------


def _workbook(path, *, hidden_first=False):
    from openpyxl import Workbook

    workbook = Workbook()
    if hidden_first:
        secret = workbook.active
        secret.title = "隐藏"
        secret.sheet_state = "hidden"
        secret.append(["x"])
        first = workbook.create_sheet("客户")
    else:
        first = workbook.active
        first.title = "客户"
    first.append(["客户名称", "手机", "生日", "身份证号", "金额", "比例", "VIP", "登记时间"])
    first.append(["张三", 13812345678, dt.date(1990, 1, 2), "11010519491231002X", 3.5, 0.1 + 0.2,
                  True, dt.datetime(2024, 5, 6, 7, 8, 9)])
    first.append([None] * 8)
    first.append(["李四", 13912345678.0, dt.datetime(1985, 12, 31), 110101199003071233, -2, 1e20,
                  False, None])
    second = workbook.create_sheet("Orders 2024")
    second.append(["订单号", "金额"])
    second.append(["A-1", 99])
    workbook.save(path)


EXPECTED_XLSX = [
    (2, ["张三", "13812345678", "1990-01-02", "11010519491231002X", "3.5", "0.3", "TRUE",
         "2024-05-06 07:08:09"]),
    # An 18-digit number loses its last digits in Excel (15 significant), never to 1.1E+17.
    (4, ["李四", "13912345678", "1985-12-31", "110101199003071000", "-2",
         "100000000000000000000", "FALSE", ""]),
]


def test_xlsx_cells_round_trip_as_excel_shows_them(tmp_path):
    path = tmp_path / "customers.xlsx"
    _workbook(path)
    table, rows = read(path)
    assert (table.kind, table.sheets, table.sheet) == ("xlsx", ["客户", "Orders 2024"], "客户")
    assert table.headers == ["客户名称", "手机", "生日", "身份证号", "金额", "比例", "VIP", "登记时间"]
    assert rows == EXPECTED_XLSX
    assert table.row_count_estimate == 3
    assert table.encoding is None


@pytest.mark.parametrize("wanted", ["Orders 2024", " orders 2024 ", "ＯＲＤＥＲＳ　2024"])
def test_choose_a_sheet_by_name(tmp_path, wanted):
    path = tmp_path / "two.xlsx"
    _workbook(path)
    table, rows = read(path, sheet=wanted)
    assert table.sheet == "Orders 2024"
    assert table.headers == ["订单号", "金额"]
    assert rows == [(2, ["A-1", "99"])]


def test_unknown_sheet_names_the_sheet_and_lists_the_others(tmp_path):
    path = tmp_path / "two.xlsx"
    _workbook(path)
    with translation.override("en"), pytest.raises(ReaderError) as caught:
        open_table(path, filename="two.xlsx", sheet="客户2")
    assert str(caught.value) == ("“two.xlsx” has no sheet “客户2”; its sheets are: "
                                 "客户、Orders 2024.")
    assert caught.value.code == "unknown_sheet"


def test_hidden_sheets_are_listed_but_the_first_visible_one_is_the_default(tmp_path):
    path = tmp_path / "hidden.xlsx"
    _workbook(path, hidden_first=True)
    table, rows = read(path)
    assert table.sheets == ["隐藏", "客户", "Orders 2024"]
    assert table.sheet == "客户"
    assert rows == EXPECTED_XLSX
    assert read(path, sheet="隐藏")[0].headers == ["x"]


def test_header_below_empty_rows_keeps_excel_row_numbers(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet["B3"], sheet["C3"] = "姓名", "手机"
    sheet["B4"], sheet["C4"] = "张三", 13812345678
    sheet["B6"] = "李四"
    path = tmp_path / "offset.xlsx"
    workbook.save(path)
    table, rows = read(path)
    assert (table.header_row, table.headers) == (3, ["姓名", "手机"])
    assert rows == [(4, ["张三", "13812345678"]), (6, ["李四", ""])]
    assert table.row_count_estimate == 3


def test_empty_sheet_is_a_reader_error(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.title = "空"
    path = tmp_path / "empty.xlsx"
    workbook.save(path)
    with translation.override("en"), pytest.raises(ReaderError) as caught:
        open_table(path, filename="empty.xlsx")
    assert str(caught.value) == "The sheet “空” in “empty.xlsx” has no header row."


def test_openpyxl_fallback_reads_the_same(tmp_path, monkeypatch):
    path = tmp_path / "customers.xlsx"
    _workbook(path)
    monkeypatch.setattr(readers, "_load_calamine", lambda: None)
    table, rows = read(path)
    assert table.sheets == ["客户", "Orders 2024"]
    assert rows == EXPECTED_XLSX
    assert read(path, sheet="orders 2024")[1] == [(2, ["A-1", "99"])]


def test_xlsx_from_an_uploaded_file_object(tmp_path):
    path = tmp_path / "customers.xlsx"
    _workbook(path)
    with open_table(io.BytesIO(path.read_bytes()), filename="上传.xlsx") as table:
        assert list(table.rows()) == EXPECTED_XLSX


def test_xls_is_read_by_calamine(tmp_path):
    import xlwt

    workbook = xlwt.Workbook(encoding="utf-8")
    sheet = workbook.add_sheet("客户")
    for column, text in enumerate(["姓名", "手机", "生日", "身份证号"]):
        sheet.write(0, column, text)
    sheet.write(1, 0, "张三")
    sheet.write(1, 1, 13812345678)
    sheet.write(1, 2, dt.date(1990, 1, 2), xlwt.easyxf(num_format_str="YYYY-MM-DD"))
    sheet.write(1, 3, "11010519491231002X")
    workbook.add_sheet("备用").write(0, 0, "说明")
    path = tmp_path / "old.xls"
    workbook.save(str(path))
    table, rows = read(path)
    assert (table.kind, table.sheets, table.headers) == (
        "xls", ["客户", "备用"], ["姓名", "手机", "生日", "身份证号"])
    assert rows == [(2, ["张三", "13812345678", "1990-01-02", "11010519491231002X"])]
    assert read(path, sheet="备用")[0].headers == ["说明"]


# Cells -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "text"), [
    (None, ""), ("  张三\u3000", "张三"), (13812345678.0, "13812345678"), (42, "42"),
    (1.5, "1.5"), (0.1 + 0.2, "0.3"), (-0.0, "0"), (1.1010119900307123e17, "110101199003071000"),
    (1e-7, "0.0000001"), (float("nan"), ""), (True, "TRUE"), (False, "FALSE"),
    (dt.date(2023, 2, 28), "2023-02-28"), (dt.datetime(2023, 2, 28), "2023-02-28"),
    (dt.datetime(2023, 2, 28, 13, 5), "2023-02-28 13:05:00"), (dt.time(9, 30), "09:30:00"),
])
def test_cell_text(value, text):
    assert cell_text(value) == text


def test_a_bad_byte_in_row_102_is_named_as_row_102(tmp_path):
    # The first 64 KB hold the bad byte, so the file used to be read as GB18030 and the
    # error named row 2 (the first UTF-8 row that GB18030 cannot read).
    lines = ["客户名称,备注", *(f"张{i},正常" for i in range(100))]
    data = ("\n".join(lines) + "\n").encode("utf-8") + b"\xe6\x9d\x8e\xff\n"
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    with translation.override("en"), pytest.raises(ReaderError) as caught:
        open_table(path, filename="bad.csv")
    assert str(caught.value) == ("Row 102 of “bad.csv” cannot be read as UTF-8 text; save the "
                                 "file again as UTF-8 and retry.")


def test_a_utf8_header_over_gbk_rows_is_an_encoding_error_not_a_missing_name(actor, tmp_path):
    from kehu.core.errors import ValidationFailed
    from kehu.interchange.services import import_job_create

    path = tmp_path / "mixed.csv"
    path.write_bytes("客户名称,备注\n".encode() + "".join(
        f"李{i},备注\n" for i in range(5)).encode("gbk"))
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        import_job_create(actor=actor, file=path, filename="mixed.csv")
    assert caught.value.code == "encoding"
    assert str(caught.value.message) == (
        "“mixed.csv” mixes text encodings: row 1 is UTF-8 while most rows are GBK/GB18030; "
        "save the whole file again as UTF-8 and retry.")
    short = tmp_path / "short.csv"
    short.write_bytes("客户名称,备注\n张三,x\n".encode() + "李四,备注\n".encode("gbk"))
    with translation.override("en"), pytest.raises(ValidationFailed) as caught:
        import_job_create(actor=actor, file=short, filename="short.csv")
    assert str(caught.value.message).startswith("Row 3 of “short.csv” cannot be read as UTF-8")
