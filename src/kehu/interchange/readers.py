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
fallback where calamine is missing or cannot parse an xlsx (and reads a workbook whose
cells span more than _CALAMINE_CELLS, since calamine allocates the whole rectangle).

Hostile files: before a workbook is handed to a parser its zip is checked (number of parts,
declared uncompressed size, compression ratio), each worksheet's declared dimension and the
rows and columns its cells really use, and the shared strings' count; text files are checked
for size, line length and columns as they stream. Every cell is capped in length. `Limits`
holds the bounds (settings KEHU_IMPORT_*, docs/security.md); `check_file` reads a whole file
in a child process under an address-space limit, so a file that still defeats a parser kills
that child, never a web or worker process.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import os
import re
import resource
import select
import shutil
import signal
import struct
import tempfile
import time
import unicodedata
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from django.conf import settings
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


# Limits ------------------------------------------------------------------------------------

_MB = 1024 * 1024
_ZIP_ENTRIES = 10_000  # parts of a workbook's zip (a big real workbook has a few dozen)
_RATIO_FLOOR = _MB  # parts smaller than this are never refused for their compression ratio
_CALAMINE_CELLS = 8_000_000  # a bigger rectangle of cells is streamed by openpyxl instead
_SCAN_CHUNK = _MB


@dataclass(frozen=True)
class Limits:
    """What an import file may hold. Defaults from settings (KEHU_IMPORT_*)."""

    max_rows: int = 1_048_576
    max_columns: int = 1000
    max_cell_chars: int = 32_767
    max_uncompressed_mb: int = 1024
    max_ratio: int = 200
    max_memory_mb: int = 2048

    @classmethod
    def from_settings(cls) -> Limits:
        return cls(**{name: int(getattr(settings, f"KEHU_IMPORT_{name.upper()}", default))
                      for name, default in asdict(cls()).items()})

    @property
    def max_bytes(self) -> int:
        return self.max_uncompressed_mb * _MB

    @property
    def max_line_chars(self) -> int:
        """The longest physical line of a text file."""
        return max(self.max_cell_chars * 8, _MB)


def _count(number: int) -> str:
    return f"{number:,}"


def _too_big(filename: str, what: str) -> ReaderError:
    return ReaderError(_("“%(file)s” is too large to import: %(what)s. Split it into smaller "
                         "files or ask an administrator to raise the limit.")
                       % {"file": filename, "what": what}, code="too_large")


def cell_too_long(filename: str, row: int, column: int | str, length: int,
                  limits: Limits) -> ReaderError:
    """The refusal of a cell longer than the cap, naming its row and column."""
    return ReaderError(_("Row %(row)d, column %(column)s of “%(file)s” holds %(length)s "
                         "characters; a cell may hold at most %(max)s. Shorten it and import "
                         "again.") % {"row": row, "column": column, "file": filename,
                                      "length": _count(length),
                                      "max": _count(limits.max_cell_chars)},
                       code="cell_too_long")


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA (Excel's column names)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _column_number(letters: bytes) -> int:
    number = 0
    for byte in letters:
        number = number * 26 + byte - 64
    return number


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
                 encoding: str | None = None, delimiter: str | None = None,
                 limits: Limits | None = None):
        self.limits = limits or Limits.from_settings()
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
                    self._check_cells(number, texts)
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

    def _check_cells(self, number: int, texts: list[str]) -> None:
        limits = self.limits
        if len(texts) > limits.max_columns:
            raise _too_big(self.filename, _("row %(row)d has %(columns)s columns, more than "
                                            "%(max)s") % {"row": number,
                                                          "columns": _count(len(texts)),
                                                          "max": _count(limits.max_columns)})
        for index, text in enumerate(texts):
            if len(text) > limits.max_cell_chars:
                header = self.headers[index] if getattr(self, "headers", None) and \
                    index < len(self.headers) and self.headers[index] else ""
                column = f"{column_letters(index)}（{header}）" if header else \
                    column_letters(index)
                raise cell_too_long(self.filename, number, column, len(text), limits)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(Excel row number, cells as text padded to the header's width) for every data row;
        rows with nothing in them are skipped but still counted. ReaderError for a row past
        the row limit or a cell longer than the cell limit."""
        width = len(self.headers)
        last = self.header_row + self.limits.max_rows
        for number, cells in self._raw_rows():
            if number <= self.header_row:
                continue
            if number > last:
                raise _too_big(self.filename, _("it has more than %(max)s rows")
                               % {"max": _count(self.limits.max_rows)})
            texts = [cell_text(c) for c in cells[:width]]
            if not any(texts):
                continue
            self._check_cells(number, texts)
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
               sheet: str | None = None, limits: Limits | None = None) -> Table:
    """Open a spreadsheet or text table; `filename` (as the user named it) is used in messages
    and to break ties. `sheet` picks a workbook sheet by name (default: the first visible one).
    Raises ReaderError when the file cannot be read, has no such sheet or exceeds `limits`
    (default: the settings')."""
    limits = limits or Limits.from_settings()
    closers: list[Callable[[], Any]] = []
    try:
        handle, path = _binary(path_or_file, filename, closers)
        size = handle.seek(0, io.SEEK_END)
        handle.seek(0)
        head = handle.read(8)
        handle.seek(0)
        if size > limits.max_bytes:
            raise _too_big(filename, _("it holds %(size)s MB, more than %(max)s MB")
                           % {"size": _count(size // _MB), "max": _count(limits.max_uncompressed_mb)})
        if head.startswith(_ZIP) or head.startswith(_OLE):
            zipped = head.startswith(_ZIP)
            shape = _check_zip(handle, filename, limits) if zipped else None
            return _open_workbook(handle, path, filename, sheet, zipped=zipped, closers=closers,
                                  limits=limits, shape=shape)
        if sheet:
            raise ReaderError(_("“%(file)s” is a text file and has no sheets; leave out the "
                                "sheet “%(sheet)s”.") % {"file": filename, "sheet": sheet},
                              code="unknown_sheet")
        return _open_text(handle, filename, closers, limits)
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

_DIMENSION = re.compile(rb'<(?:\w+:)?dimension\b[^>]*?\bref="([A-Z]{0,3})(\d{0,7})'
                        rb'(?::([A-Z]{1,3})(\d{1,7}))?"')
_FAST_CELL = re.compile(rb'<c r="([A-Z]{1,3})(\d{1,7})"')
_FAST_ROW = re.compile(rb'<row r="(\d{1,9})"')
_CELL = re.compile(rb'<(?:\w+:)?c[\s>/]')
_TOKEN = re.compile(rb'<(?:\w+:)?(row|c)(?=[\s>/])[^>]*')
_REF_ATTR = re.compile(rb'\sr="([A-Z]{0,3})(\d+)"')
_SHARED_STRING = re.compile(rb'<(?:\w+:)?si[\s>/]')
_WORKSHEET_PART = re.compile(r"xl/worksheets/[^/]+\.xml", re.IGNORECASE)


@dataclass
class _Shape:
    """What the worksheets of an xlsx really hold: the widest rectangle of cells any sheet
    spans (rows, columns, counted from A1 as the parsers allocate) and all their cells."""

    rows: int = 0
    columns: int = 0
    cells: int = 0


def _zip_entries(handle) -> int:
    """The entry count from the zip's end record, read before any parser builds its index."""
    size = handle.seek(0, io.SEEK_END)
    handle.seek(max(0, size - 65_557))
    tail = handle.read()
    handle.seek(0)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return -1
    return struct.unpack("<H", tail[at + 10:at + 12])[0]


def _check_zip(handle, filename: str, limits: Limits) -> _Shape | None:
    """Refuse a zip (xlsx, ods) whose parts, sizes or compression exceed the limits, and an
    xlsx whose sheets declare or use more rows or columns than allowed or whose shared
    strings outnumber its cells. Python's zip reader stops at each part's declared size and
    checks its CRC, so what is measured here is what the parsers will get."""
    entries = _zip_entries(handle)
    if entries > _ZIP_ENTRIES:
        raise _too_big(filename, _("it is made of %(count)s parts, more than %(max)s")
                       % {"count": _count(entries), "max": _count(_ZIP_ENTRIES)})
    try:
        archive = zipfile.ZipFile(handle)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise ReaderError(_("“%(file)s” is not a spreadsheet that can be read.")
                          % {"file": filename}, code="unreadable") from None
    try:
        infos = archive.infolist()
        if len(infos) > _ZIP_ENTRIES:
            raise _too_big(filename, _("it is made of %(count)s parts, more than %(max)s")
                           % {"count": _count(len(infos)), "max": _count(_ZIP_ENTRIES)})
        total = sum(info.file_size for info in infos)
        if total > limits.max_bytes:
            raise _too_big(filename, _("it unpacks to %(size)s MB, more than %(max)s MB")
                           % {"size": _count(total // _MB),
                              "max": _count(limits.max_uncompressed_mb)})
        for info in infos:
            if info.file_size > _RATIO_FLOOR and \
                    info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise _too_big(filename, _("its part “%(part)s” unpacks %(ratio)s times larger "
                                           "than it is stored, more than %(max)s times")
                               % {"part": info.filename,
                                  "ratio": _count(info.file_size // max(info.compress_size, 1)),
                                  "max": _count(limits.max_ratio)})
        names = {info.filename for info in infos}
        if "xl/workbook.xml" not in names:
            return None  # ods, or not an xlsx: the parser decides
        shape = _Shape()
        for info in infos:
            if _WORKSHEET_PART.fullmatch(info.filename):
                _scan_sheet(archive, info, filename, limits, shape)
        if "xl/sharedStrings.xml" in names:
            strings = _count_shared_strings(archive, filename)
            if strings > shape.cells + 10_000:
                raise _too_big(filename, _("it declares %(count)s shared texts for %(cells)s "
                                           "cells") % {"count": _count(strings),
                                                       "cells": _count(shape.cells)})
        return shape
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error):
        raise ReaderError(_("“%(file)s” is damaged and cannot be read.")
                          % {"file": filename}, code="unreadable") from None
    finally:
        archive.close()
        handle.seek(0)


def _refuse_shape(filename: str, rows: int, columns: int, limits: Limits, *,
                  declared: bool) -> None:
    if rows <= limits.max_rows + 1 and columns <= limits.max_columns:
        return
    cell = f"{column_letters(max(columns, 1) - 1)}{rows}"
    if declared:
        what = _("its sheet declares %(rows)s rows × %(columns)s columns (up to cell %(cell)s); "
                 "at most %(max_rows)s rows and %(max_columns)s columns are imported")
    else:
        what = _("its sheet has a cell at %(cell)s (%(rows)s rows × %(columns)s columns); "
                 "at most %(max_rows)s rows and %(max_columns)s columns are imported")
    raise _too_big(filename, what % {"rows": _count(rows), "columns": _count(columns),
                                     "cell": cell, "max_rows": _count(limits.max_rows),
                                     "max_columns": _count(limits.max_columns)})


def _scan_sheet(archive, info, filename: str, limits: Limits, shape: _Shape) -> None:
    """The declared dimension (first bytes), then every cell reference, streamed in chunks."""
    rows = columns = cells = 0
    with archive.open(info) as part:
        carry = b""
        first = True
        while True:
            data = part.read(_SCAN_CHUNK)
            if not data and not carry:
                break
            chunk = carry + data
            if data:
                cut = chunk.rfind(b"<")
                chunk, carry = (chunk[:cut], chunk[cut:]) if cut > 0 else (chunk, b"")
            else:
                carry = b""
            if first:
                first = False
                found = _DIMENSION.search(chunk, 0, 64 * 1024)
                if found:
                    letters, digits = found.group(3) or found.group(1), found.group(4) or found.group(2)
                    _refuse_shape(filename, int(digits or 0), _column_number(letters or b""),
                                  limits, declared=True)
            # Fast path: every writer in use puts `r` first (<c r="B7" …>, <row r="7" …>).
            # Where the counts disagree (no `r`, `r` later, a namespace prefix) every tag is
            # walked instead.
            refs = _FAST_CELL.findall(chunk)
            row_refs = _FAST_ROW.findall(chunk)
            count = chunk.count(b"<c ") + chunk.count(b"<c>") + chunk.count(b"<c/>")
            cells += count
            if count != len(refs) or b":c " in chunk or b":row " in chunk or \
                    chunk.count(b"<row ") + chunk.count(b"<row>") != len(row_refs):
                cells += len(_CELL.findall(chunk)) - count if b":c " in chunk else 0
                rows, columns = _walk_cells(chunk, rows, columns)
            else:
                if refs:
                    columns = max(columns, max(map(_column_number,
                                                   {letters for letters, _row in refs})))
                    rows = max(rows, max(map(int, [row for _letters, row in refs])))
                if row_refs:
                    rows = max(rows, max(map(int, row_refs)))
            _refuse_shape(filename, rows, columns, limits, declared=False)
    shape.rows, shape.columns = max(shape.rows, rows), max(shape.columns, columns)
    shape.cells += cells


def _walk_cells(chunk: bytes, rows: int, columns: int) -> tuple[int, int]:
    """Positions of cells and rows written without an `r` attribute follow the previous one
    (as the parsers place them): the slow path for files that leave them out."""
    row, column = rows, 0
    for match in _TOKEN.finditer(chunk):
        ref = _REF_ATTR.search(match.group(0))
        if match.group(1) == b"row":
            row = int(ref.group(2)) if ref else row + 1
            column = 0
            rows = max(rows, row)
        else:
            column = _column_number(ref.group(1)) if ref and ref.group(1) else column + 1
            if ref and ref.group(2):
                rows = max(rows, int(ref.group(2)))
            columns = max(columns, column)
    return rows, columns


def _count_shared_strings(archive, filename: str) -> int:
    count = 0
    with archive.open("xl/sharedStrings.xml") as part:
        carry = b""
        while data := part.read(_SCAN_CHUNK):
            chunk = carry + data
            cut = chunk.rfind(b"<")
            chunk, carry = (chunk[:cut], chunk[cut:]) if cut > 0 else (chunk, b"")
            count += len(_SHARED_STRING.findall(chunk))
        count += len(_SHARED_STRING.findall(carry + b" "))
    return count



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


def _open_workbook(handle, path, filename, sheet, *, zipped: bool, closers, limits: Limits,
                   shape: _Shape | None) -> Table:
    calamine = _load_calamine()
    streamed = shape is not None and shape.rows * shape.columns > _CALAMINE_CELLS
    if calamine is not None and not streamed:
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
            return _calamine_table(calamine, workbook, filename, sheet, closers, limits)
    return _openpyxl_table(handle, filename, sheet, closers, limits,
                           max_column=shape.columns if shape else None)


def _calamine_table(calamine, workbook, filename, wanted, closers, limits) -> Table:
    worksheets = [m for m in workbook.sheets_metadata
                  if m.typ == calamine.SheetTypeEnum.WorkSheet]
    names = [m.name for m in worksheets]
    visible = [m.name for m in worksheets if m.visible == calamine.SheetVisibleEnum.Visible]
    name = _pick_sheet(names, visible, wanted, filename)
    kind = {".xls": "xls", ".ods": "ods"}.get(Path(filename).suffix.lower(), "xlsx")

    loaded: list[Any] = []

    def worksheet():  # parsed once, on first use, then iterated as often as needed
        if not loaded:
            sheet = workbook.get_sheet_by_name(name)
            # xls and ods are not scanned before parsing: their shape is checked here.
            end = sheet.end
            if end:
                _refuse_shape(filename, end[0] + 1, end[1] + 1, limits, declared=False)
            loaded.append(sheet)
        return loaded[0]

    def raw_rows():
        # iter_rows starts at the sheet's first row (row 1), padding leading empty rows.
        for index, cells in enumerate(worksheet().iter_rows()):
            yield index + 1, cells

    def last_row() -> int:
        end = worksheet().end
        return end[0] + 1 if end else 0

    return Table(filename=filename, kind=kind, sheets=names, sheet=name, raw_rows=raw_rows,
                 last_row=last_row, closers=closers, limits=limits)


def _openpyxl_table(handle, filename, wanted, closers, limits, *,
                    max_column: int | None = None) -> Table:
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

    if max_column is None:
        _refuse_shape(filename, worksheet.max_row or 0, worksheet.max_column or 0, limits,
                      declared=True)

    def raw_rows():
        for index, cells in enumerate(worksheet.iter_rows(min_row=1, max_col=max_column,
                                                          values_only=True)):
            yield index + 1, list(cells)

    return Table(filename=filename, kind="xlsx", sheets=names, sheet=name, raw_rows=raw_rows,
                 last_row=lambda: worksheet.max_row or 0, closers=closers, limits=limits)


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


def _mixed_encoding(sample: bytes, complete: bool, encoding: str, filename: str, skip: int) -> None:
    """Refuse a file whose lines are partly UTF-8 and partly GBK/GB18030, naming the first row
    that is not in the encoding most of its text lines use (a GBK row in a UTF-8 file used to
    make the whole file read as GB18030, its header as gibberish)."""
    if encoding.startswith("utf-16"):
        return
    lines = sample.split(b"\n")
    if not complete:
        lines = lines[:-1]  # the last line may be cut in the middle of a character
    first_utf8 = first_other = 0
    utf8 = other = 0
    for number, line in enumerate(lines, start=1 - skip):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            other += 1
            first_other = first_other or number
        else:
            utf8 += 1
            first_utf8 = first_utf8 or number
    if not (utf8 and other):
        return
    if utf8 >= other:
        raise ReaderError(
            _("Row %(row)d of “%(file)s” cannot be read as %(encoding)s text; save the file "
              "again as UTF-8 and retry.")
            % {"file": filename, "encoding": "UTF-8", "row": max(first_other, 1)},
            code="encoding")
    raise ReaderError(
        _("“%(file)s” mixes text encodings: row %(row)d is UTF-8 while most rows are "
          "GBK/GB18030; save the whole file again as UTF-8 and retry.")
        % {"file": filename, "row": max(first_utf8, 1)}, code="encoding")


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


class _Lines:
    """The physical lines of a text stream, refusing one longer than the limit (a 1 GB line
    would otherwise be read whole before the CSV parser sees it)."""

    def __init__(self, text, filename: str, limit: int):
        self.text, self.filename, self.limit, self.number = text, filename, limit, 0

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.text.readline(self.limit + 1)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line) > self.limit and not line.endswith("\n"):
            raise _too_big(self.filename, _("line %(line)d is longer than %(max)s characters")
                           % {"line": self.number, "max": _count(self.limit)})
        return line


def _open_text(handle, filename, closers, limits: Limits) -> Table:
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
    _mixed_encoding(raw, len(raw) >= size, encoding, filename, skip)
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
            records = csv.reader(_Lines(text, filename, limits.max_line_chars),
                                 delimiter=delimiter, strict=False)
            for index, record in enumerate(records):
                if index < skip:
                    continue
                number += 1
                if number == 1 and record and record[0].startswith("\ufeff"):
                    record[0] = record[0][1:]
                if len(record) > limits.max_columns:
                    raise _too_big(filename, _("row %(row)d has %(columns)s columns, more than "
                                               "%(max)s") % {"row": number,
                                                             "columns": _count(len(record)),
                                                             "max": _count(limits.max_columns)})
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
                 delimiter=delimiter, limits=limits)


# Reading a whole file out of harm's way --------------------------------------------------------

_CHECK_SECONDS = 900


def _address_space() -> int:
    """The bytes of address space this process maps now (VmSize)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _read_all(path, filename: str, sheet: str | None, limits: Limits) -> dict[str, Any]:
    """The child's work: every row of the file, under its memory limit."""
    ceiling = _address_space() + limits.max_memory_mb * _MB
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        ceiling = min(ceiling, hard)
    resource.setrlimit(resource.RLIMIT_AS, (ceiling, hard))
    try:
        rows = 0
        with open_table(path, filename=filename, sheet=sheet, limits=limits) as table:
            for _row in table.rows():
                rows += 1
        return {"ok": True, "rows": rows}
    except ReaderError as exc:
        return {"ok": False, "code": exc.code, "message": str(exc.message)}
    except MemoryError:
        return {"ok": False, "code": "memory"}
    except Exception:  # a parser's own error on a damaged file
        return {"ok": False, "code": "unreadable",
                "message": _("“%(file)s” is not a spreadsheet that can be read.")
                % {"file": filename}}


def check_file(path: str | os.PathLike, *, filename: str, sheet: str | None = None,
               limits: Limits | None = None) -> int:
    """Read the whole file (its chosen sheet) once in a forked child whose address space may
    grow by at most `limits.max_memory_mb` (RLIMIT_AS), and return its number of data rows.

    Uploads are read this way before a web request or the worker opens them, so a file that
    defeats a parser (a bomb the checks above miss, a parser bug that aborts) ends the child,
    never the server. Raises ReaderError with the child's message (in the active language) or,
    when the child ran out of memory or time, a message saying so. Everything the child runs
    is imported before the fork (a lock another thread held then would never be released)."""
    limits = limits or Limits.from_settings()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        status = 1
        try:
            os.close(read_end)
            # A parser that aborts would print its fatal error over the server's own output;
            # the parent reports the outcome instead.
            os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
            answer = json.dumps(_read_all(path, filename, sheet, limits)).encode()
            view = memoryview(answer)
            while view:
                view = view[os.write(write_end, view):]
            status = 0
        finally:
            os._exit(status)
    os.close(write_end)
    chunks: list[bytes] = []
    deadline = time.monotonic() + _CHECK_SECONDS
    timed_out = False
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
                break
            ready, _w, _x = select.select([read_end], [], [], left)
            if not ready:
                continue
            data = os.read(read_end, 65536)
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    if timed_out:
        raise _too_big(filename, _("reading it took longer than %(minutes)d minutes")
                       % {"minutes": _CHECK_SECONDS // 60})
    try:
        answer = json.loads(b"".join(chunks))
    except ValueError:
        answer = {"ok": False, "code": "memory"}  # the child died (an allocation aborted)
    if answer.get("ok"):
        return int(answer["rows"])
    if answer.get("code") == "memory":
        raise _too_big(filename, _("reading it needs more than %(max)s MB of memory")
                       % {"max": _count(limits.max_memory_mb)})
    raise ReaderError(answer["message"], code=answer["code"])
