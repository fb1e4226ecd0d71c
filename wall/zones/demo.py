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
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from iocwall.wall.worker_command import EXIT_CONFIG

log = logging.getLogger(__name__)
RESTART_S = 2.0
TAIL_LINES = 20
QUICK_S = 10.0                # a worker that dies this soon after starting, ...
MAX_QUICK_FAILURES = 3        # ... this many times in a row, will not run here: off


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
    """``iocwall worker`` as a child process, restarted when it exits, except when it
    cannot work here (EXIT_CONFIG: analytics extra or weights missing) or keeps failing
    at once: then its one line is logged once and ``on_off`` hears it (analytics off)."""

    def __init__(self, address: str, detector: str, weights: str, imgsz: int = 0,
                 min_score: float = 0.0, env: dict[str, str] | None = None) -> None:
        self.args = ["--connect", address, "--detector", detector, "--name", "demo-worker"]
        if weights:
            self.args += ["--weights", weights]
        if imgsz:
            self.args += ["--imgsz", str(imgsz)]
        if min_score:
            self.args += ["--min-score", str(min_score)]
        self.env = env
        self.off_reason = ""
        self.restarts = 0
        self._on_off: Callable[[str], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._proc: asyncio.subprocess.Process | None = None

    def on_off(self, listener: Callable[[str], None]) -> None:
        """``listener(reason)`` when analytics goes off (at once if it already is)."""
        self._on_off = listener
        if self.off_reason:
            listener(self.off_reason)

    def start(self) -> None:
        self._task = asyncio.create_task(self._keep(), name="demo analytics worker")

    async def _keep(self) -> None:
        quick_failures = 0
        while True:
            started = time.monotonic()
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "iocwall.wall.cli", "worker", *self.args,
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE, preexec_fn=_lower_priority, env=self.env)
            assert self._proc.stderr is not None
            tail = await _last_lines(self._proc.stderr)
            code = await self._proc.wait()
            quick_failures = quick_failures + 1 if time.monotonic() - started < QUICK_S else 0
            if code in (EXIT_CONFIG, 2) or quick_failures >= MAX_QUICK_FAILURES:
                self._off(_reason(tail, code))
                return
            self.restarts += 1
            log.warning("demo analytics worker exited with %s; restarting: %s", code,
                        tail[-1] if tail else "(no output)")
            await asyncio.sleep(RESTART_S)

    def _off(self, reason: str) -> None:
        self.off_reason = reason
        log.error("%s (the demo runs on without people counting)", reason)
        if self._on_off is not None:
            self._on_off(reason)

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


async def _last_lines(stream: asyncio.StreamReader) -> deque[str]:
    """Read a pipe to its end as it comes (a full pipe would block the worker), keeping its
    last lines; chunks, not readline, so no line is ever too long."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    rest = b""
    while chunk := await stream.read(65536):
        *lines, rest = (rest + chunk).split(b"\n")
        tail.extend(line.decode("utf-8", "replace").rstrip() for line in lines)
        rest = rest[-65536:]
    if rest:
        tail.append(rest.decode("utf-8", "replace").rstrip())
    return tail


def _reason(tail: deque[str], code: int) -> str:
    """The worker's own one-line explanation, else its last words."""
    for line in reversed(tail):
        if line.startswith("iocwall worker: "):
            return line.removeprefix("iocwall worker: ")
    last = tail[-1] if tail else "no output"
    return (f"analytics off: the worker keeps failing (exit {code}): {last} / tắt phân tích: "
            "bộ đếm người không chạy được")
