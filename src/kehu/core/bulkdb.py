"""Set-based inserts for bulk paths (imports): ids allocated up front, rows written with one
`executemany` on SQLite or one COPY on PostgreSQL.

Table and column names come from the models' `_meta`; values go as parameters (or through
COPY's own encoding), never into the SQL text. Values are converted with each field's
`get_db_prep_save` where the column needs it (dates, times, JSON), so what lands in the
table is what the ORM would have written. Callers run inside `transaction.atomic()`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, models

from kehu.core.conflicts import CONFLICT_ATTEMPTS, atomic_retrying_conflicts

__all__ = ["CONFLICT_ATTEMPTS", "JSONText", "allocate_ids", "atomic_retrying_conflicts",
           "insert_rows", "update_rows"]

# Column types whose Python values need the field's own conversion before they reach the
# driver (the rest are str/int/bool/None, which every driver takes as they are).
_CONVERTED = {"JSONField", "DateTimeField", "DateField", "DecimalField",
              "GenericIPAddressField", "TimeField", "UUIDField"}


class JSONText(str):
    """Already-serialised JSON for a JSONField column: inserted as it is, not serialised
    again (the audit chain serialises each entry's changes once, for its hash)."""


_UNSET = object()


def allocate_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` fresh primary keys for `model`, reserved for the caller's transaction.

    PostgreSQL draws them from the column's sequence. SQLite takes the ones after the
    highest id ever used; kehu opens SQLite transactions IMMEDIATE, so the caller already
    holds the database's write lock and no other writer can take the same ids.
    """
    if count <= 0:
        return []
    if not connection.in_atomic_block:
        raise RuntimeError("allocate_ids must run inside transaction.atomic()")
    table, pk = model._meta.db_table, model._meta.pk.column
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                           "FROM generate_series(1, %s)", [qn(table), pk, count])
            return [row[0] for row in cursor.fetchall()]
        cursor.execute(f"SELECT MAX({qn(pk)}) FROM {qn(table)}")  # noqa: S608 - names from _meta
        top = cursor.fetchone()[0] or 0
        cursor.execute("SELECT name FROM sqlite_master WHERE name = 'sqlite_sequence'")
        if cursor.fetchone():
            cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
            row = cursor.fetchone()
            top = max(top, row[0] if row else 0)
    return list(range(top + 1, top + count + 1))


class _Converter:
    """A field's get_db_prep_save, remembering results for repeated values (one timestamp
    per chunk, birthdays, empty JSON) so each is converted once."""

    def __init__(self, field: models.Field):
        self.field, self.seen = field, {}
        self.json = field.get_internal_type() == "JSONField"  # 1 and True differ there
        self.empty = {}

    def __call__(self, value: Any) -> Any:
        if self.json:
            if type(value) is JSONText:
                return str(value)
            if value == {} or value == []:
                kind = type(value)
                if kind not in self.empty:
                    self.empty[kind] = self.field.get_db_prep_save(value, connection=connection)
                return self.empty[kind]
            return self.field.get_db_prep_save(value, connection=connection)
        try:
            return self.seen[value]
        except KeyError:
            converted = self.field.get_db_prep_save(value, connection=connection)
            if len(self.seen) < 100_000:
                self.seen[value] = converted
            return converted
        except TypeError:  # unhashable
            return self.field.get_db_prep_save(value, connection=connection)


def _converters(model: type[models.Model], names: Sequence[str]) -> list[Any]:
    converters = []
    for name in names:
        field = model._meta.get_field(name)
        if field.get_internal_type() in _CONVERTED:
            converters.append(_Converter(field))
        else:
            converters.append(None)
    return converters


def _converted(rows: list[Sequence[Any]], converters: list[Any], *,
               offset: int) -> list[Sequence[Any]]:
    """The rows with the columns that need it converted (only those: a wide row has a
    handful of dates and JSON among dozens of plain values), column by column. Column i of
    `converters` is column i + offset of a row."""
    todo = [(index + offset, convert) for index, convert in enumerate(converters)
            if convert is not None]
    if not todo:
        return rows
    columns = list(zip(*rows, strict=True))
    for index, convert in todo:
        out, last, last_out = [], _UNSET, None
        for value in columns[index]:
            if value is None:
                out.append(None)
            elif value is last:  # one timestamp per chunk, the same empty JSON …
                out.append(last_out)
            else:
                last, last_out = value, convert(value)
                out.append(last_out)
        columns[index] = out
    return list(zip(*columns, strict=True))


def insert_rows(model: type[models.Model], names: Sequence[str],
                rows: Iterable[Sequence[Any]], *, prepared: bool = False) -> int:
    """Insert rows of values for the columns `names` (field names or attnames such as
    "customer_id"); returns how many. Defaults, auto_now and signals are NOT applied: give
    every column the caller needs, as the ORM would have set it. `prepared`: the values are
    already in their database form (JSON as text, datetimes adapted): no conversion."""
    rows = list(rows)
    if not rows:
        return 0
    fields = [model._meta.get_field(name) for name in names]
    if not prepared:
        rows = _converted(rows, _converters(model, names), offset=0)
    qn = connection.ops.quote_name
    table = qn(model._meta.db_table)
    columns = ", ".join(qn(field.column) for field in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The driver's own cursor: its errors are mapped to django.db's as the ORM's are.
            with connection.wrap_database_errors, cursor.cursor.copy(
                    f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608
                               rows)
    return len(rows)


def update_rows(model: type[models.Model], names: Sequence[str],
                rows: Iterable[Sequence[Any]]) -> int:
    """UPDATE model SET names… WHERE pk = row[0], one parameterised statement run for every
    row (`executemany`); each row is (pk, *values)."""
    rows = list(rows)
    if not rows:
        return 0
    rows = _converted(rows, _converters(model, names), offset=1)
    qn = connection.ops.quote_name
    fields = [model._meta.get_field(name) for name in names]
    assignments = ", ".join(f"{qn(field.column)} = %s" for field in fields)
    sql = (f"UPDATE {qn(model._meta.db_table)} SET {assignments} "  # noqa: S608 - names from _meta
           f"WHERE {qn(model._meta.pk.column)} = %s")
    with connection.cursor() as cursor:
        cursor.executemany(sql, [[*row[1:], row[0]] for row in rows])
    return len(rows)
