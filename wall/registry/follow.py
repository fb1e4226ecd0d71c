"""Camera edits across controllers: announced on the bus, followed at once elsewhere.

    follow = RegistryFollow(bus, registry)    # after the bus opened
    await follow.start(); ...; await follow.stop()

An edit on one controller is committed to the shared store and told to that
controller's own listeners (its media server, its camera -> province map); this
announces it as ``camera.<id>`` (the public view, never the credentials) and makes
every other controller that hears it read the camera back from the store and tell
its listeners too, so a media server or an indicator map elsewhere never keeps the
old camera. The store, not the event, is the truth: an event only says "look again".
A controller ignores its own announcements (it has already acted on them).
"""
from __future__ import annotations

import asyncio
import logging

from iocwall.wall.bus import Bus, Event, EventKind, Subscription
from iocwall.wall.registry.store import Change, ChangeKind, Registry

log = logging.getLogger(__name__)
TOPIC = "camera.{camera}"
_KINDS = {ChangeKind.ADDED: EventKind.CREATED, ChangeKind.UPDATED: EventKind.UPDATED,
          ChangeKind.REMOVED: EventKind.DELETED}


class RegistryFollow:
    def __init__(self, bus: Bus, registry: Registry) -> None:
        self.bus, self.registry = bus, registry
        self.followed = 0
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._sub = await self.bus.subscribe(TOPIC.format(camera="*"), maxsize=1024)
        self._task = asyncio.create_task(self._follow(self._sub), name="registry follow")
        self.registry.announce = self.announce

    async def announce(self, change: Change) -> None:
        topic = TOPIC.format(camera=change.camera_id)
        payload = change.camera.public() if change.camera else {"id": change.camera_id}
        await self.bus.publish(topic, Event(topic, _KINDS[change.kind], payload))

    async def _follow(self, sub: Subscription) -> None:
        while (event := await sub.get()) is not None:
            if event.origin == self.bus.node_id or event.kind not in _KINDS.values():
                continue
            camera_id = event.topic.removeprefix("camera.")
            try:
                camera = await self.registry.get(camera_id)
            except Exception:  # noqa: BLE001  (store down: the next edit or a restart heals)
                log.warning("registry: could not read camera %s announced by %s",
                            camera_id, event.origin, exc_info=True)
                continue
            if camera is None:
                kind = ChangeKind.REMOVED
            else:
                kind = ChangeKind.ADDED if event.kind is EventKind.CREATED else ChangeKind.UPDATED
            self.followed += 1
            await self.registry.changed_elsewhere(Change(kind, camera_id, camera))

    async def stop(self) -> None:
        self.registry.announce = None
        if self._task is not None:
            self._task.cancel()
            # not `await task` in suppress(CancelledError): that swallows our own cancel
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._sub is not None:
            await self._sub.close()
            self._sub = None
