"""Media node heartbeats over the bus (Redis), both ends.

A node publishes a ``NodeAnnouncement`` (its heartbeat, where to reach it, its ICE
addresses, what it serves) every ``HEARTBEAT_S`` on ``<prefix>:media.node`` and keeps it
under ``<prefix>:media.node:<id>``, which expires after ``node_timeout_s``. A controller
(``Listener``) reads the keys at start (the nodes already up) and then the channel, and
hands each announcement to a callback that feeds ``NodeTable.beat``. The JSON is
``netwire``'s typed format: nothing from the bus is unpickled.

Redis itself down is not every node down: the listener reports it (``bus_ok`` false), and
the controller then freezes its node table instead of expiring nodes.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import redis.asyncio as aioredis

from iocwall.streams import netwire
from iocwall.streams.netwire import NodeAnnouncement

log = logging.getLogger(__name__)
RETRY_S = 0.5


def channel(prefix: str) -> str:
    return f"{prefix}:media.node"


def key(prefix: str, node: str) -> str:
    return f"{prefix}:media.node:{node}"


class Publisher:
    """The node's side: ``publish`` one announcement (errors logged once per outage)."""

    def __init__(self, url: str, prefix: str, timeout_s: float) -> None:
        self._client = aioredis.Redis.from_url(url, socket_timeout=1.0,
                                               socket_connect_timeout=1.0)
        self._prefix, self._ttl_ms = prefix, max(1000, int(timeout_s * 1000))
        self.ok = True

    async def publish(self, announcement: NodeAnnouncement) -> None:
        text = netwire.encode_json(announcement)
        try:
            await self._client.set(key(self._prefix, announcement.heartbeat.node), text,
                                   px=self._ttl_ms)
            await self._client.publish(channel(self._prefix), text)
        except (aioredis.RedisError, OSError) as exc:
            if self.ok:
                log.warning("cannot publish the heartbeat on Redis: %s", exc)
            self.ok = False
            return
        if not self.ok:
            log.info("heartbeats reach Redis again")
        self.ok = True

    async def highest_epoch(self) -> int:
        """The highest leader epoch any node still on Redis announces (0 when none, or when
        Redis does not answer). A node starting (or restarting: its memory is gone) begins
        its fence there, so a stale leader cannot slip an order in before the current
        leader's first one arrives."""
        highest = 0
        try:
            async for name in self._client.scan_iter(match=key(self._prefix, "*"), count=100):
                raw = await self._client.get(name)
                with contextlib.suppress(netwire.WireError):
                    message = netwire.decode_json(raw) if raw is not None else None
                    if isinstance(message, NodeAnnouncement):
                        highest = max(highest, message.epoch)
        except (aioredis.RedisError, OSError) as exc:
            log.warning("cannot read the nodes' epochs on Redis: %s", exc)
        return highest

    async def close(self) -> None:
        await self._client.aclose()


class Listener:
    """The controller's side: every announcement goes to ``on_announce``; ``bus_ok`` says
    whether Redis answers (false from the first error until it answers again)."""

    def __init__(self, url: str, prefix: str,
                 on_announce: Callable[[NodeAnnouncement], None]) -> None:
        self._url, self._prefix, self._on = url, prefix, on_announce
        self.bus_ok = False
        self.on_bus_back: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Reads the nodes already up, then follows the channel (reconnecting for ever)."""
        client = aioredis.Redis.from_url(self._url, socket_connect_timeout=1.0)
        try:
            await self._read_keys(client)
            self.bus_ok = True
        except (aioredis.RedisError, OSError) as exc:
            log.warning("media nodes: Redis unreachable at start: %s", exc)
        finally:
            await client.aclose()
        self._task = asyncio.create_task(self._follow(), name="media-node-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def _take(self, raw: bytes | str) -> None:
        try:
            message = netwire.decode_json(raw)
        except netwire.WireError as exc:
            log.warning("media nodes: bad announcement on the bus: %s", exc.message)
            return
        if isinstance(message, NodeAnnouncement):
            self._on(message)

    async def _read_keys(self, client: aioredis.Redis) -> None:
        async for name in client.scan_iter(match=key(self._prefix, "*"), count=100):
            raw = await client.get(name)
            if raw is not None:
                self._take(raw)

    async def _follow(self) -> None:
        while True:
            client = aioredis.Redis.from_url(self._url, socket_connect_timeout=1.0,
                                             health_check_interval=1)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel(self._prefix))
                await self._read_keys(client)        # what was said while we were away
                if not self.bus_ok:
                    log.info("media nodes: Redis answers again")
                    self.bus_ok = True
                    if self.on_bus_back is not None:
                        self.on_bus_back()
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None and message.get("type") == "message":
                        self._take(message["data"])
                    elif message is None:
                        await client.ping()          # a dead server shows here
            except (aioredis.RedisError, OSError) as exc:
                if self.bus_ok:
                    log.warning("media nodes: Redis unreachable (%s): node table frozen", exc)
                self.bus_ok = False
                await asyncio.sleep(RETRY_S)
            finally:
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except Exception:        # closing a dead connection may fail: nothing to do
                    log.debug("closing the Redis subscriber failed", exc_info=True)
