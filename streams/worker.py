"""A media process: one MediaServer for the cameras placed on it, driven over a socket.

Started by ``MediaCluster`` (``multiprocessing`` spawn), it connects back to the
web process's Unix socket, says who it is (``Hello``) and answers ``Call``s;
it pushes ``SessionClosed`` whenever one of its viewer sessions ends. Its
cameras arrive over the socket (``Op.SYNC`` on connect, then add/update/remove
as the registry changes), and it runs the analytics taps of its own cameras
(``taps.remote.WorkerTaps``), pushing sampled frames back. It runs
its own aiortc peer connections on its own UDP ports, so media work spreads
over the cores. When the web process goes away (its socket closes) it stops
everything and exits: no orphan keeps pulling cameras. Every ``HEARTBEAT_S`` it
sends a ``Heartbeat`` (cameras, sessions, memory, loop lag): the web process's
watchdog kills and restarts a process whose heartbeats stop (stopped, or its
loop stuck) or whose memory is over the cap.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Coroutine
from typing import Any

from iocwall.streams.calls import dispatch
from iocwall.streams.limits import CloseReason, WhepError
from iocwall.streams.netwire import WireError, receive, send
from iocwall.streams.nodes import HEARTBEAT_S
from iocwall.streams.server import MediaServer
from iocwall.streams.taps.remote import WorkerTaps
from iocwall.streams.whep import WhepSession
from iocwall.streams.wire import (
    Call,
    Failure,
    Heartbeat,
    Hello,
    LogLine,
    Reply,
    SessionClosed,
    WorkerSettings,
)

log = logging.getLogger(__name__)

# Fault drill: media nodes listed here (comma-separated ids) exit at start, as a node that
# cannot come back would (its cameras then move to the others). Read at each start.
FAIL_START_ENV = "IOCWALL_MEDIA_FAIL_START"
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """This process's resident memory now (Linux /proc; 0 where there is none)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def main(settings: WorkerSettings) -> None:
    """Process entry point."""
    if settings.node in os.environ.get(FAIL_START_ENV, "").split(","):
        raise SystemExit(f"{settings.node}: start refused ({FAIL_START_ENV})")
    # Ctrl+C in a terminal (and timeout, systemd) signal the whole process group: the web
    # process then stops its media processes in order (closing the socket ends them); a
    # media process that died on the signal would be seen as a crash and restarted.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    logging.basicConfig(level=settings.log_level,
                        format=f"%(asctime)s {settings.node} %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aioice").setLevel(max(settings.log_level, logging.WARNING))
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(Worker(settings).run())


LOG_QUEUE = 1000     # log lines waiting to be sent; past it they are dropped (and counted)
_EXTRA = ("session", "reason")


class ForwardingHandler(logging.Handler):
    """Sends this process's log records to the web process, which writes them to the one
    log file (JSON, redacted). Thread-safe: PyAV puller threads log too."""

    def __init__(self, loop: asyncio.AbstractEventLoop, node: str) -> None:
        super().__init__()
        self.loop, self.node = loop, node
        self.queue: asyncio.Queue[LogLine] = asyncio.Queue(LOG_QUEUE)
        self.dropped = 0

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        extra = {k: str(getattr(record, k)) for k in _EXTRA if hasattr(record, k)}
        line = LogLine(record.name, record.levelno, text, record.created,
                       {"node": self.node, **extra})
        self.loop.call_soon_threadsafe(self._put, line)

    def _put(self, line: LogLine) -> None:
        try:
            self.queue.put_nowait(line)
        except asyncio.QueueFull:
            self.dropped += 1


class Worker:
    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.media = MediaServer(settings.media)
        for camera in settings.cameras:
            self.media.add(camera)
        self.taps = WorkerTaps(self.media, self._push)
        self._writer: asyncio.StreamWriter | None = None
        self._write_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()

    async def run(self) -> None:
        await self.media.start()
        self.media.sessions.on_close = self._closed
        try:
            reader, self._writer = await asyncio.open_unix_connection(self.settings.socket_path)
            await self._send(Hello(self.settings.node, os.getpid()))
            self._forward_logs()
            self._spawn(self._heartbeats())
            while True:
                message = await receive(reader)
                if isinstance(message, Call):
                    self._spawn(self._answer(message))
        except (asyncio.IncompleteReadError, ConnectionError, FileNotFoundError):
            log.info("%s: the web process is gone: stopping", self.settings.node)
        except WireError as exc:              # the web process is ours: a bug, not an attack
            log.error("%s: bad frame from the web process: %s", self.settings.node, exc.message)
        finally:
            for task in list(self._tasks):
                task.cancel()
            await self.taps.stop()
            async with asyncio.timeout(15):
                await self.media.stop()

    def _forward_logs(self) -> None:
        """From now on this process logs through the web process."""
        handler = ForwardingHandler(asyncio.get_running_loop(), self.settings.node)
        root = logging.getLogger()
        for old in list(root.handlers):
            root.removeHandler(old)
        root.addHandler(handler)

        async def pump() -> None:
            while True:
                await self._push(await handler.queue.get())

        self._spawn(pump())

    async def _heartbeats(self) -> None:
        """Tell the web process every HEARTBEAT_S that this loop still runs, and how loaded
        the process is; the lag is how late the loop woke (a busy loop is late)."""
        due = time.monotonic()
        while True:
            now = time.monotonic()
            try:
                cameras, sessions = len(self.media.known_cameras()), len(self.media.sessions)
            except Exception:          # a figure that fails must not stop the heartbeat
                log.exception("%s: heartbeat figures failed", self.settings.node)
                cameras = sessions = 0
            await self._push(Heartbeat(self.settings.node, os.getpid(), cameras, sessions,
                                       rss_bytes(), max(0.0, now - due), now))
            due = time.monotonic() + HEARTBEAT_S
            await asyncio.sleep(HEARTBEAT_S)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, message: object) -> None:
        if self._writer is None:
            return
        async with self._write_lock:
            await send(self._writer, message)

    def _closed(self, session: WhepSession, reason: CloseReason) -> None:
        self._spawn(self._push(SessionClosed(session.id, reason)))

    async def _push(self, message: object) -> None:
        try:
            await self._send(message)
        except ConnectionError:                   # the web process left: nobody to tell
            pass
        except WireError as exc:                  # a value that is no wire type: a bug
            log.error("%s: cannot send %s: %s", self.settings.node, type(message).__name__,
                      exc.message)

    async def _answer(self, call: Call) -> None:
        try:
            reply = Reply(call.id, await self._dispatch(call))
        except WhepError as exc:
            reply = Reply(call.id, error=Failure(exc.status, exc.code, exc.message,
                                                 exc.retry_after_s))
        except Exception:
            log.exception("%s: %s failed", self.settings.node, call.op.value)
            reply = Reply(call.id, error=Failure(500, "internal", "media process error"))
        await self._push(reply)

    async def _dispatch(self, call: Call) -> object:
        return await dispatch(self.media, self.taps, self.settings.node, call)
