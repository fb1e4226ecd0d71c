"""Redis pub/sub bus: several server processes (or machines) see each other's events.

One PubSub connection per bus, read by one task that hands each message to the
local subscriptions of its pattern. Pub/sub is fire-and-forget: while Redis is
unreachable events are lost (``ping()`` says so); state that must survive lives
in the store, events only say "look again".
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from iocwall.wall.bus.base import DEFAULT_QUEUE, BusDown, Subscription
from iocwall.wall.bus.events import Event, EventError
from iocwall.wall.bus.memory import _stamp

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 5.0
CONNECT_TIMEOUT_S = 2.0
COMMAND_TIMEOUT_S = 5.0
RETRY_MAX_S = 1.0         # back within a second of Redis: a local connect costs nothing


class RedisBus:
    def __init__(self, url: str, prefix: str = "iocwall", node_id: str | None = None) -> None:
        self.node_id = node_id or uuid.uuid4().hex[:12]
        self.prefix = prefix
        self.bad_messages = 0
        self._url = url
        # timeouts: a Redis that stops answering (a cut link, not a refused connection)
        # must cost seconds, never hang a publish; the PubSub reader passes its own
        self._client = aioredis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT_S,
                                               socket_timeout=COMMAND_TIMEOUT_S)
        self._pubsub = self._client.pubsub()
        self._subs: dict[str, list[Subscription]] = {}     # full pattern -> local subscribers
        self._acks: dict[str, asyncio.Future[None]] = {}
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        # False from a failed read of the PubSub connection until a read succeeds again:
        # redis-py reconnects it on that read and re-subscribes every pattern first
        # (PubSub.on_connect), so True means our subscriptions are live again.
        self._listening = True
        self._reconnected: list[Callable[[], Awaitable[None]]] = []
        self._hooks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Connect and start the reader; raises RedisError if Redis is unreachable."""
        async with asyncio.timeout(ACK_TIMEOUT_S):
            await self._client.ping()
        # The PubSub connection exists only after a first subscribe: use a private channel.
        await self._pubsub.subscribe(f"{self.prefix}:__node__:{self.node_id}")
        self._reader = asyncio.create_task(self._read_loop(), name="redis-bus-reader")

    def _channel(self, topic: str) -> str:
        return f"{self.prefix}:{topic}"

    async def publish(self, topic: str, event: Event) -> None:
        if self._closed:
            raise RuntimeError("bus is closed")
        message = _stamp(topic, event, self.node_id).to_json()
        try:
            await self._client.publish(self._channel(topic), message)
        except (RedisError, OSError) as exc:
            raise BusDown(f"redis publish failed: {exc}") from exc

    async def subscribe(self, pattern: str, *, maxsize: int = DEFAULT_QUEUE) -> Subscription:
        if self._closed or self._reader is None:
            raise RuntimeError("bus is not running")
        full = self._channel(pattern)
        sub = Subscription(pattern, maxsize)
        if full in self._subs:
            self._subs[full].append(sub)
        else:
            self._subs[full] = [sub]
            ack = asyncio.get_running_loop().create_future()
            self._acks[full] = ack
            try:
                await self._pubsub.psubscribe(full)
                async with asyncio.timeout(ACK_TIMEOUT_S):
                    await asyncio.shield(ack)
            except BaseException:
                self._subs.pop(full, None)
                raise
            finally:
                self._acks.pop(full, None)
        sub.on_close(lambda: self._unsubscribe(full, sub))
        return sub

    async def _unsubscribe(self, full: str, sub: Subscription) -> None:
        subs = self._subs.get(full, [])
        if sub in subs:
            subs.remove(sub)
        if not subs and full in self._subs:
            del self._subs[full]
            if not self._closed:
                with contextlib.suppress(RedisError, OSError):
                    await self._pubsub.punsubscribe(full)

    async def _read_loop(self) -> None:
        delay = 0.1
        while not self._closed:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
                if not self._listening:
                    log.info("redis bus: connected again; subscriptions renewed")
                    self._listening = True
                    self._after_reconnect()
                delay = 0.1
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self._listening = False
                log.warning("redis bus: connection problem (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            if message is not None:
                self._dispatch(message)

    def on_reconnect(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Call ``callback`` each time the bus is back after an outage (subscriptions live
        again): what was published meanwhile never reached us, so look again."""
        self._reconnected.append(callback)

    def _after_reconnect(self) -> None:
        for callback in self._reconnected:
            task = asyncio.create_task(_logged_hook(callback), name="redis-bus-reconnected")
            self._hooks.add(task)                 # kept until done (never garbage-collected)
            task.add_done_callback(self._hooks.discard)

    def _dispatch(self, message: dict) -> None:
        kind = message.get("type")
        if kind == "psubscribe":
            ack = self._acks.get(_text(message["channel"]))
            if ack is not None and not ack.done():
                ack.set_result(None)
            return
        if kind != "pmessage":
            return
        try:
            event = Event.from_json(message["data"])
        except EventError:
            self.bad_messages += 1
            log.debug("redis bus: ignored a message that is not an event")
            return
        for sub in list(self._subs.get(_text(message["pattern"]), [])):
            sub.offer(event)

    async def ping(self) -> bool:
        if self._closed or self._reader is None or self._reader.done() or not self._listening:
            return False
        try:
            async with asyncio.timeout(2.0):
                answer = await self._client.ping()
            return bool(answer)
        except (RedisError, OSError, TimeoutError):
            return False

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for task in list(self._hooks):
            task.cancel()
        if self._reader is not None:
            self._reader.cancel()
            # not `await task` in suppress(CancelledError): that swallows our own cancel
            await asyncio.gather(self._reader, return_exceptions=True)
        for subs in self._subs.values():
            for sub in subs:
                sub.end()
        self._subs.clear()
        with contextlib.suppress(RedisError, OSError):
            await self._pubsub.aclose()
        with contextlib.suppress(RedisError, OSError):
            await self._client.aclose()


async def _logged_hook(callback: Callable[[], Awaitable[None]]) -> None:
    try:
        await callback()
    except Exception:
        log.exception("redis bus: a reconnect hook failed")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
