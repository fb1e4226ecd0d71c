"""The bus contract shared by every backend, and the bounded subscription queue."""
from __future__ import annotations

import asyncio
import collections
import fnmatch
from collections.abc import AsyncIterator
from typing import Protocol, runtime_checkable

from iocwall.wall.bus.events import Event

DEFAULT_QUEUE = 256


class BusDown(ConnectionError):
    """``publish`` could not reach the bus (Redis away): the event was not sent."""


@runtime_checkable
class Bus(Protocol):
    """Publish/subscribe of Events by topic.

    Topic patterns are globs (``*`` any run of characters, ``?`` one character),
    the same on every backend (Redis PSUBSCRIBE uses glob patterns too).
    """
    node_id: str

    async def publish(self, topic: str, event: Event) -> None:
        """Send ``event`` on ``topic`` (the event's own topic is replaced by ``topic``)."""

    async def subscribe(self, pattern: str, *, maxsize: int = DEFAULT_QUEUE) -> Subscription:
        """Start receiving events whose topic matches ``pattern``.

        Awaited so that the subscription is live on return: an event published
        after ``subscribe`` returns is delivered (on Redis the PSUBSCRIBE has
        been acknowledged).
        """

    async def ping(self) -> bool:
        """True when the bus can carry events now."""

    async def close(self) -> None:
        """Stop: every subscription's iterator ends; idempotent."""


class Subscription:
    """An async iterator of Events with a bounded queue that drops the OLDEST when full.

    A slow consumer never grows memory and never blocks a publisher; what it
    missed is counted in ``dropped``.
    """

    def __init__(self, pattern: str, maxsize: int = DEFAULT_QUEUE) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.pattern = pattern
        self.maxsize = maxsize
        self.dropped = 0
        self.delivered = 0
        self._items: collections.deque[Event] = collections.deque()
        self._wakeup = asyncio.Event()
        self._closed = False
        self._on_close: list[object] = []

    def matches(self, topic: str) -> bool:
        return fnmatch.fnmatchcase(topic, self.pattern)

    @property
    def closed(self) -> bool:
        return self._closed

    def offer(self, event: Event) -> None:
        """Queue an event without ever blocking (called by the backend)."""
        if self._closed:
            return
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.dropped += 1
        self._items.append(event)
        self._wakeup.set()

    def end(self) -> None:
        """Mark finished: the iterator stops after the queued events."""
        self._closed = True
        self._wakeup.set()

    async def close(self) -> None:
        """Unsubscribe; the backend registered what to do in ``on_close``."""
        if self._closed:
            return
        self.end()
        for callback in self._on_close:
            result = callback()  # type: ignore[operator]
            if asyncio.iscoroutine(result):
                await result

    def on_close(self, callback: object) -> None:
        self._on_close.append(callback)

    async def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when closed (or on timeout)."""
        while not self._items:
            if self._closed:
                return None
            self._wakeup.clear()
            try:
                # not wait_for: on Python 3.11 it can swallow a cancellation that lands as
                # the wait completes, and a consumer's loop would never end
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()
            except TimeoutError:
                return None
        self.delivered += 1
        return self._items.popleft()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        event = await self.get()
        if event is None:
            raise StopAsyncIteration
        return event

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
