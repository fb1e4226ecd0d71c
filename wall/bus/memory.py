"""In-process bus: the default for one server process."""
from __future__ import annotations

import uuid

from iocwall.wall.bus.base import DEFAULT_QUEUE, Subscription
from iocwall.wall.bus.events import Event


class MemoryBus:
    """Fan-out inside one event loop. Events are JSON round-tripped, exactly as on
    Redis, so every subscriber gets its own copy and a payload that would not
    cross a process boundary fails here too."""

    def __init__(self, node_id: str | None = None) -> None:
        self.node_id = node_id or uuid.uuid4().hex[:12]
        self._subs: list[Subscription] = []
        self._closed = False

    async def publish(self, topic: str, event: Event) -> None:
        if self._closed:
            raise RuntimeError("bus is closed")
        wire = _stamp(topic, event, self.node_id).to_json()
        for sub in list(self._subs):
            if sub.matches(topic):
                sub.offer(Event.from_json(wire))

    async def subscribe(self, pattern: str, *, maxsize: int = DEFAULT_QUEUE) -> Subscription:
        if self._closed:
            raise RuntimeError("bus is closed")
        sub = Subscription(pattern, maxsize)
        self._subs.append(sub)
        sub.on_close(lambda: self._subs.remove(sub) if sub in self._subs else None)
        return sub

    async def ping(self) -> bool:
        return not self._closed

    async def close(self) -> None:
        self._closed = True
        subs, self._subs = self._subs, []
        for sub in subs:
            sub.end()


def _stamp(topic: str, event: Event, node_id: str) -> Event:
    """The event as sent: on ``topic``, with the publisher's node id if it had none."""
    return Event(topic=topic, kind=event.kind, payload=event.payload, time=event.time,
                 origin=event.origin or node_id)
