"""Analytics in the server process: taps the cameras that have queue zones,
serves their frames to workers over ZeroMQ, and puts the counts on the board.

    analytics = AnalyticsService(config.analytics, media, board)
    await analytics.start(zones)       # {camera: [ZoneSpec]}, from the zone store
    await analytics.set_zones("cam1", [...])   # at run time; [] stops tapping cam1
    ...; await analytics.stop()

Zones live in the database (wall/zones/store.py: seeded from ``[[analytics.zones]]``,
edited through ``/api/cameras/{camera}/zones``); the store calls ``set_zones`` on
every change. A camera's tap runs where its frames are (``MediaService.tap``: in
this process, or in the media process that owns the camera), and its frames come
back to the router here; changed zones restart the tap with them (they travel with
each frame). The ZeroMQ port is bound only once some camera has zones.
A zoned camera is tapped once the registry has given it to the media server,
and again if it comes back after being removed; a tap that fails is restarted
after a short pause, so one camera's trouble never stops the others.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging

from iocwall.analytics.messages import Result, ZoneSpec
from iocwall.streams.contract import MediaService
from iocwall.streams.limits import WhepError
from iocwall.streams.taps.remote import TapFailed
from iocwall.streams.taps.router import TapRouter
from iocwall.streams.taps.tap import TapOptions
from iocwall.wall.config import AnalyticsConfig
from iocwall.wall.zones.queues import QueueBoard

log = logging.getLogger(__name__)
RESTART_S = 2.0


class AnalyticsService:
    def __init__(self, config: AnalyticsConfig, media: MediaService, board: QueueBoard) -> None:
        """config: the ``[analytics]`` section; media: the media service; board: where
        counts go."""
        self.config = config
        self.media = media
        self.board = board
        self.router = TapRouter(config.tap_address, self._result,
                                worker_timeout_s=config.worker_timeout_s)
        self._router_started = False
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._zones: dict[str, list[ZoneSpec]] = {}
        self._started = False

    def zones_by_camera(self) -> dict[str, list[ZoneSpec]]:
        return dict(self._zones)

    async def start(self, zones: dict[str, list[ZoneSpec]] | None = None) -> None:
        """Tap the cameras of ``zones`` (None: those of ``config.zones``)."""
        if not self.config.enabled:
            return
        self._started = True
        if zones is None:
            zones = {}
            for zone in self.config.zones:
                zones.setdefault(zone.camera, []).append(ZoneSpec(zone.id, zone.polygon))
        for camera, specs in zones.items():
            await self.set_zones(camera, specs)

    async def set_zones(self, camera: str, zones: list[ZoneSpec]) -> None:
        """New zones for a camera: tap it if it was not, stop when ``zones`` is empty."""
        if not self._started:
            return
        if not zones:
            await self._untap(camera)
            return
        changed = self._zones.get(camera) != list(zones)
        self._zones[camera] = list(zones)
        self.board.forget(camera, {z.id for z in zones})
        self.board.expect(camera, {z.id for z in zones})
        if camera in self._tasks and changed:
            await self._cancel(camera)            # the tap has its own copy of the zones
        if camera not in self._tasks:
            await self._ensure_router()
            self._tasks[camera] = asyncio.create_task(self._keep(camera), name=f"tap {camera}")

    async def _cancel(self, camera: str) -> None:
        task = self._tasks.pop(camera, None)
        if task is not None:
            task.cancel()
            # not `await task` in suppress(CancelledError): that swallows our own cancel
            await asyncio.gather(task, return_exceptions=True)

    def _result(self, result: Result) -> None:
        """Counts to the board, only for the camera's zones now: frames sent before a
        change still carry the old zones, whose counts must not come back."""
        wanted = {z.id for z in self._zones.get(result.camera, [])}
        zones = [c for c in result.zones if c.zone in wanted]
        if zones:
            self.board.update(dataclasses.replace(result, zones=zones))

    async def _untap(self, camera: str) -> None:
        self._zones.pop(camera, None)
        await self._cancel(camera)
        self.router.forget(camera)
        self.board.forget(camera)
        log.info("analytics: %s has no zones any more; not tapped", camera)

    async def _ensure_router(self) -> None:
        if not self._router_started:
            await self.router.start()
            self._router_started = True

    async def _keep(self, camera: str) -> None:
        options = TapOptions(self.config.fps, self.config.keyframes_only, self.config.jpeg_quality)
        waiting_logged = False
        while True:
            status = await self.media.camera(camera)
            if status is None:              # not registered (yet), or removed
                if not waiting_logged:
                    log.info("analytics: waiting for camera %s to be registered", camera)
                    waiting_logged = True
                await asyncio.sleep(RESTART_S)
                continue
            waiting_logged = False
            stream = "sub" if "sub" in status.streams else "main"
            try:
                await self._tap(camera, stream, options)
            except asyncio.CancelledError:
                raise
            except (WhepError, TapFailed) as exc:      # refused, or its media process left
                log.warning("analytics tap of %s stopped: %s; restarting", camera, exc)
            except Exception:
                log.exception("analytics tap of %s failed; restarting", camera)
            finally:
                self.router.forget(camera)
            await asyncio.sleep(RESTART_S)

    async def _tap(self, camera: str, stream: str, options: TapOptions) -> None:
        """Until the tap ends, wherever the media service runs it."""
        zones = self._zones.get(camera, [])
        await self.media.tap(camera, stream, zones, options, self.router.offer)

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks, self._zones = {}, {}
        self._started = False
        if self._router_started:
            await self.router.stop()
            self._router_started = False

    def metrics_text(self) -> str:
        return self.router.metrics_text() if self.config.enabled else ""
