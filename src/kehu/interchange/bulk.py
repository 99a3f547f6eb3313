"""The customers import: read and clean the file a chunk at a time, hand each chunk to the
customers app's set-based writer (`kehu.customers.services.customers_upsert_many`), and turn
its results into counts and report lines.

Per chunk the rows are cleaned (kehu.core.normalize through rows.RowCleaner, plus what the
writer derives: phone kind, ID-number ciphertext and blind index, address parts, pinyin;
`customers.services.upsert_row`), optionally in a forked worker process while the previous
chunk is written. The writer applies the card's rules (kehu.customers.planning) and writes
set-based in the chunk's transaction, with the job's counters and row errors. A row matched
by an identifier whose name clearly differs is handled as the job's `on_name_conflict`
option says (review, the default: reported and queued for duplicate review; reject; update).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any

from django.db import connection, connections

from kehu.core.actor import Actor
from kehu.customers import fields as catalogue
from kehu.customers.services import (
    EXTERNAL_SYSTEM,
    UpsertOptions,
    UpsertRow,
    UpsertSession,
    customers_upsert_many,
    upsert_row,
)
from kehu.identity.scan import candidates_queue_pairs
from kehu.interchange.jobs import Chunk, Written
from kehu.interchange.readers import open_table
from kehu.interchange.rows import RowCleaner, RowError, masked
from kehu.interchange.selectors import active_custom_fields, mapping_from_json, upload_plain
from kehu.privacy.services import ImportedConsent, consents_record_imported

PRECEDENCE = ("mobile", "email", "id_number", "external_id")
ON_NAME_CONFLICT = ("review", "reject", "update")  # customers.planning.ON_NAME_CONFLICT
__all__ = ["CHUNK_ROWS", "EXTERNAL_SYSTEM", "ON_NAME_CONFLICT", "PRECEDENCE", "CustomersImport",
           "Prepared", "prepare"]
CHUNK_ROWS = int(os.environ.get("KEHU_IMPORT_CHUNK_ROWS") or 5000)
# Clean the next chunk in a forked process while this one writes (0: all in this process).
WORKERS = int(os.environ.get("KEHU_IMPORT_WORKERS") or 1)
SQLITE_CACHE_KIB = 256 * 1024  # SQLite page cache of the importing connection, in KiB


@dataclass
class Prepared:
    """One cleaned row: its cells, its errors, and (unless rejected) the writer's row."""

    number: int
    cells: list[str]
    errors: list[RowError]
    rejected: bool
    row: UpsertRow | None = None
    # The row's consent columns ({"consent.marketing.sms": True}), for the consent ledger.
    consent: dict[str, bool] | None = None

    def __repr__(self) -> str:  # values may hold a clear ID number
        return f"Prepared(number={self.number}, rejected={self.rejected})"


def prepare(cleaner: RowCleaner, chunk: list[tuple[int, list[str]]]) -> list[Prepared]:
    """Clean a chunk and derive the writer's values; no database access."""
    out: list[Prepared] = []
    for number, cells in chunk:
        clean = cleaner.clean(number, cells)
        item = Prepared(number=number, cells=cells, errors=clean.errors,
                        rejected=clean.rejected)
        if not clean.rejected:
            item.consent = clean.values.pop("consent", None)
            item.row = upsert_row(number, clean.values)
        out.append(item)
    return out


# A forked worker cleans chunks with its parent's cleaner (handed over at fork).
_WORKER_CLEANER: RowCleaner | None = None
_INHERITED: list[Any] = []


def _worker_init(cleaner: RowCleaner) -> None:
    global _WORKER_CLEANER
    _WORKER_CLEANER = cleaner  # inherited at fork, not pickled
    # Never use (nor close: that would end the parent's session) the inherited connections.
    for conn in connections.all(initialized_only=True):
        _INHERITED.append(conn.connection)
        conn.connection = None
    # Die with the parent (kill -9 included) and do not hold its stdout/stderr open.
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)


def _worker_prepare(chunk: list[tuple[int, list[str]]]) -> list[Prepared]:
    assert _WORKER_CLEANER is not None
    return prepare(_WORKER_CLEANER, chunk)


class CustomersImport:
    """The per-job state of a customers import: table, cleaner, options, caches."""

    def __init__(self, job, actor: Actor):
        self.job, self.actor = job, actor
        self._plain = contextlib.ExitStack()
        plain = self._plain.enter_context(upload_plain(job))
        self.table = open_table(plain,
                                filename=job.original_filename, sheet=job.sheet or None)
        mapping = mapping_from_json(job.mapping)
        self.cleaner = RowCleaner(self.table.headers, mapping,
                                  custom_fields=active_custom_fields(),
                                  skip_invalid_fields=bool(job.options.get("skip_invalid_fields")))
        self.options = UpsertOptions(
            precedence=tuple(job.options.get("precedence") or PRECEDENCE),
            skip_invalid=self.cleaner.skip_invalid_fields,
            on_name_conflict=job.options.get("on_name_conflict") or "review")
        self.session = UpsertSession()
        self.columns: dict[str, tuple[int, str]] = {
            f: (index, self.table.headers[index]) for index, f in mapping.items()
            if f and index < len(self.table.headers)}
        self._pool: ProcessPoolExecutor | None = None
        self._cache_pages: int | None = None
        if connection.vendor == "sqlite":
            # A chunk touches a dozen indexes at random places: give this connection a
            # page cache that holds them (put back in close()).
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA cache_size")
                self._cache_pages = cursor.fetchone()[0]
                cursor.execute(f"PRAGMA cache_size = {-SQLITE_CACHE_KIB:d}")

    def close(self) -> None:
        self.table.close()
        self._plain.close()
        if self._cache_pages is not None:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA cache_size = {int(self._cache_pages):d}")
            self._cache_pages = None
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def chunks(self, start: int) -> Iterator[list[tuple[int, list[str]]]]:
        chunk: list[tuple[int, list[str]]] = []
        for number, cells in self.table.rows():
            if number < start:
                continue
            chunk.append((number, cells))
            if len(chunk) >= CHUNK_ROWS:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def prepared_chunks(self, start: int) -> Iterator[list[Prepared]]:
        """The cleaned chunks in order; with a worker, the next one is cleaned meanwhile."""
        chunks = self.chunks(start)
        if WORKERS <= 0 or (self.job.total_rows or 0) <= CHUNK_ROWS:
            for chunk in chunks:
                yield prepare(self.cleaner, chunk)
            return
        self._pool = ProcessPoolExecutor(max_workers=WORKERS, mp_context=get_context("fork"),
                                         initializer=_worker_init, initargs=(self.cleaner,))
        pending: list[Future] = []
        for chunk in chunks:
            pending.append(self._pool.submit(_worker_prepare, chunk))
            if len(pending) > WORKERS:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()

    # Writing one chunk ----------------------------------------------------------------------

    def job_chunks(self, start: int) -> Iterator[Chunk]:
        """The cleaned chunks from row `start`, as jobs.run_chunks takes them."""
        for prepared in self.prepared_chunks(start):
            yield Chunk(first=prepared[0].number, last=prepared[-1].number,
                        size=len(prepared), rows=prepared)

    def write(self, prepared: list[Prepared]) -> Written:
        """Write the chunk's rows through customers_upsert_many; must run inside the chunk's
        transaction. Returns each row's outcome counted and the report lines; name
        conflicts under "review" are queued for duplicate review in the same transaction."""
        rows = [item.row for item in prepared if item.row is not None]
        results = iter(customers_upsert_many(actor=self.actor, rows=rows,
                                             options=self.options, session=self.session))
        written = Written()
        conflicts: list[tuple[int, int]] = []
        consents: list[ImportedConsent] = []
        for item in prepared:
            if item.row is None:
                written.counts["rejected"] += 1
                written.errors.extend(item.errors)
                continue
            result = next(results)
            written.counts[result.outcome] += 1
            written.errors.extend(item.errors)
            written.errors.extend(self.error(name, item.number, item.cells, message)
                                  for name, message in result.errors)
            if result.conflict is not None:
                conflicts.append(result.conflict)
            if item.consent and result.customer_id is not None and result.outcome != "rejected":
                for key, granted in item.consent.items():
                    _prefix, purpose, channel = key.split(".", 2)
                    consents.append(ImportedConsent(result.customer_id, purpose, channel,
                                                    granted))
        if conflicts:
            candidates_queue_pairs(actor=self.actor, pairs=conflicts)
        if consents:
            consents_record_imported(
                actor=self.actor, items=consents,
                reference=f"import #{self.job.pk} {self.job.original_filename}")
        return written

    def error(self, name: str, number: int, cells: list[str], reason: str) -> RowError:
        index, header = self.columns.get(name, (-1, ""))
        if index < 0 and name:
            header = catalogue.label(name) if catalogue.field(name) else name
        value = masked(cells[index]) if 0 <= index < len(cells) else ""
        return RowError(row=number, column=header, value=value, reason=reason)
