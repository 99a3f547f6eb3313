"""Reading a transactions file for `kehu clv fit`: CSV or whitespace-separated
`customer_id date amount`, the CDNOW files too (`master_id sample_id date quantity spend`).

Dates are YYYYMMDD or YYYY-MM-DD; a header line is optional. The date column is found on the
first data line (the first field that is a date after the customer id); the customer id is
the field just before it and the amount the last field. A bad line is an error naming it.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


class TransactionsFileError(ValueError):
    """A line of the file cannot be read; `line` is its 1-based number."""

    def __init__(self, line: int, message: str):
        super().__init__(f"line {line}: {message}")
        self.line = line


@dataclass(frozen=True)
class Transactions:
    customer_ids: np.ndarray
    days: np.ndarray  # day numbers since 1970-01-01
    amounts: np.ndarray

    def __len__(self) -> int:
        return int(self.days.shape[0])

    @property
    def last_day(self) -> int:
        return int(self.days.max())


def parse_date(text: str) -> date | None:
    match = _DATE.match(text.strip())
    if not match:
        return None
    try:
        return date(int(match[1]), int(match[2]), int(match[3]))
    except ValueError:
        return None


def _split(line: str, delimiter: str | None) -> list[str]:
    if delimiter is None:
        return line.split()
    return [field.strip() for field in next(csv.reader(io.StringIO(line), delimiter=delimiter))]


def _delimiter(line: str) -> str | None:
    for candidate in (",", ";", "\t"):
        if candidate in line:
            return candidate
    return None


def read_transactions(path: str | Path) -> Transactions:
    """Every transaction of the file; TransactionsFileError names the first bad line."""
    ids: list[str] = []
    days: list[int] = []
    amounts: list[float] = []
    epoch = date(1970, 1, 1)
    delimiter: str | object = ...
    date_col = None
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115
    except OSError as exc:
        raise TransactionsFileError(0, f"cannot open {path}: {exc.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if delimiter is ...:
                delimiter = _delimiter(line)
            fields = _split(line, delimiter)
            if date_col is None:
                found = [i for i, f in enumerate(fields) if i > 0 and parse_date(f)]
                if not found:
                    if not ids and not any(parse_date(f) for f in fields):
                        continue  # a header line
                    raise TransactionsFileError(
                        number, "expected `customer_id date amount` (date as YYYYMMDD or "
                        "YYYY-MM-DD)")
                date_col = found[0]
            if len(fields) < date_col + 2:
                raise TransactionsFileError(
                    number, f"expected at least {date_col + 2} fields, found {len(fields)}")
            day = parse_date(fields[date_col])
            if day is None:
                raise TransactionsFileError(
                    number, f"{fields[date_col]!r} is not a date (YYYYMMDD or YYYY-MM-DD)")
            customer = fields[date_col - 1]
            if not customer:
                raise TransactionsFileError(number, "the customer id is empty")
            try:
                amount = float(fields[-1].replace("¥", "").replace(",", ""))
            except ValueError:
                raise TransactionsFileError(
                    number, f"{fields[-1]!r} is not an amount") from None
            if not np.isfinite(amount):
                raise TransactionsFileError(number, f"{fields[-1]!r} is not an amount")
            ids.append(customer)
            days.append((day - epoch).days)
            amounts.append(amount)
    if not ids:
        raise TransactionsFileError(0, "the file has no transactions")
    return Transactions(np.asarray(ids), np.asarray(days, dtype=np.int64),
                        np.asarray(amounts, dtype=np.float64))
