"""`iocwall store copy --to postgresql://...`: move a single-box site onto PostgreSQL.

The site is the SQLite store of ``--data-dir`` (or config.toml's data_dir and
``[storage] path``). The target must be an empty database (made with ``createdb``);
its password comes from IOCWALL_STORE_PASSWORD or libpq's PGPASSWORD / ~/.pgpass.
Prints one line per table as it is copied and verified; nothing is written unless every
table verified (one transaction). Then set ``[storage] url`` to the same URL.
"""
from __future__ import annotations

import argparse
import asyncio
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    copy = sub.add_parser("copy", help="copy this site's SQLite store into an empty "
                                       "PostgreSQL database")
    copy.add_argument("--to", required=True, metavar="URL",
                      help="postgresql://user@host:5432/database (empty)")
    copy.add_argument("--config", metavar="PATH", help="config.toml (default ./config.toml)")
    copy.add_argument("--data-dir", metavar="DIR", help="data folder (overrides the config)")


async def _copy(sqlite_path: object, url: str) -> int:
    from pathlib import Path

    from iocwall.wall.store import open_store_for
    from iocwall.wall.store.copy import TableCopy, copy_site
    from iocwall.wall.store.pg_store import PgStore

    target = open_store_for(url)
    assert isinstance(target, PgStore)

    def show(done: TableCopy) -> None:
        print(f"  {done.table:<20} {done.rows:>8} rows  verified (sha256 {done.checksum[:12]})",
              flush=True)
    await target.open()
    try:
        print(f"copying {sqlite_path} -> {target.where}", flush=True)
        tables = await copy_site(Path(str(sqlite_path)), target, show)
    finally:
        await target.close()
    rows = sum(t.rows for t in tables)
    print(f"done: {len(tables)} tables, {rows} rows, committed. Now set [storage] url = "
          f"\"{target.where}\" (the password outside the file) and keep this data dir's key "
          "files (registry key, session.key) with every server.")
    return 0


def run(args: argparse.Namespace) -> int:
    from iocwall.wall.config import ConfigError, load_config
    from iocwall.wall.store import MigrationError, StoreUnavailable
    from iocwall.wall.store.copy import CopyError

    if not args.to.lower().startswith(("postgresql://", "postgres://")):
        print("iocwall store: --to must be a PostgreSQL URL, e.g. "
              "postgresql://iocwall@db.example:5432/iocwall", file=sys.stderr)
        return 2
    try:
        config = load_config(args.config, data_dir=args.data_dir)
    except ConfigError as exc:
        print(f"iocwall store: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_copy(config.data_path / config.storage.path, args.to))
    except (CopyError, MigrationError, StoreUnavailable) as exc:
        print(f"iocwall store: copy failed: {exc}", file=sys.stderr)
        return 1
