"""Cameras nobody pulls are still watched: a cheap RTSP probe of each, spread over a period.

    prober = CameraProber(registry, media, config.alerts)
    await prober.start()            # a round every probe_s; nothing when probe_s is 0
    prober.results["cam1"]          # Probed: reachable or not, why, when
    await prober.stop()             # never hangs

A pulled camera is judged by its stream; an idle one only by this. Each probe goes to the
camera's own registered address (never one a request names) with its stored credentials,
through streams/rtsp/reach.py (the live pulls' client). Probes start spread evenly over the
period, at most ``probe_concurrency`` in flight, so a thousand cameras never probe at once.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iocwall.streams.clock import now_iso
from iocwall.streams.health import StreamState
from iocwall.streams.rtsp.reach import Reach, Reason, reach
from iocwall.streams.urls import UrlError, parse

if TYPE_CHECKING:
    from iocwall.streams.contract import MediaService
    from iocwall.wall.config import AlertsConfig
    from iocwall.wall.registry.model import RegisteredCamera
    from iocwall.wall.registry.store import Registry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Probed:
    reach: Reach
    at: str                  # ISO 8601 +07:00, for the board

    @property
    def reachable(self) -> bool:
        return self.reach.reachable


class CameraProber:
    def __init__(self, registry: Registry, media: MediaService, cfg: AlertsConfig) -> None:
        """``registry``: where addresses and credentials come from; ``media``: which cameras
        are idle now; ``cfg``: ``probe_s``, ``probe_timeout_s``, ``probe_concurrency``."""
        self._registry, self._media, self._cfg = registry, media, cfg
        self.results: dict[str, Probed] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._cfg.probe_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._run(), name="health-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            started = time.monotonic()
            try:
                await self.round()
            except Exception:
                log.exception("camera probe round failed")
            await asyncio.sleep(max(0.0, self._cfg.probe_s - (time.monotonic() - started)))

    async def round(self) -> None:
        """Probe every idle registered camera once, starts spread over ``probe_s``."""
        idle = {s.id for s in await self._media.cameras() if s.state is StreamState.IDLE}
        for gone in set(self.results) - idle:        # pulled (or removed): its stream judges
            del self.results[gone]
        cams = [c for c in await self._registry.cameras() if c.id in idle and c.rtsp_main]
        if not cams:
            return
        gap = self._cfg.probe_s / len(cams)
        gate = asyncio.Semaphore(self._cfg.probe_concurrency)
        # camera k at (k + 1) gaps: each camera once a period, and the first probes wait a
        # gap after start (the server's own start goes first)
        await asyncio.gather(*(self._one(cam, (k + 1) * gap, gate)
                               for k, cam in enumerate(cams)))

    async def _one(self, cam: RegisteredCamera, delay: float, gate: asyncio.Semaphore) -> None:
        await asyncio.sleep(delay)
        async with gate:
            status = await self._media.camera(cam.id)
            if status is None or status.state is not StreamState.IDLE:
                self.results.pop(cam.id, None)    # pulled since the round began: not ours
                return
            result = await self._probe(cam)
        before = self.results.get(cam.id)
        self.results[cam.id] = Probed(result, now_iso())
        if before is None or before.reach.reason is not result.reason:
            # the client's messages never carry credentials (streams/rtsp/errors.py)
            log.info("camera %s (idle): %s%s", cam.id, result.reason.value,
                     f": {result.message}" if result.message else "")

    async def _probe(self, cam: RegisteredCamera) -> Reach:
        creds = await self._registry.credentials(cam.id)
        try:
            url = parse(cam.rtsp_main, creds.username or None, creds.password or None,
                        allow_basic_auth=cam.allow_basic_auth)
        except UrlError as exc:
            return Reach(Reason.NO_STREAM, str(exc))
        try:
            return await reach(url, self._cfg.probe_timeout_s)
        except OSError as exc:               # a socket error the client did not name
            return Reach(Reason.UNREACHABLE, type(exc).__name__)
