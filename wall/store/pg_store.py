"""The store on PostgreSQL: the same async API as the SQLite ``Store``, for several servers.

One psycopg 3 connection on one dedicated thread (as SQLite's), so every caller's
``transaction(fn)`` stays a plain function that gets a connection (``PgConnection``,
sqlite3-shaped) and runs its statements in order.

Transactions keep SQLite's contract: one writer at a time. ``BEGIN IMMEDIATE`` on SQLite
serialises writers across processes; here every write transaction takes one
transaction-scoped advisory lock first, so code written as "read, then write what
follows from it" (the next layout version, the next camera id, the count of open
pairings) stays right with several controllers on one database, under PostgreSQL's
default READ COMMITTED. Our write rate (logins, edits, audit) is a few per second.

Outages: a connection that died is dropped and the next call reconnects. A call whose
statements never reached COMMIT is retried once on a fresh connection (the server rolled
the dead one's transaction back, so nothing of it was kept); one that fails again, or
whose COMMIT itself was cut (its outcome unknown), raises ``StoreUnavailable`` (a 503).
"""
from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar, cast

import psycopg
from psycopg.conninfo import conninfo_to_dict

from iocwall.wall.store.errors import StoreUnavailable
from iocwall.wall.store.migrations import migrate_pg
from iocwall.wall.store.pg import PgConnection, Row, identity_tables, row_factory
from iocwall.wall.store.store import Params, Store

log = logging.getLogger(__name__)

T = TypeVar("T")
CONNECT_TIMEOUT_S = 5
# After a failed connect, calls fail at once for this long: requests queued on the store's
# one thread must not each wait out a connect timeout while the server is unreachable.
RECONNECT_PAUSE_S = 1.0
WRITE_LOCK = 0x10C_3A11_0002          # the advisory lock every write transaction holds
_READ = re.compile(r"^\s*(SELECT|WITH)\b", re.IGNORECASE)


def describe(url: str) -> str:
    """host:port/database of a URL, never its password (for logs and messages)."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://?"
    host = info.get("host") or "localhost"
    return f"postgresql://{host}:{info.get('port') or 5432}/{info.get('dbname') or ''}"


class PgStore(Store):
    """``url``: a libpq URL (postgresql://user@host:port/db); ``password``: used when the
    URL has none (libpq's PGPASSWORD and ~/.pgpass also work)."""

    dialect = "postgresql"

    def __init__(self, url: str, password: str | None = None) -> None:
        self.url, self.password = url, password
        self.where = describe(url)                 # what logs and messages show
        self.path = Path(self.where)
        self.version = 0
        self._pg: PgConnection | None = None
        self._identity: set[str] = set()
        self._executor: ThreadPoolExecutor | None = None
        self._conn = None
        self._down: tuple[float, str] | None = None      # (retry after, why) once a connect failed

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-pg")
        try:
            self.version = await self._run(self._open_sync)
        except BaseException:
            await self.close()
            raise
        log.info("store open: %s (schema v%d)", self.where, self.version)

    def _open_sync(self) -> int:
        conn = self._connection()
        version = migrate_pg(conn.raw)
        self._identity = identity_tables(conn.raw)
        conn.identity_tables = self._identity
        return version

    def _connection(self) -> PgConnection:
        if self._pg is not None and not self._pg.broken:
            return self._pg
        self._drop()
        if self._down is not None and time.monotonic() < self._down[0]:
            raise StoreUnavailable(self._down[1])
        kwargs: dict[str, Any] = {}
        if self.password and "password" not in conninfo_to_dict(self.url):
            kwargs["password"] = self.password
        try:
            raw = psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                  cursor_factory=psycopg.ClientCursor, row_factory=row_factory,
                                  application_name="iocwall", **kwargs)
        except psycopg.Error as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            why = f"cannot reach {self.where}: {detail}"
            self._down = (time.monotonic() + RECONNECT_PAUSE_S, why)
            raise StoreUnavailable(why) from None
        if self._down is not None:
            log.info("store reconnected: %s", self.where)
            self._down = None
        self._pg = PgConnection(cast("psycopg.Connection[Row]", raw), self._identity)
        return self._pg

    def _drop(self) -> None:
        conn, self._pg = self._pg, None
        if conn is not None:
            try:
                conn.close()
            except psycopg.Error:
                pass

    async def close(self) -> None:
        if self._executor is None:
            return
        await self._run(self._drop)
        self._executor.shutdown(wait=True)
        self._executor = None

    def _require(self) -> Any:
        raise RuntimeError("PgStore has no sqlite3 connection")

    def _attempt(self, work: Callable[[PgConnection, list[bool]], T]) -> T:
        """``work(conn, committing)`` on a live connection; once more on a fresh one when
        the connection died before ``committing[0]`` was set."""
        for attempt in (1, 2):
            conn = self._connection()
            committing = [False]
            try:
                return work(conn, committing)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if not conn.broken:
                    raise
                self._drop()
                log.warning("store connection lost (%s): %s", self.where,
                            str(exc).strip().splitlines()[0] if str(exc).strip() else "")
                if attempt == 2 or committing[0]:
                    raise StoreUnavailable(f"connection to {self.where} lost") from None
        raise AssertionError("unreachable")

    async def execute(self, sql: str, params: Params = ()) -> int:
        """One statement; a write runs as a transaction (with the write lock)."""
        def statement(conn: Any) -> int:
            cur = conn.execute(sql, params)
            return int(cur.lastrowid or 0) if sql.lstrip().upper().startswith("INSERT") \
                else cur.rowcount
        if _READ.match(sql):
            return await self._run(lambda: self._attempt(lambda c, _: statement(c)))
        return await self.transaction(statement)

    async def fetchone(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        def work(conn: PgConnection, _: list[bool]) -> dict[str, Any] | None:
            row = conn.execute(sql, params).fetchone()
            return dict(zip(row.keys(), row, strict=True)) if row is not None else None
        return await self._run(lambda: self._attempt(work))

    async def fetchall(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        def work(conn: PgConnection, _: list[bool]) -> list[dict[str, Any]]:
            return [dict(zip(r.keys(), r, strict=True))
                    for r in conn.execute(sql, params).fetchall()]
        return await self._run(lambda: self._attempt(work))

    async def transaction(self, fn: Callable[[Any], T], durable: bool = True) -> T:
        """``fn(conn)`` between BEGIN and COMMIT, holding the write lock (ROLLBACK if it
        raises). ``durable=False``: commit without waiting for the WAL flush."""
        def work(conn: PgConnection, committing: list[bool]) -> T:
            raw = conn.raw
            raw.execute("BEGIN")
            try:
                raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                if not durable:
                    raw.execute("SET LOCAL synchronous_commit = off")
                result = fn(conn)
            except BaseException:
                if not conn.broken:
                    raw.execute("ROLLBACK")
                raise
            committing[0] = True
            raw.execute("COMMIT")
            return result
        return await self._run(lambda: self._attempt(work))

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self.transaction(lambda conn: conn.executemany(sql, rows))

    async def ping(self) -> bool:
        """True when PostgreSQL answers (reconnecting if it must)."""
        try:
            return await self._run(lambda: self._attempt(
                lambda c, _: c.execute("SELECT 1").fetchone()[0] == 1))  # type: ignore[index]
        except (StoreUnavailable, psycopg.Error, RuntimeError):
            return False

    async def integrity_ok(self) -> bool:
        """PostgreSQL checks its pages itself (checksums, WAL replay): answering is enough."""
        return await self.ping()
