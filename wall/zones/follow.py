"""Zone edits across server processes: announced on the bus, followed at once elsewhere.

    follow = ZoneFollow(bus, zones)         # after the bus opened
    await follow.start(); ...; await follow.stop()

A PUT of a camera's zones in one process stores them (the shared database) and tells its
own listeners (the tap, the board); this announces the new zones as ``zones.<camera>``
(UPDATED, payload ``{"camera", "zones"}``), and every other process that hears it tells
its listeners too, so a tap or a board in another process never keeps the old zones.
A process ignores its own announcements (it has already acted on them).
"""
from __future__ import annotations

import asyncio
import logging

from iocwall.analytics.messages import ZoneSpec
from iocwall.analytics.zones import ZoneError
from iocwall.wall.bus import Bus, Event, EventKind, Subscription
from iocwall.wall.zones.store import ZoneStore, validated, zones_json

log = logging.getLogger(__name__)
TOPIC = "zones.{camera}"


class ZoneFollow:
    def __init__(self, bus: Bus, zones: ZoneStore) -> None:
        self.bus, self.zones = bus, zones
        self.followed = 0
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sub = await self.bus.subscribe(TOPIC.format(camera="*"), maxsize=1024)
        self._task = asyncio.create_task(self._follow(self._sub), name="zones follow")
        self.zones.announce = self.announce

    async def announce(self, camera: str, zones: list[ZoneSpec]) -> None:
        topic = TOPIC.format(camera=camera)
        await self.bus.publish(topic, Event(topic, EventKind.UPDATED,
                                            {"camera": camera, "zones": zones_json(zones)}))

    async def _follow(self, sub: Subscription) -> None:
        while (event := await sub.get()) is not None:
            if event.origin == self.bus.node_id:
                continue
            try:
                camera = str(event.payload["camera"])
                specs = validated(ZoneSpec(str(z["id"]), z["polygon"])
                                  for z in event.payload["zones"])
            except (KeyError, TypeError, ZoneError) as exc:
                log.warning("zones: ignored an announcement from %s: %s", event.origin, exc)
                continue
            self.followed += 1
            await self.zones.changed_elsewhere(camera, specs)

    async def stop(self) -> None:
        self.zones.announce = None
        if self._task is not None:
            self._task.cancel()
            # not `await task` in suppress(CancelledError): that swallows our own cancel
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._sub is not None:
            await self._sub.close()
            self._sub = None
