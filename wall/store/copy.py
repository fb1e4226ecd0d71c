"""Copy a SQLite site into an empty PostgreSQL database (``iocwall store copy``).

Both sides are first brought to this release's schema by the same migrations, so the
tables and columns match. Then, in ONE PostgreSQL transaction holding the store's write
lock: every table is copied (parents before children, so foreign keys hold as rows
arrive; COPY, not row-by-row INSERTs), identity sequences are moved past the copied ids,
and every table is verified: the same row count and the same checksum on both sides
(sha256 over the sorted hashes of the rows, so engine-specific ordering does not
matter). Any difference rolls the whole copy back. A target that already holds rows is
refused before anything is written.
"""
from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iocwall.wall.store.pg import PgConnection
from iocwall.wall.store.pg_store import PgStore
from iocwall.wall.store.store import Store, connect


class CopyError(Exception):
    """The copy cannot start or did not verify; nothing was written."""


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int
    checksum: str


def _tables(conn: sqlite3.Connection) -> list[str]:
    """Every table of the site, each after the tables its foreign keys point to."""
    # PRAGMA table_list tells plain tables from virtual ones and their shadow tables: the
    # audit's trigram index (FTS5, SQLite only) is rebuilt by PostgreSQL's own index instead.
    names = sorted(r["name"] for r in conn.execute("PRAGMA main.table_list")
                   if r["type"] == "table" and not r["name"].startswith("sqlite_")
                   and r["name"] != "schema_version")
    parents = {n: {r[2] for r in conn.execute(f'PRAGMA foreign_key_list("{n}")')} - {n}
               for n in names}
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and parents[n] <= set(ordered)]
        if not ready:
            raise CopyError(f"foreign keys form a cycle among {sorted(set(names) - set(ordered))}")
        ordered.extend(ready)
    return ordered


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _canonical(value: Any) -> bytes:
    if value is None:
        return b"N"
    if isinstance(value, bool | int):
        return b"i" + str(int(value)).encode()
    if isinstance(value, float):
        return b"f" + repr(value).encode()
    if isinstance(value, bytes | memoryview):
        return b"b" + bytes(value).hex().encode()
    return b"s" + str(value).encode()


def checksum(rows: Iterable[Sequence[Any]]) -> tuple[int, str]:
    """(row count, order-independent checksum) of ``rows``."""
    digests = sorted(hashlib.sha256(b"\x1f".join(_canonical(v) for v in row)).digest()
                     for row in rows)
    total = hashlib.sha256(b"".join(digests)).hexdigest()
    return len(digests), total


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def _copy_table(source: sqlite3.Connection, target: PgConnection, table: str) -> TableCopy:
    columns = _columns(source, table)
    select = f'SELECT {_quoted(columns)} FROM "{table}"'
    cursor = target.raw.cursor()
    with cursor.copy(f'COPY "{table}" ({_quoted(columns)}) FROM STDIN') as copy:
        for row in source.execute(select):
            copy.write_row(tuple(row))
    count, digest = checksum(source.execute(select))
    copied = checksum(target.raw.execute(select).fetchall())
    if copied != (count, digest):
        raise CopyError(f"table {table}: {count} rows in SQLite, {copied[0]} copied, "
                        "or their contents differ; nothing was written")
    if "id" in columns and table in target.identity_tables and count:
        target.raw.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'),"
                           f' (SELECT MAX(id) FROM "{table}"))')
    return TableCopy(table, count, digest)


async def copy_site(sqlite_path: Path, target: PgStore,
                    progress: Callable[[TableCopy], None] = lambda _: None) -> list[TableCopy]:
    """Copy the SQLite store at ``sqlite_path`` into ``target`` (open). Raises CopyError."""
    if not sqlite_path.is_file():
        raise CopyError(f"no SQLite store at {sqlite_path}")
    site = Store(sqlite_path)
    await site.open()                    # the same schema version as the target
    await site.close()
    if site.version != target.version:
        raise CopyError(f"schema versions differ: SQLite v{site.version}, "
                        f"PostgreSQL v{target.version}")
    source = connect(sqlite_path)
    try:
        tables = _tables(source)
        for table in tables:
            row = await target.fetchone(f'SELECT COUNT(*) AS n FROM "{table}"')
            if row is None or row["n"]:
                raise CopyError(f"the target database is not empty (table {table} has "
                                f"{row['n'] if row else '?'} rows): copy into a new, empty "
                                "database")

        def work(conn: Any) -> list[TableCopy]:
            done = []
            for table in tables:
                result = _copy_table(source, conn, table)
                progress(result)
                done.append(result)
            return done
        return await target.transaction(work)
    finally:
        source.close()
