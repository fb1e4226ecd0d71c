"""A psycopg 3 connection that looks like the sqlite3 one our SQL code is written for.

The code of every part (registry, auth, walls ...) gets a connection in its
``transaction(fn)`` callbacks and uses ``conn.execute(sql, params)`` with ``?``
placeholders, then ``fetchone()``, ``fetchall()``, ``lastrowid``, ``rowcount`` and rows
read as ``row[0]`` or ``row["name"]``. ``PgConnection`` keeps exactly that, so no caller
knows which engine it talks to:

- placeholders are translated once per statement text (wall/store/dialect.py);
- values are bound on the client (psycopg's ``ClientCursor``): a parameter is a literal
  whose type PostgreSQL infers from where it stands, as SQLite would take it
  (``? IS NULL`` works; a server-side parameter would need an explicit type there);
- ``lastrowid`` of an INSERT into a table with an identity ``id`` comes from an added
  ``RETURNING id``;
- a unique or foreign-key violation is raised as ``sqlite3.IntegrityError`` (with the
  psycopg error as its cause): callers that turn it into a 409 work on both engines.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import RowMaker

from iocwall.wall.store.dialect import insert_table, pg_params


class Row(Sequence[Any]):
    """Like ``sqlite3.Row``: by position, by column name (any case), ``dict(row)``."""
    __slots__ = ("_values", "_index")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values, self._index = tuple(values), index

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            found = self._index.get(key)
            if found is None:
                found = self._index.get(key.lower())
                if found is None:
                    raise IndexError(f"no such column: {key}")
            return self._values[found]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def keys(self) -> list[str]:
        return list(self._index)

    def __repr__(self) -> str:
        return f"Row({dict(zip(self._index, self._values, strict=False))!r})"


def row_factory(cursor: Any) -> RowMaker[Row]:
    names = [c.name for c in cursor.description or ()]
    index: dict[str, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)           # a repeated name reads the first, as sqlite3.Row

    def make(values: Sequence[Any]) -> Row:
        return Row(values, index)
    return make


class PgCursor:
    """What a statement answered; ``fetch*`` of a statement without rows gives nothing,
    like sqlite3 (psycopg would raise)."""

    def __init__(self, cursor: psycopg.Cursor[Row], lastrowid: int | None,
                 first: Row | None = None) -> None:
        self._cursor, self.lastrowid, self._first = cursor, lastrowid, first

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def fetchone(self) -> Row | None:
        if self._first is not None:
            row, self._first = self._first, None
            return row
        return self._cursor.fetchone() if self._cursor.description is not None else None

    def fetchall(self) -> list[Row]:
        head = [] if self._first is None else [self._first]
        self._first = None
        return head + (self._cursor.fetchall() if self._cursor.description is not None else [])

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


def _value(value: Any) -> Any:
    # sqlite3 stores True as 1; our flag columns are integers on both engines
    return int(value) if isinstance(value, bool) else value


def _bind(params: Sequence[Any] | Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
    if isinstance(params, Mapping):
        return {k: _value(v) for k, v in params.items()}
    return tuple(_value(v) for v in params)


class PgConnection:
    """The sqlite3-shaped face of one psycopg connection (autocommit; ``Store`` sends
    BEGIN and COMMIT itself, as it does on SQLite)."""

    def __init__(self, raw: psycopg.Connection[Row], identity_tables: set[str]) -> None:
        self.raw = raw
        self.identity_tables = identity_tables

    @property
    def broken(self) -> bool:
        return self.raw.closed or self.raw.broken

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> PgCursor:
        table = insert_table(sql)
        query = pg_params(sql)
        returning = table is not None and table in self.identity_tables
        if returning:
            query = query.rstrip().rstrip(";") + " RETURNING id"
        cursor = self.raw.cursor()
        try:
            cursor.execute(query, _bind(params))
        except psycopg.IntegrityError as exc:
            raise sqlite3.IntegrityError(str(exc).splitlines()[0]) from exc
        if not returning:
            return PgCursor(cursor, None)
        first = cursor.fetchone()
        return PgCursor(cursor, None if first is None else int(first[0]), None)

    def executemany(self, sql: str,
                    rows: Iterable[Sequence[Any] | Mapping[str, Any]]) -> None:
        for params in rows:
            self.execute(sql, params)

    def close(self) -> None:
        self.raw.close()


def identity_tables(raw: psycopg.Connection[Row]) -> set[str]:
    """Tables whose ``id`` is an identity column (SQLite's INTEGER PRIMARY KEY)."""
    rows = raw.execute(
        "SELECT table_name FROM information_schema.columns WHERE table_schema ="
        " current_schema() AND column_name = 'id' AND is_identity = 'YES'").fetchall()
    return {str(r[0]) for r in rows}
