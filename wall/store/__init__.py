"""Persistent state behind one async API: SQLite (WAL, the embedded default) or PostgreSQL
(shared by several servers), with the same versioned migrations."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from iocwall.wall.store.errors import StoreUnavailable
from iocwall.wall.store.migrations import MigrationError, current_version, migrate
from iocwall.wall.store.store import Store, connect

if TYPE_CHECKING:
    from iocwall.wall.config import StorageConfig

PASSWORD_ENV = "IOCWALL_STORE_PASSWORD"

__all__ = ["MigrationError", "Store", "StoreUnavailable", "connect", "current_version",
           "migrate", "open_store_for", "store_for"]


def store_for(storage: StorageConfig, data_path: Path,
              env: dict[str, str] | None = None) -> Store:
    """The store ``[storage]`` names: PostgreSQL at ``url``, else SQLite at data_dir/path."""
    if storage.url:
        from iocwall.wall.store.pg_store import PgStore
        env = dict(os.environ) if env is None else env
        return PgStore(storage.url, env.get(PASSWORD_ENV) or None)
    return Store(data_path / storage.path)


def open_store_for(url: str, env: dict[str, str] | None = None) -> Store:
    """A PostgreSQL store for a URL given on the command line."""
    from iocwall.wall.store.pg_store import PgStore
    env = dict(os.environ) if env is None else env
    return PgStore(url, env.get(PASSWORD_ENV) or None)
