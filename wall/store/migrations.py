"""Versioned schema: ``migrations/NNNN_name.sql`` applied in order, each in one transaction.

The applied versions are rows of ``schema_version``; a database made by an older
release is brought up to date at start without losing data. A file is never
edited once released: a change is a new file with the next number.
"""
from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iocwall.streams.clock import now_iso

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    """The database cannot be brought to the expected schema."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def available(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), path))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise MigrationError(f"migration numbers must run 1..N without gaps, found {versions}")
    return found


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, target: int | None = None,
            directory: Path = MIGRATIONS_DIR) -> int:
    """Apply pending migrations up to ``target`` (default: all). Returns the new version.

    ``conn`` must be in autocommit mode (isolation_level=None) so that each
    script's own BEGIN/COMMIT is the only transaction.
    """
    migrations = available(directory)
    latest = migrations[-1].version if migrations else 0
    target = latest if target is None else target
    version = current_version(conn)
    if version > latest:
        raise MigrationError(
            f"database schema is version {version}, newer than this iocwall knows ({latest});"
            " upgrade iocwall")
    for migration in migrations:
        if version < migration.version <= target:
            _apply(conn, migration)
            version = migration.version
    return version


def _apply(conn: sqlite3.Connection, migration: Migration) -> None:
    from iocwall.wall.store.dialect import for_engine
    sql = for_engine(migration.path.read_text(encoding="utf-8"), "sqlite")
    record = ("INSERT INTO schema_version(version, name, applied_at) VALUES "
              f"({migration.version}, '{migration.name}', '{now_iso()}');")
    # One transaction per file: a failure leaves the database at the previous version.
    try:
        conn.executescript(f"BEGIN IMMEDIATE;\n{sql}\n{record}\nCOMMIT;")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise MigrationError(f"migration {migration.path.name} failed: {exc}") from None
    log.info("applied schema migration %04d_%s", migration.version, migration.name)


# Any two servers migrating the same PostgreSQL database take turns on this lock, so a
# migration is never applied twice (the second one finds the version already there).
PG_MIGRATION_LOCK = 0x10C_3A11_0001


def migrate_pg(conn: Any, target: int | None = None, directory: Path = MIGRATIONS_DIR) -> int:
    """``migrate`` for PostgreSQL: ``conn`` is an autocommit psycopg connection. Same files
    (through dialect.pg_migration), same ``schema_version`` table, each file in one
    transaction, under an advisory lock held for the whole run."""
    from iocwall.wall.store.dialect import PG_PRELUDE, pg_migration

    migrations = available(directory)
    latest = migrations[-1].version if migrations else 0
    target = latest if target is None else target
    conn.execute("SELECT pg_advisory_lock(%s)", (PG_MIGRATION_LOCK,))
    try:
        with conn.transaction():
            conn.execute(PG_PRELUDE)
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT PRIMARY KEY,"
                         " name TEXT NOT NULL, applied_at TEXT NOT NULL)")
        row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        version = int(row[0] or 0)
        if version > latest:
            raise MigrationError(
                f"database schema is version {version}, newer than this iocwall knows "
                f"({latest}); upgrade iocwall")
        for migration in migrations:
            if version < migration.version <= target:
                _apply_pg(conn, migration, pg_migration)
                version = migration.version
        return version
    finally:
        if not conn.broken:
            conn.execute("SELECT pg_advisory_unlock(%s)", (PG_MIGRATION_LOCK,))


def _apply_pg(conn: Any, migration: Migration, translate: Any) -> None:
    import psycopg
    sql = translate(migration.path.read_text(encoding="utf-8"))
    try:
        with conn.transaction():
            conn.execute(sql)
            conn.execute("INSERT INTO schema_version(version, name, applied_at)"
                         " VALUES(%s, %s, %s)", (migration.version, migration.name, now_iso()))
    except psycopg.OperationalError:
        raise
    except psycopg.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MigrationError(f"migration {migration.path.name} failed: {first}") from None
    log.info("applied schema migration %04d_%s (PostgreSQL)", migration.version, migration.name)
