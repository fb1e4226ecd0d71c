"""Hands tapped frames to analytics workers over ZeroMQ, and takes their counts back.

    router = TapRouter("tcp://127.0.0.1:5571", on_result=board.update)
    await router.start(); router.offer(header, jpeg); ...; await router.stop()

One ROUTER socket; workers connect with DEALER sockets. Each camera is assigned
to one live worker (the one with the fewest cameras), so its tracker state lives
in one place; a worker silent for ``worker_timeout_s`` loses its cameras to the
others at once. Workers pull with credit (``READY n``), and each camera keeps
only its newest frame: a frame replaced before a worker asked for it is dropped
and counted, so a slow or absent worker never builds a queue anywhere.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import zmq
import zmq.asyncio
from prometheus_client.core import Metric

from iocwall.analytics.messages import (
    FrameHeader,
    Heartbeat,
    Hello,
    Kind,
    MessageError,
    Ready,
    Result,
    decode,
    encode,
)
from iocwall.streams.metrics import Families, exposition, family

log = logging.getLogger(__name__)
TICK_S = 0.2
MAX_CREDIT = 256


@dataclass
class _Worker:
    identity: bytes
    name: str
    batch: int
    credit: int = 0
    last_seen: float = field(default_factory=time.monotonic)
    cameras: set[str] = field(default_factory=set)
    results: int = 0
    sent: int = 0
    dropped: int = 0           # its cameras' frames replaced before it asked for them


@dataclass
class _Pending:
    header: FrameHeader
    jpeg: bytes


@dataclass
class CameraCounters:
    offered: int = 0
    sent: int = 0
    dropped: int = 0           # replaced by a newer frame before any worker took it
    results: int = 0
    last_result: float = 0.0   # time.time() of the last count


class TapRouter:
    def __init__(self, bind: str, on_result: Callable[[Result], None], *,
                 worker_timeout_s: float = 1.5) -> None:
        self.bind = bind
        self.on_result = on_result
        self.worker_timeout_s = worker_timeout_s
        self.workers: dict[bytes, _Worker] = {}
        self.assignment: dict[str, bytes] = {}
        self.counters: dict[str, CameraCounters] = {}
        self.bad_messages = 0
        self._pending: dict[str, _Pending] = {}
        self._sock: zmq.asyncio.Socket | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._kick = asyncio.Event()
        self._closing = False

    async def start(self) -> None:
        ctx = zmq.asyncio.Context.instance()
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 1)    # a vanished worker raises, never blocks
        sock.setsockopt(zmq.SNDHWM, 64)
        try:
            sock.bind(self.bind)
        except zmq.ZMQError as exc:
            sock.close(0)
            raise OSError(f"analytics tap cannot listen on {self.bind}: {exc}") from None
        self._sock = sock
        self._closing = False
        self._tasks = [asyncio.create_task(self._receive(), name="tap receive"),
                       asyncio.create_task(self._dispatch(), name="tap dispatch")]
        log.info("analytics tap listening on %s", self.bind)

    async def stop(self) -> None:
        self._closing = True                 # the dispatch loop ends even if a cancel is lost
        for task in self._tasks:
            task.cancel()
        # gather, not `await task` in suppress(CancelledError): that swallows our own cancel
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None

    def offer(self, header: FrameHeader, jpeg: bytes) -> None:
        """The newest frame of a camera (from the event loop); replaces an unsent one."""
        counters = self.counters.setdefault(header.camera, CameraCounters())
        counters.offered += 1
        if header.camera in self._pending:
            counters.dropped += 1
            owner = self.workers.get(self.assignment.get(header.camera, b""))
            if owner is not None:
                owner.dropped += 1
        self._pending[header.camera] = _Pending(header, jpeg)
        self._kick.set()

    def forget(self, camera: str) -> None:
        """The camera is no longer tapped."""
        self._pending.pop(camera, None)
        owner = self.assignment.pop(camera, None)
        if owner in self.workers:
            self.workers[owner].cameras.discard(camera)

    # -- receiving ---------------------------------------------------------------------
    async def _receive(self) -> None:
        assert self._sock is not None
        while True:
            parts = await self._sock.recv_multipart()
            try:
                self._handle(parts[0], parts[1:])
            except MessageError as exc:
                self.bad_messages += 1
                log.warning("analytics tap: ignored a message from %r: %s", parts[0][:32], exc)
            except Exception:                   # a bug must not end the receive loop
                log.exception("analytics tap: handling a worker message failed")

    def _handle(self, identity: bytes, parts: list[bytes]) -> None:
        kind, header, _ = decode(parts)
        worker = self.workers.get(identity)
        if isinstance(header, Hello) or worker is None:
            name = header.worker if isinstance(header, (Hello, Heartbeat)) else identity.decode(
                "utf-8", "replace")
            batch = header.batch if isinstance(header, Hello) else 1
            if worker is None:
                log.info("analytics worker %s joined", name)
                worker = self.workers[identity] = _Worker(identity, name, max(1, batch))
                # a worker we did not know (we restarted) may be waiting: give it credit
                worker.credit = worker.batch if not isinstance(header, Hello) else 0
            worker.name, worker.batch = name, max(1, batch)
        worker.last_seen = time.monotonic()
        if isinstance(header, Ready):
            worker.credit = min(MAX_CREDIT, worker.credit + max(0, header.credit))
        elif isinstance(header, Result):
            self._result(worker, header)
        self._kick.set()

    def _result(self, worker: _Worker, result: Result) -> None:
        if self.assignment.get(result.camera) != worker.identity:
            return                 # the camera moved on; a late answer of its old worker
        worker.results += 1
        counters = self.counters.setdefault(result.camera, CameraCounters())
        counters.results += 1
        counters.last_result = time.time()
        self.on_result(result)

    # -- dispatching -------------------------------------------------------------------
    async def _dispatch(self) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
        # that lands as the wait completes, and stop() then waited on this loop forever
        # (seen once in CI).
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_S):
                    await self._kick.wait()
            self._kick.clear()
            self._expire()
            self._assign()
            await self._send()

    def _expire(self) -> None:
        now = time.monotonic()
        for identity, worker in list(self.workers.items()):
            if now - worker.last_seen > self.worker_timeout_s:
                log.warning("analytics worker %s silent for %.1f s: its %d cameras move",
                            worker.name, now - worker.last_seen, len(worker.cameras))
                del self.workers[identity]
                for camera in worker.cameras:
                    self.assignment.pop(camera, None)

    def _assign(self) -> None:
        if not self.workers:
            return
        for camera in self._pending:
            if camera not in self.assignment:
                worker = min(self.workers.values(), key=lambda w: (len(w.cameras), w.name))
                worker.cameras.add(camera)
                self.assignment[camera] = worker.identity
                log.info("analytics: camera %s -> worker %s", camera, worker.name)

    async def _send(self) -> None:
        assert self._sock is not None
        for worker in list(self.workers.values()):
            ready = sorted((p for c, p in self._pending.items() if c in worker.cameras),
                           key=lambda p: p.header.capture_ts)
            for pending in ready[:worker.credit]:
                try:
                    await self._sock.send_multipart(
                        [worker.identity, *encode(Kind.FRAME, pending.header, pending.jpeg)],
                        flags=zmq.NOBLOCK)
                except zmq.ZMQError:             # gone or full: the expiry will move it
                    break
                worker.credit -= 1
                worker.sent += 1
                del self._pending[pending.header.camera]
                self.counters[pending.header.camera].sent += 1

    # -- reporting ---------------------------------------------------------------------
    def metrics_text(self) -> str:
        return exposition(Families(self._families))

    def _families(self) -> Iterator[Metric]:
        yield family("counter", "iocwall_analytics_frames_total", "Frames by camera and fate",
                     ["camera", "fate"],
                     [([camera, fate], float(value))
                      for camera, c in sorted(self.counters.items())
                      for fate, value in (("offered", c.offered), ("sent", c.sent),
                                          ("dropped", c.dropped), ("counted", c.results))])
        yield family("gauge", "iocwall_analytics_workers", "Analytics workers connected", [],
                     [([], float(len(self.workers)))])
        # per worker process: a worker short of CPU shows as frames dropped while it computed
        yield family("counter", "iocwall_analytics_worker_frames_total",
                     "Frames by analytics worker process and fate (dropped: replaced by a "
                     "newer frame of its camera before it asked)", ["worker", "fate"],
                     [([w.name, fate], float(value))
                      for w in sorted(self.workers.values(), key=lambda w: w.name)
                      for fate, value in (("sent", w.sent), ("dropped", w.dropped),
                                          ("counted", w.results))])
