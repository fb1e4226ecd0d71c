"""Event bus: in-process by default, Redis pub/sub across server processes.

    bus = await open_bus(config.bus)          # MemoryBus or RedisBus, started
    async with await bus.subscribe("user.*") as sub:
        async for event in sub: ...
    await bus.publish("user.created", Event("user.created", EventKind.CREATED, {"id": 3}))
"""
from __future__ import annotations

from iocwall.wall.bus.base import DEFAULT_QUEUE, Bus, BusDown, Subscription
from iocwall.wall.bus.events import Event, EventError, EventKind
from iocwall.wall.bus.memory import MemoryBus
from iocwall.wall.config import BusConfig

__all__ = ["DEFAULT_QUEUE", "Bus", "BusDown", "Event", "EventError", "EventKind", "MemoryBus",
           "Subscription", "open_bus"]


async def open_bus(config: BusConfig, node_id: str | None = None) -> Bus:
    """The backend named by ``[bus] backend``, ready to use (Redis: connected)."""
    if config.backend == "redis":
        from iocwall.wall.bus.redis_bus import RedisBus  # only needed when configured
        bus = RedisBus(config.redis_url, config.prefix, node_id)
        try:
            await bus.start()
        except BaseException:
            await bus.close()
            raise
        return bus
    return MemoryBus(node_id)
