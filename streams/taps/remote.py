"""The analytics tap across processes: it runs where the frames are, its frames reach the
one TapRouter of the web process.

    web process (MediaCluster)                 media process owning the camera (worker)
    ClusterTaps.run(node, camera, ...) --Op.TAP(TapRequest)-->  WorkerTaps.start: CameraTap
    sink(header, jpeg) = router.offer  <--TapFrame(header, jpeg)--  newest frame per tap
    run() returns / raises             <--TapEnded(error)--------  stream ended or failed
    (cancelled)                        --Op.UNTAP(tap_id)-------->  WorkerTaps.stop_one

Frames travel over the existing wire (local Unix socket). Latest frame wins at every
step: the media process keeps only the newest unsent frame of each tap (a frame replaced
before the socket took it is dropped and counted), and the router keeps one per camera.
The tap itself is a fan-out subscriber with its own bounded queue, so live video never
waits for it.
"""
from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from iocwall.analytics.messages import FrameHeader, ZoneSpec
from iocwall.streams.limits import WhepError
from iocwall.streams.taps.tap import CameraTap, MediaLike, TapOptions
from iocwall.streams.wire import Op, TapEnded, TapFrame, TapRequest

log = logging.getLogger(__name__)
DECODE_THREADS = 2             # per media process, shared by its taps


class WorkerTaps:
    """The taps of one media process."""

    def __init__(self, media: MediaLike, send: Callable[[object], Awaitable[None]]) -> None:
        self.media, self._send = media, send
        self._pool: ThreadPoolExecutor | None = None
        self._tasks: dict[int, asyncio.Task[None]] = {}
        self._cameras: dict[str, int] = {}            # camera -> its running tap id
        self._latest: dict[int, TapFrame] = {}
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None
        self._ends: set[asyncio.Task[None]] = set()
        self._why: dict[int, str] = {}                # tap id -> why it was ended here
        self.dropped = 0

    def start(self, request: TapRequest) -> None:
        """Tap ``request.camera`` (replacing an older tap of it)."""
        old = self._cameras.get(request.camera)
        if old is not None:
            self.stop_one(old)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="analytics-decode")
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_frames(), name="tap frames")
        tap = CameraTap(self.media, request.camera, request.stream, request.zones,
                        request.options, self._sink(request.tap_id), self._pool)
        task = asyncio.create_task(tap.run(), name=f"tap {request.camera}")
        self._tasks[request.tap_id] = task
        self._cameras[request.camera] = request.tap_id
        task.add_done_callback(lambda t: self._ended(request, t))
        log.info("analytics tap of %s/%s started", request.camera, request.stream)

    def stop_one(self, tap_id: int) -> bool:
        task = self._tasks.get(tap_id)
        if task is None:
            return False
        task.cancel()
        return True

    def end_camera(self, camera: str, why: str) -> None:
        """End the tap of a camera that is going away (its pulls stop, so its frames would
        just stop coming); the web side hears ``why``."""
        tap_id = self._cameras.get(camera)
        if tap_id is not None and self.stop_one(tap_id):
            self._why[tap_id] = why

    async def stop(self) -> None:
        tasks = [*self._tasks.values(), *([self._sender] if self._sender else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._sender = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _sink(self, tap_id: int) -> Callable[[FrameHeader, bytes], None]:
        def offer(header: FrameHeader, jpeg: bytes) -> None:
            if tap_id in self._latest:
                self.dropped += 1                     # replaced before the socket took it
            self._latest[tap_id] = TapFrame(tap_id, header, jpeg)
            self._wake.set()
        return offer

    async def _send_frames(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._latest:
                tap_id = next(iter(self._latest))
                await self._send(self._latest.pop(tap_id))

    def _ended(self, request: TapRequest, task: asyncio.Task[None]) -> None:
        self._tasks.pop(request.tap_id, None)
        self._latest.pop(request.tap_id, None)
        if self._cameras.get(request.camera) == request.tap_id:
            del self._cameras[request.camera]
        why = self._why.pop(request.tap_id, None)
        if task.cancelled():
            log.info("analytics tap of %s stopped%s", request.camera, f": {why}" if why else "")
            if why is None:
                return                                # stopped by the web process
            reason = why
        else:
            error = task.exception()
            if error is not None and not isinstance(error, WhepError):
                log.error("analytics tap of %s failed: %r", request.camera, error)
            reason = getattr(error, "message", None) or (repr(error) if error else "")
        end = asyncio.ensure_future(self._send(TapEnded(request.tap_id, request.camera, reason)))
        self._ends.add(end)
        end.add_done_callback(self._ends.discard)


@dataclass
class _Open:
    node: str
    camera: str
    sink: Callable[[FrameHeader, bytes], None]
    ended: asyncio.Future[None]


class TapFailed(RuntimeError):
    """A tap in a media process stopped with an error (its message says why)."""


class ClusterTaps:
    """The web process's side: which taps are open on which media process."""

    def __init__(self, call: Callable[..., Awaitable[Any]],
                 notify: Callable[..., bool]) -> None:
        """``call``/``notify``: Supervisor.call / Supervisor.notify."""
        self._call, self._notify = call, notify
        self._ids = itertools.count(1)
        self._open: dict[int, _Open] = {}

    async def run(self, node: str, camera: str, stream: str, zones: list[ZoneSpec],
                  options: TapOptions, sink: Callable[[FrameHeader, bytes], None]) -> None:
        """Tap ``camera`` on ``node`` until the tap ends (returns), fails (raises TapFailed or
        WhepError, e.g. the process restarts) or this is cancelled (the tap is stopped)."""
        tap_id = next(self._ids)
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._open[tap_id] = _Open(node, camera, sink, ended)
        try:
            await self._call(node, Op.TAP, TapRequest(tap_id, camera, stream, zones, options))
            await ended
        finally:
            self._open.pop(tap_id, None)
            if not ended.done():                     # cancelled here: stop it there
                with contextlib.suppress(Exception):
                    self._notify(node, Op.UNTAP, tap_id)

    def on_message(self, message: TapFrame | TapEnded) -> None:
        tap = self._open.get(message.tap_id)
        if tap is None:
            return                                   # a tap stopped here a moment ago
        if isinstance(message, TapFrame):
            tap.sink(message.header, message.jpeg)
        elif not tap.ended.done():
            if message.error:
                tap.ended.set_exception(TapFailed(message.error))
            else:
                tap.ended.set_result(None)

    def lost(self, node: str, error: BaseException) -> None:
        """A media process died: its taps ended with it."""
        for tap in self._open.values():
            if tap.node == node and not tap.ended.done():
                tap.ended.set_exception(error)
