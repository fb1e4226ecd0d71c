"""Analytics in the server process: taps the cameras that have queue zones,
serves their frames to workers over ZeroMQ, and puts the counts on the board.

    analytics = AnalyticsService(config.analytics, media, board)
    await analytics.start(zones)       # {camera: [ZoneSpec]}, from the zone store
    await analytics.set_zones("cam1", [...])   # at run time; [] stops tapping cam1
    ...; await analytics.stop()

Zones live in the database (wall/zones/store.py: seeded from ``[[analytics.zones]]``,
edited through ``/api/cameras/{camera}/zones``); the store calls ``set_zones`` on
every change. Changed zones reach the worker with the next frame (they travel
with each frame; a tap inside a media process is restarted with them); the
ZeroMQ port is bound only once some camera has zones. With media processes
(MediaCluster) a camera's tap runs in the process that owns it and its frames
come back to the router here.
A zoned camera is tapped once the registry has given it to the media server,
and again if it comes back after being removed; a tap that fails is restarted
after a short pause, so one camera's trouble never stops the others.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from iocwall.analytics.messages import Result, ZoneSpec
from iocwall.streams.limits import WhepError
from iocwall.streams.taps.remote import TapFailed
from iocwall.streams.taps.router import TapRouter
from iocwall.streams.taps.tap import CameraTap, TapOptions
from iocwall.wall.zones.queues import QueueBoard

log = logging.getLogger(__name__)
RESTART_S = 2.0
DECODE_THREADS = 2


class AnalyticsService:
    def __init__(self, config: Any, media: Any, board: QueueBoard) -> None:
        """config: the ``[analytics]`` section; media: the MediaServer or MediaCluster;
        board: where counts go."""
        self.config = config
        self.media = media
        self.board = board
        self.router = TapRouter(config.tap_address, self._result,
                                worker_timeout_s=config.worker_timeout_s)
        self._pool: ThreadPoolExecutor | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._taps: dict[str, CameraTap] = {}
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
        tap = self._taps.get(camera)
        if tap is not None:
            tap.zones = self._zones[camera]       # the next frame carries them
        self.board.forget(camera, {z.id for z in zones})
        if camera in self._tasks and changed and self._remote():
            await self._cancel(camera)            # a media process's tap has its own copy
        if camera not in self._tasks:
            await self._ensure_router()
            self._tasks[camera] = asyncio.create_task(self._keep(camera), name=f"tap {camera}")

    def _remote(self) -> bool:
        return getattr(self.media, "tap", None) is not None

    async def _cancel(self, camera: str) -> None:
        task = self._tasks.pop(camera, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

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
        self._taps.pop(camera, None)
        self.router.forget(camera)
        self.board.forget(camera)
        log.info("analytics: %s has no zones any more; not tapped", camera)

    async def _ensure_router(self) -> None:
        if self._pool is None:
            await self.router.start()
            self._pool = ThreadPoolExecutor(DECODE_THREADS,
                                            thread_name_prefix="analytics-decode")

    async def _keep(self, camera: str) -> None:
        options = TapOptions(self.config.fps, self.config.keyframes_only, self.config.jpeg_quality)
        waiting_logged = False
        while True:
            status = self.media.camera(camera)
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
                self._taps.pop(camera, None)
                self.router.forget(camera)
            await asyncio.sleep(RESTART_S)

    async def _tap(self, camera: str, stream: str, options: TapOptions) -> None:
        """Until the tap ends: inside the media process that owns the camera when media is
        a MediaCluster (its frames come back to the router here), else in this process."""
        zones = self._zones.get(camera, [])
        if self._remote():
            await self.media.tap(camera, stream, zones, options, self.router.offer)
            return
        assert self._pool is not None
        tap = CameraTap(self.media, camera, stream, zones, options, self.router.offer,
                        self._pool)
        self._taps[camera] = tap
        await tap.run()

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks, self._taps, self._zones = {}, {}, {}
        self._started = False
        if self._pool is not None:
            await self.router.stop()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def metrics_text(self) -> str:
        return self.router.metrics_text() if self.config.enabled else ""
