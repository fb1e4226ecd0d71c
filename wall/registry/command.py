"""`iocwall registry rotate-key`: re-encrypt every stored camera credential under a new key.

With the key file (default): a new key is written next to it as ``<key>.new`` (0600), every
secret is re-encrypted in one transaction, then the new file replaces the old one. A running
server picks the new key up by itself (it re-reads the key file when the old key no longer
opens a secret). With ``IOCWALL_REGISTRY_KEY``: pass the new key in
``IOCWALL_REGISTRY_NEW_KEY``, then give the server the new value.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    rotate = sub.add_parser("rotate-key", help="re-encrypt camera credentials under a new key")
    rotate.add_argument("--config", metavar="PATH", help="config.toml (default ./config.toml)")
    rotate.add_argument("--data-dir", metavar="DIR", help="data folder (overrides the config)")


async def rotate(config: object) -> tuple[int, str]:
    from cryptography.fernet import Fernet

    from iocwall.wall.audit import AuditLog
    from iocwall.wall.registry.crypto import ENV_NEW_KEY, SecretBox, write_key_file
    from iocwall.wall.registry.store import Registry
    from iocwall.wall.store import store_for

    data = config.data_path  # type: ignore[attr-defined]
    key_file = data / config.registry.key_file  # type: ignore[attr-defined]
    box = SecretBox(key_file)
    store = store_for(config.storage, data)  # type: ignore[attr-defined]
    await store.open()
    try:
        registry = Registry(store, box)
        if box.from_env:
            new_key = os.environ.get(ENV_NEW_KEY, "").encode()
            if not new_key:
                raise SystemExit(f"the key comes from IOCWALL_REGISTRY_KEY: put the new key in "
                                 f"{ENV_NEW_KEY} (make one with: python -c 'from cryptography."
                                 "fernet import Fernet; print(Fernet.generate_key().decode())')")
            count = await registry.rotate_key(new_key)
            where = "now set IOCWALL_REGISTRY_KEY to the value of " + ENV_NEW_KEY
        else:
            new_key = Fernet.generate_key()
            pending = key_file.with_name(key_file.name + ".new")
            write_key_file(pending, new_key)
            count = await registry.rotate_key(new_key)
            os.replace(pending, key_file)
            where = f"new key in {key_file} (mode 0600)"
        await AuditLog(store).record("cli", "registry.rotate_key", "registry", None,
                                     {"secrets": count})
        return count, where
    finally:
        await store.close()


def run(args: argparse.Namespace) -> int:
    from iocwall.wall.config import ConfigError, load_config
    from iocwall.wall.registry.crypto import RegistryKeyError

    try:
        config = load_config(args.config, data_dir=args.data_dir)
    except ConfigError as exc:
        print(f"iocwall registry: {exc}", file=sys.stderr)
        return 2
    try:
        count, where = asyncio.run(rotate(config))
    except (RegistryKeyError, SystemExit) as exc:
        print(f"iocwall registry: {exc}", file=sys.stderr)
        return 1
    print(f"re-encrypted {count} camera credentials; {where}")
    return 0
