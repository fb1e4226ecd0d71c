"""Analytics in the server process: taps the cameras that have queue zones,
serves their frames to workers over ZeroMQ, and puts the counts on the board.

    analytics = AnalyticsService(config.analytics, media, board)
    await analytics.start(); ...; await analytics.stop()

Zones come from ``[analytics] zones`` (the demo adds the simulator's counters).
A zoned camera is tapped once the registry has given it to the media server,
and again if it comes back after being removed; a tap that fails is restarted
after a short pause, so one camera's trouble never stops the others.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from iocwall.analytics.messages import ZoneSpec
from iocwall.streams.analytics_taps import TapFailed
from iocwall.streams.limits import WhepError
from iocwall.streams.tap import CameraTap, TapOptions
from iocwall.streams.tap_router import TapRouter
from iocwall.wall.queues import QueueBoard

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
        self.router = TapRouter(config.tap_address, board.update,
                                worker_timeout_s=config.worker_timeout_s)
        self._pool: ThreadPoolExecutor | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def zones_by_camera(self) -> dict[str, list[ZoneSpec]]:
        out: dict[str, list[ZoneSpec]] = {}
        for zone in self.config.zones:
            out.setdefault(zone.camera, []).append(ZoneSpec(zone.id, zone.polygon))
        return out

    async def start(self) -> None:
        if not self.config.enabled:
            return
        await self.router.start()
        self._pool = ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="analytics-decode")
        for camera, zones in self.zones_by_camera().items():
            self._tasks[camera] = asyncio.create_task(self._keep(camera, zones),
                                                      name=f"tap {camera}")

    async def _keep(self, camera: str, zones: list[ZoneSpec]) -> None:
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
                await self._tap(camera, stream, zones, options)
            except asyncio.CancelledError:
                raise
            except (WhepError, TapFailed) as exc:      # refused, or its media process left
                log.warning("analytics tap of %s stopped: %s; restarting", camera, exc)
            except Exception:
                log.exception("analytics tap of %s failed; restarting", camera)
            finally:
                self.router.forget(camera)
            await asyncio.sleep(RESTART_S)

    async def _tap(self, camera: str, stream: str, zones: list[ZoneSpec],
                   options: TapOptions) -> None:
        """Until the tap ends: inside the media process that owns the camera when media is
        a MediaCluster (its frames come back to the router here), else in this process."""
        tap = getattr(self.media, "tap", None)
        if tap is not None:
            await tap(camera, stream, zones, options, self.router.offer)
            return
        assert self._pool is not None
        await CameraTap(self.media, camera, stream, zones, options, self.router.offer,
                        self._pool).run()

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks = {}
        await self.router.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def metrics_text(self) -> str:
        return self.router.metrics_text() if self.config.enabled else ""
