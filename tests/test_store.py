"""Store: pragmas, async API, settings, and schema migrations including an upgrade from v1.
The engine-neutral tests run on SQLite and on PostgreSQL (``any_store``)."""
from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from iocwall.wall.store import MigrationError, Store, connect, current_version, migrate
from iocwall.wall.store.migrations import available
from iocwall.wall.store.pg_store import PgStore


@pytest.fixture(params=["sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A factory of stores on one database: SQLite in tmp_path, or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        return lambda: Store(tmp_path / "x.sqlite3")
    url = request.getfixturevalue("postgres_db")
    return lambda: PgStore(url)


async def test_open_applies_all_migrations_and_pragmas(tmp_path: Path) -> None:
    store = Store(tmp_path / "db" / "x.sqlite3")
    await store.open()
    try:
        assert store.version == len(available()) >= 2
        assert (await store.fetchone("PRAGMA journal_mode"))["journal_mode"] == "wal"
        assert (await store.fetchone("PRAGMA foreign_keys"))["foreign_keys"] == 1
        assert (await store.fetchone("PRAGMA synchronous"))["synchronous"] == 2  # FULL
        tables = {r["name"] for r in await store.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"users", "tokens", "sessions", "audit", "settings", "schema_version"} <= tables
        assert await store.ping() is True
        assert await store.integrity_ok()
    finally:
        await store.close()
    assert await store.ping() is False


async def test_reopen_is_idempotent(make_store) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):
        store = make_store()
        await store.open()
        rows = await store.fetchall("SELECT version FROM schema_version ORDER BY version")
        assert [r["version"] for r in rows] == list(range(1, store.version + 1))
        await store.close()


async def test_settings_and_transactions(make_store) -> None:  # type: ignore[no-untyped-def]
    store = make_store()
    await store.open()
    try:
        assert await store.get_setting("k") is None
        await store.set_setting("k", "1")
        await store.set_setting("k", "2")
        assert await store.get_setting("k") == "2"
        first = await store.setting_or_create("secret", lambda: "a")
        second = await store.setting_or_create("secret", lambda: "b")
        assert first == second == "a"

        def boom(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO settings(key, value) VALUES('gone', 'x')")
            raise ValueError("abort")
        with pytest.raises(ValueError):
            await store.transaction(boom)
        assert await store.get_setting("gone") is None  # rolled back
    finally:
        await store.close()


async def test_foreign_keys_enforced(make_store) -> None:  # type: ignore[no-untyped-def]
    store = make_store()
    await store.open()
    try:
        with pytest.raises(sqlite3.IntegrityError):
            await store.execute(
                "INSERT INTO sessions(id_hash, user_id, created_at, expires) "
                "VALUES('s', 999, 't', 0)")
    finally:
        await store.close()


async def test_concurrent_calls_are_serialised(make_store) -> None:  # type: ignore[no-untyped-def]
    store = make_store()
    await store.open()
    try:
        await asyncio.gather(*(store.set_setting(f"k{i}", str(i)) for i in range(50)))
        rows = await store.fetchall("SELECT COUNT(*) AS n FROM settings")
        assert rows[0]["n"] == 50
    finally:
        await store.close()


def _make_v1(path: Path) -> None:
    conn = connect(path)
    assert migrate(conn, target=1) == 1
    conn.execute("INSERT INTO users(username, password_hash, role, unit, display_name,"
                 " created_at, updated_at) VALUES('lan', 'h', 'registrar', 'HN', 'Lan',"
                 " '2026-01-01T00:00:00.000+07:00', '2026-01-01T00:00:00.000+07:00')")
    conn.execute("INSERT INTO audit(time, epoch, actor, action, target) VALUES"
                 " ('2026-01-01T00:00:00.000+07:00', 1767200400, 'admin', 'user.create',"
                 " 'user:lan')")
    conn.execute("INSERT INTO settings(key, value) VALUES('session_secret', 'keep-me')")
    conn.execute("INSERT INTO settings(key, value) VALUES('other', 'keep-me')")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "tokens" not in tables
    conn.close()


async def test_upgrade_from_v1_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _make_v1(path)
    store = Store(path)
    await store.open()   # migrates 1 -> latest
    try:
        assert store.version == len(available())
        user = await store.fetchone("SELECT * FROM users WHERE username = 'lan'")
        assert user is not None and user["role"] == "registrar" and user["unit"] == "HN"
        audit = await store.fetchall("SELECT actor, action, target FROM audit")
        assert audit == [{"actor": "admin", "action": "user.create", "target": "user:lan"}]
        # the secret was kept in a file others could read: 0003 drops it (session.key now)
        assert await store.get_setting("session_secret") is None
        assert await store.get_setting("other") == "keep-me"
        # the v2 tables work with the old rows
        await store.execute("INSERT INTO sessions(id_hash, user_id, created_at, expires)"
                            " VALUES('s1', ?, 't', 0)", (user["id"],))
        await store.execute("INSERT INTO tokens(label, token_hash, role, created_at)"
                            " VALUES('wall-1', 'abc', 'display', 't')")
        assert await store.integrity_ok()
    finally:
        await store.close()


def test_newer_database_is_refused(tmp_path: Path) -> None:
    conn = connect(tmp_path / "x.sqlite3")
    migrate(conn)
    conn.execute("INSERT INTO schema_version VALUES(99, 'future', 't')")
    with pytest.raises(MigrationError, match="newer"):
        migrate(conn)
    conn.close()


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    migrations = tmp_path / "m"
    migrations.mkdir()
    (migrations / "0001_ok.sql").write_text("CREATE TABLE a(x INTEGER);")
    (migrations / "0002_bad.sql").write_text("CREATE TABLE b(x INTEGER);\nNOT SQL;")
    conn = connect(tmp_path / "x.sqlite3")
    with pytest.raises(MigrationError, match="0002_bad.sql"):
        migrate(conn, directory=migrations)
    assert current_version(conn) == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "a" in tables and "b" not in tables
    conn.close()


def test_gap_in_migration_numbers_is_refused(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("SELECT 1;")
    (tmp_path / "0003_c.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="gaps"):
        available(tmp_path)


async def test_transaction_without_fsync_commits_and_restores_full(tmp_path: Path) -> None:
    """durable=False (a wall push): committed and visible to another connection at once;
    the connection is back to synchronous=FULL after it, also when the work fails."""
    store = Store(tmp_path / "x.sqlite3")
    await store.open()
    try:
        await store.set_setting("k", "old")
        await store.transaction(lambda conn: conn.execute(
            "UPDATE settings SET value = 'new' WHERE key = 'k'"), durable=False)
        other = connect(tmp_path / "x.sqlite3")
        try:
            assert other.execute("SELECT value FROM settings WHERE key = 'k'").fetchone()[0] \
                == "new"
        finally:
            other.close()
        assert (await store.fetchone("PRAGMA synchronous"))["synchronous"] == 2   # FULL

        def fail(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE settings SET value = 'lost' WHERE key = 'k'")
            raise ValueError("boom")
        with pytest.raises(ValueError):
            await store.transaction(fail, durable=False)
        assert await store.get_setting("k") == "new"
        assert (await store.fetchone("PRAGMA synchronous"))["synchronous"] == 2
    finally:
        await store.close()
