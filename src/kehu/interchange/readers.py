"""Open a customer spreadsheet (xlsx, xls, ods, csv, tsv) as a header and numbered text rows.

Imports must accept whatever Chinese offices save: Excel and WPS workbooks, "xls" files
that are really tab-separated text, CSVs in UTF-8 (with or without BOM), GBK/GB18030
or UTF-16. The format is told by the file's first bytes (the name only breaks ties), the
text encoding by its BOM, then by a strict UTF-8 decode of the first chunk that is not
ASCII, then GB18030 (a superset of GBK). Every cell comes back as text the way Excel
shows it: dates as ISO dates, 13812345678.0 as "13812345678", long numbers never in
scientific notation. Rows are numbered as Excel numbers them, so a report's "row 7" is
the row a person finds on screen.

Memory: text files (the format for the largest imports) are decoded and parsed as a
stream, in bounded memory whatever their size. Workbooks are read by python-calamine, which
parses the chosen sheet once into native memory (under 1 KB per row of eight short columns,
measured) and hands Python one row at a time; openpyxl's streaming read-only mode is the
fallback where calamine is missing or cannot parse an xlsx.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.utils.translation import gettext as _

from kehu.core.errors import DomainError

TEXT_EXTENSIONS = {".csv", ".tsv", ".tab", ".txt"}
WORKBOOK_EXTENSIONS = {".xlsx", ".xlsm", ".xls", ".ods"}
DELIMITERS = (",", "\t", ";")
_ENCODING_NAMES = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "gb18030": "GB18030",
                   "utf-16": "UTF-16", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16"}

_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CHUNK = 64 * 1024
_SAMPLE = 256 * 1024  # decoded text looked at to choose the delimiter and estimate the count
_HEADER_SEARCH = 50  # leading empty rows tolerated before the header row
_FIELD_LIMIT = 16 * 1024 * 1024


class ReaderError(DomainError):
    """The file cannot be read as a table; the message names the file (or the sheet)."""

    code = "unreadable_file"
    status = 422


# Cells -------------------------------------------------------------------------------------


def _number_text(value: float) -> str:
    """A float as Excel shows it in a General cell: 13812345678.0 -> "13812345678",
    1.10101199003071e17 -> "110101199003071000" (15 significant digits), never 1E+17."""
    if value != value or value in (float("inf"), float("-inf")):
        return ""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = format(Decimal(f"{value:.15g}"), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def cell_text(value: Any) -> str:
    """One cell as the text a person sees in Excel (trimmed; empty for a blank cell)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds")
    return str(value).strip()


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


# The table -------------------------------------------------------------------------------------


class Table:
    """A sheet (or a text file) with its header row found and its data rows numbered.

    `rows()` may be called again to read the data once more (a dry run, then the run).
    Close the table (or use it as a context manager) to release the file.
    """

    def __init__(self, *, filename: str, kind: str, sheets: list[str], sheet: str | None,
                 raw_rows: Callable[[], Iterator[tuple[int, list[Any]]]],
                 last_row: Callable[[], int], closers: list[Callable[[], Any]],
                 encoding: str | None = None, delimiter: str | None = None):
        self.filename = filename
        self.kind = kind  # "xlsx" | "xls" | "ods" | "csv"
        self.sheets = sheets
        self.sheet = sheet
        self.encoding = encoding
        self.delimiter = delimiter
        self._raw_rows = raw_rows
        self._closers = closers
        self.header_row, self.headers = self._find_header()
        self.row_count_estimate = max(0, last_row() - self.header_row)

    def _find_header(self) -> tuple[int, list[str]]:
        rows = self._raw_rows()
        try:
            for number, cells in rows:
                texts = [cell_text(c) for c in cells]
                if any(texts):
                    while texts and not texts[-1]:
                        texts.pop()
                    return number, texts
                if number >= _HEADER_SEARCH:
                    break
        finally:
            close = getattr(rows, "close", None)
            if close:
                close()
        if self.sheet is not None:
            raise ReaderError(_("The sheet “%(sheet)s” in “%(file)s” has no header row.")
                              % {"sheet": self.sheet, "file": self.filename}, code="empty")
        raise ReaderError(_("“%(file)s” is empty: it has no header row.")
                          % {"file": self.filename}, code="empty")

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(Excel row number, cells as text padded to the header's width) for every data row;
        rows with nothing in them are skipped but still counted."""
        width = len(self.headers)
        for number, cells in self._raw_rows():
            if number <= self.header_row:
                continue
            texts = [cell_text(c) for c in cells[:width]]
            if not any(texts):
                continue
            if len(texts) < width:
                texts.extend([""] * (width - len(texts)))
            yield number, texts

    def close(self) -> None:
        while self._closers:
            self._closers.pop()()

    def __enter__(self) -> Table:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Table {self.filename!r} {self.kind} sheet={self.sheet!r} columns={len(self.headers)}>"


# Opening ---------------------------------------------------------------------------------------


def open_table(path_or_file: str | os.PathLike | IO[bytes], *, filename: str,
               sheet: str | None = None) -> Table:
    """Open a spreadsheet or text table; `filename` (as the user named it) is used in messages
    and to break ties. `sheet` picks a workbook sheet by name (default: the first visible one).
    Raises ReaderError when the file cannot be read or has no such sheet."""
    closers: list[Callable[[], Any]] = []
    try:
        handle, path = _binary(path_or_file, filename, closers)
        handle.seek(0)
        head = handle.read(8)
        handle.seek(0)
        if head.startswith(_ZIP) or head.startswith(_OLE):
            return _open_workbook(handle, path, filename, sheet, zipped=head.startswith(_ZIP),
                                  closers=closers)
        if sheet:
            raise ReaderError(_("“%(file)s” is a text file and has no sheets; leave out the "
                                "sheet “%(sheet)s”.") % {"file": filename, "sheet": sheet},
                              code="unknown_sheet")
        return _open_text(handle, filename, closers)
    except BaseException:
        for close in reversed(closers):
            close()
        raise


def _binary(source, filename: str, closers: list) -> tuple[IO[bytes], str | None]:
    """A seekable binary handle on the source, and its path on disk when it has one."""
    if isinstance(source, (str, os.PathLike)):
        try:
            handle = open(source, "rb")  # noqa: SIM115 - closed by Table.close
        except OSError:
            raise ReaderError(_("“%(file)s” cannot be opened.") % {"file": filename},
                              code="unreadable") from None
        closers.append(handle.close)
        return handle, os.fspath(source)
    path = None
    temporary_path = getattr(source, "temporary_file_path", None)  # Django's large uploads
    if callable(temporary_path):
        path = temporary_path()
    try:
        seekable = source.seekable()
    except (AttributeError, ValueError):
        seekable = False
    if seekable:
        return source, path
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    closers.append(spool.close)
    shutil.copyfileobj(source, spool)
    spool.seek(0)
    return spool, None


# Workbooks ---------------------------------------------------------------------------------------


def _load_calamine():
    """python_calamine, or None where it is not installed (openpyxl then reads xlsx)."""
    try:
        import python_calamine
    except ImportError:  # pragma: no cover - it is a pinned dependency
        return None
    return python_calamine


def _pick_sheet(names: list[str], visible: list[str], wanted: str | None, filename: str) -> str:
    if not names:
        raise ReaderError(_("“%(file)s” has no worksheets.") % {"file": filename}, code="empty")
    if wanted is None:
        return (visible or names)[0]
    if wanted in names:
        return wanted
    folded = {_fold(n): n for n in names}
    if _fold(wanted) in folded:
        return folded[_fold(wanted)]
    raise ReaderError(_("“%(file)s” has no sheet “%(sheet)s”; its sheets are: %(sheets)s.")
                      % {"file": filename, "sheet": wanted, "sheets": "、".join(names)},
                      code="unknown_sheet")


def _open_workbook(handle, path, filename, sheet, *, zipped: bool, closers) -> Table:
    calamine = _load_calamine()
    if calamine is not None:
        try:
            workbook = (calamine.CalamineWorkbook.from_path(path) if path
                        else calamine.CalamineWorkbook.from_filelike(handle))
        except calamine.PasswordError:
            raise ReaderError(_("“%(file)s” is password-protected; save it without a password "
                                "and try again.") % {"file": filename}, code="encrypted") from None
        except Exception:
            if not zipped:
                raise ReaderError(_("“%(file)s” is not a spreadsheet that can be read.")
                                  % {"file": filename}, code="unreadable") from None
            handle.seek(0)
        else:
            closers.append(workbook.close)
            return _calamine_table(calamine, workbook, filename, sheet, closers)
    return _openpyxl_table(handle, filename, sheet, closers)


def _calamine_table(calamine, workbook, filename, wanted, closers) -> Table:
    worksheets = [m for m in workbook.sheets_metadata
                  if m.typ == calamine.SheetTypeEnum.WorkSheet]
    names = [m.name for m in worksheets]
    visible = [m.name for m in worksheets if m.visible == calamine.SheetVisibleEnum.Visible]
    name = _pick_sheet(names, visible, wanted, filename)
    kind = {".xls": "xls", ".ods": "ods"}.get(Path(filename).suffix.lower(), "xlsx")

    loaded: list[Any] = []

    def worksheet():  # parsed once, on first use, then iterated as often as needed
        if not loaded:
            loaded.append(workbook.get_sheet_by_name(name))
        return loaded[0]

    def raw_rows():
        # iter_rows starts at the sheet's first row (row 1), padding leading empty rows.
        for index, cells in enumerate(worksheet().iter_rows()):
            yield index + 1, cells

    def last_row() -> int:
        end = worksheet().end
        return end[0] + 1 if end else 0

    return Table(filename=filename, kind=kind, sheets=names, sheet=name, raw_rows=raw_rows,
                 last_row=last_row, closers=closers)


def _openpyxl_table(handle, filename, wanted, closers) -> Table:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(handle, read_only=True, data_only=True)
    except Exception:
        raise ReaderError(_("“%(file)s” is not a spreadsheet that can be read.")
                          % {"file": filename}, code="unreadable") from None
    closers.append(workbook.close)
    names = [ws.title for ws in workbook.worksheets]
    visible = [ws.title for ws in workbook.worksheets if ws.sheet_state == "visible"]
    name = _pick_sheet(names, visible, wanted, filename)
    worksheet = workbook[name]

    def raw_rows():
        for index, cells in enumerate(worksheet.iter_rows(min_row=1, values_only=True)):
            yield index + 1, list(cells)

    return Table(filename=filename, kind="xlsx", sheets=names, sheet=name, raw_rows=raw_rows,
                 last_row=lambda: worksheet.max_row or 0, closers=closers)


# Text files --------------------------------------------------------------------------------------


def _utf16_without_bom(sample: bytes) -> str | None:
    """UTF-16 text of mostly ASCII/CJK has NULs on one side of each code unit."""
    even, odd = sample[0::2], sample[1::2]
    if not even or not odd:
        return None
    if odd.count(0) > len(odd) * 0.3 and even.count(0) < len(even) * 0.05:
        return "utf-16-le"
    if even.count(0) > len(even) * 0.3 and odd.count(0) < len(odd) * 0.05:
        return "utf-16-be"
    return None


def detect_encoding(handle: IO[bytes]) -> str:
    """BOM first, then a strict UTF-8 decode of the first chunk holding non-ASCII bytes,
    else GB18030 (which also reads GBK and GB2312). Leaves the handle at the start."""
    handle.seek(0)
    head = handle.read(_CHUNK)
    handle.seek(0)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    utf16 = _utf16_without_bom(head[:4096])
    if utf16:
        return utf16
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    chunk = head
    try:
        while chunk:
            if not chunk.isascii():
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    return "gb18030"
                return "utf-8"
            decoder.decode(chunk)
            chunk = handle.read(_CHUNK)
    finally:
        handle.seek(0)
    return "utf-8"


# Undecodable bytes become this lone surrogate (which no strict decoder ever produces), so the
# row holding them is found exactly instead of wherever the decoder's read-ahead stopped.
_UNDECODABLE = "\udcff"


def _mark_undecodable(error: UnicodeDecodeError) -> tuple[str, int]:
    return _UNDECODABLE, error.end


codecs.register_error("kehu.undecodable", _mark_undecodable)


class _Unclosable(io.RawIOBase):
    """Lets a TextIOWrapper read the caller's handle without closing it afterwards."""

    def __init__(self, handle):
        self._handle = handle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._handle.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _sniff_delimiter(sample: str, filename: str) -> str:
    """The delimiter that splits the header row into the most columns (quotes respected);
    ties go to tab for .tsv files and to the comma otherwise."""
    header = sample.split("\n", 1)[0].rstrip("\r")
    preferred = "\t" if Path(filename).suffix.lower() in (".tsv", ".tab") else ","
    best, best_count = preferred, 1
    for delimiter in (preferred, *DELIMITERS):
        count = len(next(csv.reader([header], delimiter=delimiter), []))
        if count > best_count:
            best, best_count = delimiter, count
    return best


def _open_text(handle, filename, closers) -> Table:
    encoding = detect_encoding(handle)
    handle.seek(0)
    raw = handle.read(_SAMPLE)
    if b"\x00" in raw and not encoding.startswith("utf-16"):
        raise ReaderError(_("“%(file)s” is not a spreadsheet or a text file.")
                          % {"file": filename}, code="unreadable")
    sample = raw.decode(encoding, errors="replace").lstrip("\ufeff")
    if sample.lstrip()[:1] == "<" and "<table" in sample[:4096].lower():
        raise ReaderError(_("“%(file)s” is a web page saved as a spreadsheet; open it in Excel "
                            "or WPS, save it as .xlsx and import that.") % {"file": filename},
                          code="unreadable")
    skip = 0
    first_line = sample.split("\n", 1)[0].strip()
    if first_line.lower().startswith("sep=") and len(first_line) == 5:
        delimiter, skip = first_line[4], 1  # Excel's own hint; Excel hides this line
    else:
        delimiter = _sniff_delimiter(sample, filename)
    size = handle.seek(0, io.SEEK_END)
    handle.seek(0)
    if len(raw) >= size:
        lines = sum(1 for _row in csv.reader(io.StringIO(sample), delimiter=delimiter)) - skip
    else:
        lines = int(sample.count("\n") * size / max(len(raw), 1))
    if csv.field_size_limit() < _FIELD_LIMIT:
        csv.field_size_limit(_FIELD_LIMIT)

    def raw_rows():
        handle.seek(0)
        text = io.TextIOWrapper(io.BufferedReader(_Unclosable(handle), _CHUNK),
                                encoding=encoding, errors="kehu.undecodable", newline="")
        number = 0
        try:
            records = csv.reader(text, delimiter=delimiter, strict=False)
            for index, record in enumerate(records):
                if index < skip:
                    continue
                number += 1
                if number == 1 and record and record[0].startswith("\ufeff"):
                    record[0] = record[0][1:]
                if any(_UNDECODABLE in cell for cell in record):
                    raise ReaderError(
                        _("Row %(row)d of “%(file)s” cannot be read as %(encoding)s text; save "
                          "the file again as UTF-8 and retry.")
                        % {"file": filename, "encoding": _ENCODING_NAMES.get(encoding, encoding),
                           "row": number}, code="encoding")
                yield number, record
        except csv.Error:
            raise ReaderError(_("“%(file)s” is not a valid CSV file after row %(row)d.")
                              % {"file": filename, "row": number}, code="unreadable") from None

    return Table(filename=filename, kind="csv", sheets=[], sheet=None, raw_rows=raw_rows,
                 last_row=lambda: lines, closers=closers, encoding=encoding,
                 delimiter=delimiter)
