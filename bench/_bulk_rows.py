"""Fast bulk rows for the scale benches: raw multi-row inserts (SQLite) or COPY (PostgreSQL).

Django's bulk_create spends most of its time preparing values field by field; at tens of
millions of rows that is the whole bench. Here the caller gives plain tuples for the columns
it cares about and every other column gets its model default, prepared once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence

from django.db import connection, transaction

BLOCK = 20_000


def _defaults(model, given: Sequence[str]) -> tuple[list[str], list]:
    """The remaining concrete columns and their prepared default values."""
    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.auto_created or field.column in given:
            continue
        if field.attname in given:
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            value = dt.datetime.now(dt.UTC)
        elif field.null and not field.has_default():
            value = None
        else:
            value = field.get_default()  # "" for a blank text column without a default
            if value is None:
                raise ValueError(f"{model.__name__}.{field.name} needs a value")
        columns.append(field.column)
        values.append(_db(value))
    return columns, values


def _db(value):
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if connection.vendor == "sqlite" and isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")
    return value


def insert(model, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """Insert `rows` (tuples matching `columns`, by column name) into model's table."""
    extra_columns, extra_values = _defaults(model, columns)
    names = [*columns, *extra_columns]
    table = model._meta.db_table
    quoted = ", ".join(connection.ops.quote_name(name) for name in names)
    extra = tuple(extra_values)
    count = 0
    block: list[tuple] = []

    def flush():
        nonlocal block
        if not block:
            return
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({quoted}) FROM STDIN") as copy:
                    for row in block:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(names))
                # Table and column names come from the model, never from input.
                sql = f"INSERT INTO {table} ({quoted}) VALUES ({marks})"  # noqa: S608
                cursor.executemany(sql, block)
        block = []

    sqlite = connection.vendor == "sqlite"
    for row in rows:
        if sqlite:
            row = tuple(_db(value) for value in row)
        block.append(row + extra)
        count += 1
        if len(block) >= BLOCK:
            flush()
    flush()
    return count
