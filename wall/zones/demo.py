"""The demo's analytics: the simulator's counters become queue zones, and one
worker process (restarted if it dies) counts them.

The zones are the simulator's own counter zones scaled to its sub stream, and
their ids are the counter ids of its ``/truth``, so ``/api/queues`` and the
simulator's ground truth can be compared camera by camera, zone by zone.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import sys
from typing import Any

log = logging.getLogger(__name__)
RESTART_S = 2.0


def sim_zones(cameras: int, width: int, height: int) -> list[Any]:
    from iocwall.hardware.sim.scene import CANVAS_H, CANVAS_W, counters
    from iocwall.wall.config import ZoneConfig
    sx, sy = width / CANVAS_W, height / CANVAS_H
    zones = []
    for k in range(1, cameras + 1):
        for c in counters():
            x, y, w, h = c.zone
            polygon = [[x * sx, y * sy], [(x + w) * sx, y * sy], [(x + w) * sx, (y + h) * sy],
                       [x * sx, (y + h) * sy]]
            zones.append(ZoneConfig(camera=f"cam{k}", id=c.id, polygon=polygon))
    return zones


def free_tap_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def _lower_priority() -> None:
    # One machine runs camera, server and detector in the demo: counting may lag a
    # little, live video must not, so the detector yields the CPU to everything else.
    os.nice(10)


class DemoWorker:
    """``iocwall worker`` as a child process, restarted when it exits."""

    def __init__(self, address: str, detector: str, weights: str, imgsz: int = 0,
                 min_score: float = 0.0) -> None:
        self.args = ["--connect", address, "--detector", detector, "--name", "demo-worker"]
        if weights:
            self.args += ["--weights", weights]
        if imgsz:
            self.args += ["--imgsz", str(imgsz)]
        if min_score:
            self.args += ["--min-score", str(min_score)]
        self._task: asyncio.Task[None] | None = None
        self._proc: asyncio.subprocess.Process | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep(), name="demo analytics worker")

    async def _keep(self) -> None:
        while True:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "iocwall.wall.cli", "worker", *self.args,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL, preexec_fn=_lower_priority)
            code = await self._proc.wait()
            if code == 2:       # a setup problem (e.g. missing weights): restarting won't help
                log.error("demo analytics worker cannot start (exit 2); run `iocwall worker "
                          "%s` to see why", " ".join(self.args))
                return
            log.warning("demo analytics worker exited with %s; restarting", code)
            await asyncio.sleep(RESTART_S)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            # not `await task` in suppress(CancelledError): that swallows our own cancel
            await asyncio.wait({self._task})
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                async with asyncio.timeout(10):
                    await self._proc.wait()
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
