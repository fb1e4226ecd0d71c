"""Persistent state: SQLite (WAL) with versioned migrations, behind an async API."""
from iocwall.wall.store.migrations import MigrationError, current_version, migrate
from iocwall.wall.store.store import Store, connect

__all__ = ["MigrationError", "Store", "connect", "current_version", "migrate"]
