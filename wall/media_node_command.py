"""`iocwall media-node --config PATH`: a media node for controllers on other machines.

The node itself lives in streams/medianode.py; this module reads config.toml
([media_node], [cluster] secret_file, [bus] redis_url/prefix, [streams], [webrtc],
[replay], [logging]) into its ``NodeSettings`` and runs it until SIGINT/SIGTERM.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from iocwall.streams.medianode import NodeSettings
    from iocwall.wall.config import Config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH", required=True,
                        help="config.toml with [media_node], [cluster] and [bus]")


class NodeConfigError(Exception):
    """The config cannot run a media node; the message says which key."""


def node_settings(config: Config) -> NodeSettings:
    from iocwall.streams.medianode import NodeSettings
    from iocwall.streams.nodeauth import AuthFailed, load_secret
    node = config.media_node
    missing = [key for key, value in (("[media_node] id", node.id),
                                      ("[media_node] cert_file", node.cert_file),
                                      ("[media_node] key_file", node.key_file),
                                      ("[cluster] secret_file", config.cluster.secret_file))
               if not value]
    if missing:
        raise NodeConfigError(f"missing {', '.join(missing)}")
    if config.bus.backend != "redis":
        raise NodeConfigError("[bus] backend must be 'redis': nodes announce themselves there")
    try:
        secret = load_secret(config.cluster.secret_file)
    except AuthFailed as exc:
        raise NodeConfigError(str(exc)) from None
    host, _, port = node.listen.rpartition(":")
    advertise = node.advertise or f"{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
    media = config.stream_settings()
    if node.ice_addresses:
        media = dataclasses.replace(media, ice_addresses=tuple(node.ice_addresses))
    return NodeSettings(node.id, host, int(port), advertise, node.cert_file, node.key_file,
                        secret, config.bus.redis_url, config.bus.prefix, media, node.capacity)


def run(args: argparse.Namespace) -> int:
    import ssl

    from iocwall.streams.medianode import run_node
    from iocwall.wall.config import ConfigError, load_config
    from iocwall.wall.logs import setup

    try:
        config = load_config(args.config)
        settings = node_settings(config)
    except (ConfigError, NodeConfigError) as exc:
        for line in str(exc).splitlines():
            print(f"iocwall media-node: {line}", file=sys.stderr)
        return 2
    setup(config.logging.level, None, config.logging.json_lines,
          config.logging.max_bytes, config.logging.backup_count)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_node(settings, stop)

    try:
        asyncio.run(main())
    except (OSError, ssl.SSLError) as exc:
        print(f"iocwall media-node: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0
