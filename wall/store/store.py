"""SQLite access for the server: one connection, one thread, an async API.

(PostgreSQL: ``PgStore`` in pg_store.py, the same API; SQL differences in dialect.py.)

Every call runs on a single dedicated thread (a one-worker executor), so the
event loop never blocks on disk and writes are naturally serialised: SQLite
allows one writer at a time anyway, and one thread avoids "database is locked"
inside our own process. Other processes (a second server, the CLI) are covered
by the busy timeout.

Durability: WAL journal with ``synchronous=FULL``. WAL alone already keeps the
file consistent after a kill -9 (committed transactions live in the WAL and are
replayed on open). FULL also fsyncs the WAL on each commit, so an audit entry
that was reported as written survives a power cut too. Our write rate (logins,
admin edits, audit) is a few per second at most, so the fsync costs nothing
that matters; NORMAL would risk losing the last commits on power loss.

One exception, chosen per transaction: ``transaction(fn, durable=False)`` commits
with ``synchronous=NORMAL`` (no fsync; the commit is visible to every connection and
survives a kill -9, only a power cut may lose it). The caller then owes a durable
commit before it tells anyone the change is saved: the next FULL commit fsyncs the
WAL, and with it the earlier NORMAL frames. A wall push uses this so its fsync (the
audit entry) runs while the displays apply the layout, not before they see it.
"""
from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from iocwall.wall.private_files import PRIVATE_DIR, PRIVATE_FILE, touch_private
from iocwall.wall.store.migrations import migrate
from iocwall.wall.text import fold

log = logging.getLogger(__name__)

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]
BUSY_TIMEOUT_MS = 5000


def connect(path: str | Path) -> sqlite3.Connection:
    """A connection with our pragmas; autocommit mode (explicit transactions only)."""
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal" and str(path) != ":memory:":
        raise sqlite3.OperationalError(f"cannot switch {path} to WAL mode (got {mode})")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    # the search columns' folding rule, for SQL that fills them (migration 0010)
    conn.create_function("iocwall_fold", 1, _fold_sql, deterministic=True)
    return conn


def _fold_sql(text: object) -> str:
    return fold("" if text is None else str(text))


class Store:
    """The database of one server. ``await open()`` before use, ``await close()`` after."""

    # which SQL this store speaks, for the few queries that use an engine's own index kind
    dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.version = 0
        self._conn: sqlite3.Connection | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def open(self) -> None:
        """Create the file if needed (0600, like its -wal and -shm) and bring the schema
        up to date."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._conn = await self._run(self._connect_private)
        self.version = await self._run(lambda: migrate(self._require()))
        log.info("store open: %s (schema v%d)", self.path, self.version)

    def _connect_private(self) -> sqlite3.Connection:
        # SQLite creates -wal and -shm with the mode of the database file: a 0600 database
        # gives 0600 companions whatever the umask. Older releases left them wider.
        if not self.path.parent.is_dir():
            self.path.parent.mkdir(parents=True, mode=PRIVATE_DIR)
        touch_private(self.path)
        conn = connect(self.path)
        for suffix in ("-wal", "-shm", "-journal"):
            companion = self.path.with_name(self.path.name + suffix)
            if companion.exists():
                companion.chmod(PRIVATE_FILE)
        return conn

    async def close(self) -> None:
        if self._executor is None:
            return
        conn, self._conn = self._conn, None
        if conn is not None:
            await self._run(conn.close)
        self._executor.shutdown(wait=True)
        self._executor = None

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("store is not open")
        return self._conn

    async def _run(self, fn: Callable[[], T]) -> T:
        if self._executor is None:
            raise RuntimeError("store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement in its own transaction; returns lastrowid (INSERT) or rowcount."""
        def work() -> int:
            cur = self._require().execute(sql, params)
            return int(cur.lastrowid or 0) if sql.lstrip().upper().startswith("INSERT") \
                else cur.rowcount
        return await self._run(work)

    async def fetchone(self, sql: str, params: Params = ()) -> dict[str, Any] | None:
        def work() -> dict[str, Any] | None:
            row = self._require().execute(sql, params).fetchone()
            return dict(row) if row is not None else None
        return await self._run(work)

    async def fetchall(self, sql: str, params: Params = ()) -> list[dict[str, Any]]:
        def work() -> list[dict[str, Any]]:
            return [dict(r) for r in self._require().execute(sql, params).fetchall()]
        return await self._run(work)

    async def transaction(self, fn: Callable[[sqlite3.Connection], T],
                          durable: bool = True) -> T:
        """Run ``fn(conn)`` inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK if it raises).

        ``durable=False``: commit without fsync (see the module docstring for what the
        caller then owes)."""
        def work() -> T:
            conn = self._require()
            if not durable:
                conn.execute("PRAGMA synchronous = NORMAL")
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = fn(conn)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                if not durable:
                    conn.execute("PRAGMA synchronous = FULL")
            return result
        return await self._run(work)

    async def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        await self.transaction(lambda conn: conn.executemany(sql, rows))

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            return await self._run(lambda: self._require().execute("SELECT 1").fetchone()[0] == 1)
        except (sqlite3.Error, RuntimeError):
            return False

    async def integrity_ok(self) -> bool:
        rows = await self.fetchall("PRAGMA integrity_check")
        return [next(iter(r.values())) for r in rows] == ["ok"]

    # -- settings: small key/value pairs the server keeps (e.g. a generated session secret)

    async def get_setting(self, key: str) -> str | None:
        row = await self.fetchone("SELECT value FROM settings WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    async def set_setting(self, key: str, value: str) -> None:
        await self.execute(
            "INSERT INTO settings(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value))

    async def setting_or_create(self, key: str, make: Callable[[], str]) -> str:
        """The stored value, or store ``make()`` first; safe if two processes race."""
        def work(conn: sqlite3.Connection) -> str:
            conn.execute("INSERT INTO settings(key, value) VALUES(?, ?)"
                         " ON CONFLICT(key) DO NOTHING", (key, make()))
            return str(conn.execute("SELECT value FROM settings WHERE key = ?",
                                    (key,)).fetchone()[0])
        return await self.transaction(work)
