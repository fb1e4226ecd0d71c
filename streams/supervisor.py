"""The media processes of one machine: spawned, connected, called, restarted when they die.

``Supervisor`` owns the processes (``multiprocessing`` spawn, running
``worker.main``) and the Unix socket they connect back to (in a private 0700
directory). ``call`` sends a ``Call`` to one process and awaits its ``Reply``;
``notify`` sends one without waiting. ``SessionClosed``, analytics tap messages
and a lost process are reported through callbacks, so the cluster above keeps
its own books. ``Node.cameras`` is what a process serves: the cluster edits it
as the registry changes, and every (re)connecting process is first sent the
whole list (``Op.SYNC``), so a change made while a process starts or restarts
is never lost. A process that dies is restarted with the same node id (so the
same cameras) after a backoff that grows while it keeps dying.

Each process sends a heartbeat every second; they feed ``table`` (streams/nodes.py).
The ``Watchdog`` (streams/watchdog.py) decides: a process whose heartbeats stop
(stopped, loop stuck) is killed (SIGKILL) and restarted, its sessions ended as
``node_hung``; one over the memory cap likewise (``node_memory``); a node whose
starts keep failing is marked down and ``on_down`` lets the cluster move its
cameras. It is still retried; ``on_up`` says when it is back.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from typing import Any

from iocwall.streams import worker
from iocwall.streams.limits import CloseReason, WhepError
from iocwall.streams.netwire import WireError, encode, receive, send
from iocwall.streams.nodes import NodeState, NodeTable, Restart
from iocwall.streams.settings import StreamSettings
from iocwall.streams.watchdog import WINDOW_S, Watchdog
from iocwall.streams.wire import (
    Call,
    Heartbeat,
    Hello,
    LogLine,
    Op,
    Reply,
    SessionClosed,
    TapEnded,
    TapFrame,
    WorkerSettings,
)

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0          # a spawned process imports aiortc/av before it says hello
CALL_TIMEOUT_S = 30.0
RESTART_MIN_S, RESTART_MAX_S = 0.5, 10.0
RESTART_RETRY_AFTER_S = 2
TICK_S = 0.25                   # how often processes are checked
_CLOSE = {Restart.HUNG: CloseReason.NODE_HUNG, Restart.MEMORY: CloseReason.NODE_MEMORY}


class Node:
    """One media process as the web process sees it."""

    def __init__(self, node: str, cameras: list[Any]) -> None:
        self.node = node
        self.cameras: dict[str, Any] = {c.id: c for c in cameras}   # server.Camera by id
        self.process: Any = None                 # multiprocessing.Process (spawn)
        self.writer: asyncio.StreamWriter | None = None
        self.ready = asyncio.Event()
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.restarts = 0
        self.started_at = 0.0
        self.up_since: float | None = None       # its hello, for this process
        self.kill_reason: Restart | None = None  # why the watchdog killed it
        self.restart_task: asyncio.Task[None] | None = None

    def fail_pending(self) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(restarting(self.node))
        self.pending.clear()


def _relog(line: LogLine) -> None:
    """A media process's log record, handled here as if logged here (same file, filters)."""
    record = logging.makeLogRecord({"name": line.name, "levelno": line.level,
                                    "levelname": logging.getLevelName(line.level),
                                    "msg": line.message, "args": None,
                                    "created": line.created, **line.extra})
    logging.getLogger(line.name).handle(record)


def restarting(node: str) -> WhepError:
    return WhepError(503, "media_restarting", f"{node} is restarting; try again "
                     "/ đang khởi động lại", RESTART_RETRY_AFTER_S)


class Supervisor:
    def __init__(self, nodes: dict[str, list[Any]], settings: StreamSettings, log_level: int,
                 on_closed: Callable[[SessionClosed], None],
                 on_lost: Callable[[str, CloseReason], None],
                 on_tap: Callable[[TapFrame | TapEnded], None] | None = None, *,
                 on_down: Callable[[str], None] | None = None,
                 on_up: Callable[[str], None] | None = None,
                 node_timeout_s: float = 5.0, memory_limit_bytes: int = 0) -> None:
        """``nodes``: node id -> the cameras it serves; ``settings``: what each process's
        MediaServer is built from; ``on_closed``: a process ended a session; ``on_lost``: a process
        died or was killed (everything on it is gone; the reason its sessions end with);
        ``on_tap``: an analytics frame or a tap's end; ``on_down``: a node kept failing to
        start (move its cameras); ``on_up``: a node that was down is back."""
        self.nodes = {n: Node(n, cams) for n, cams in nodes.items()}
        self.table = NodeTable(node_timeout_s)
        for node in self.nodes:
            self.table.add(node)
        self.watchdog = Watchdog(self.table, memory_limit_bytes, START_TIMEOUT_S)
        self._on_down, self._on_up = on_down, on_up
        self._settings, self._log_level = settings, log_level
        self._on_closed, self._on_lost = on_closed, on_lost
        self._on_tap = on_tap
        self._ids = itertools.count(1)
        self._dir = ""
        self._server: asyncio.AbstractServer | None = None
        self._task: asyncio.Task | None = None

    @property
    def _path(self) -> str:
        return os.path.join(self._dir, "media.sock")

    async def start(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="iocwall-media-")
        os.chmod(self._dir, 0o700)
        self._server = await asyncio.start_unix_server(self._on_connect, self._path)
        for node in self.nodes.values():
            self._spawn(node)
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await asyncio.gather(*(n.ready.wait() for n in self.nodes.values()))
        except BaseException:
            await self.stop()
            raise
        log.info("media processes up: %s", {n: len(v.cameras) for n, v in self.nodes.items()})
        self._task = asyncio.create_task(self._supervise(), name="media-supervisor")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        tasks = [n.restart_task for n in self.nodes.values() if n.restart_task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for node in self.nodes.values():
            node.restart_task = None
            if node.writer is not None:
                node.writer.close()           # the process sees EOF, stops its media, exits
        await asyncio.gather(*(self._reap(n, 15.0) for n in self.nodes.values()))
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = ""

    def _spawn(self, node: Node) -> None:
        settings = WorkerSettings(node.node, self._path, self._settings, [],
                                  self._log_level)      # cameras come with Op.SYNC
        ctx = multiprocessing.get_context("spawn")
        node.process = ctx.Process(target=worker.main, args=(settings,), name=node.node,
                                   daemon=True)
        node.process.start()
        node.started_at = time.monotonic()
        node.up_since = None

    async def _reap(self, node: Node, wait_s: float) -> None:
        process = node.process
        if process is None:
            return
        await asyncio.to_thread(process.join, wait_s)
        if process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join, 5)
        node.process = None

    async def _supervise(self) -> None:
        """Restart processes that died (each on its own, with a growing delay) and kill
        the ones the watchdog condemns."""
        last = time.monotonic()
        while True:
            await asyncio.sleep(TICK_S)
            now = time.monotonic()
            # this loop itself woke late (the web process was busy): heartbeats may be
            # waiting unread, so judge nobody on this tick
            judge = now - last < 1.0
            last = now
            for node in self.nodes.values():
                if node.restart_task is not None:
                    continue
                if node.process is None or not node.process.is_alive():
                    node.restart_task = asyncio.create_task(self._restart(node),
                                                            name=f"restart-{node.node}")
                elif judge:
                    reason = self.watchdog.verdict(node.node, now, node.started_at,
                                                   node.up_since is not None)
                    if reason is not None:
                        self._kill(node, reason)

    def _kill(self, node: Node, reason: Restart) -> None:
        """SIGKILL: a stopped or stuck process cannot be asked to leave."""
        log.warning("%s: killing pid %d: %s", node.node, node.process.pid,
                    self.watchdog.explain(node.node, reason, time.monotonic()),
                    extra={"reason": reason.value})
        node.kill_reason = reason
        if self.table.state(node.node) is not NodeState.DOWN:
            self.table.set_state(node.node, NodeState.HUNG if reason is Restart.HUNG
                                 else NodeState.RESTARTING)
        node.process.kill()
        self._lost(node, _CLOSE.get(reason, CloseReason.PROCESS_LOST))

    async def _restart(self, node: Node) -> None:
        try:
            await self._restart_once(node)
        finally:
            node.restart_task = None

    async def _restart_once(self, node: Node) -> None:
        code = node.process.exitcode if node.process is not None else None
        self._lost(node, CloseReason.PROCESS_LOST)
        await self._reap(node, 1.0)
        now = time.monotonic()
        reason = node.kill_reason or (Restart.EXITED if node.up_since is not None
                                      else Restart.START_FAILED)
        node.kill_reason = None
        if self.watchdog.restarting(node.node, reason, now, node.up_since):
            log.error("%s down: %d failed starts within %.0f s", node.node,
                      self.watchdog.failed_starts(node.node), WINDOW_S)
            if self._on_down is not None:
                self._on_down(node.node)
        if now - node.started_at > 60:
            node.restarts = 0                     # it ran a good while: not a crash loop
        delay = min(RESTART_MAX_S, RESTART_MIN_S * 2 ** min(node.restarts, 5))
        log.warning("%s ended (%s, exit %s): restarting in %.1f s", node.node, reason.value,
                    code, delay, extra={"reason": reason.value})
        node.restarts += 1
        await asyncio.sleep(delay)
        self._spawn(node)

    def _lost(self, node: Node, reason: CloseReason = CloseReason.PROCESS_LOST) -> None:
        if node.writer is None and not node.ready.is_set():
            return                                # already handled (socket closed first)
        node.ready.clear()
        if self.table.state(node.node) is NodeState.UP:
            self.table.set_state(node.node, NodeState.RESTARTING)
        if node.writer is not None:
            node.writer.close()
            node.writer = None
        node.fail_pending()
        self._on_lost(node.node, reason)

    async def _on_connect(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        node: Node | None = None
        try:
            async with asyncio.timeout(10):
                hello = await receive(reader)
            if not isinstance(hello, Hello) or hello.node not in self.nodes:
                return
            node = self.nodes[hello.node]
            node.writer = writer
            # the camera list and ``ready`` in one step: a camera added from now on is
            # sent after this list, one added before is in it
            writer.write(encode(Call(next(self._ids), Op.SYNC,
                                     (list(node.cameras.values()),))))
            node.ready.set()
            node.up_since = time.monotonic()
            was = self.table.state(node.node)
            self.table.set_state(node.node, NodeState.UP, node.up_since)
            log.info("%s ready (pid %d, %d cameras)", node.node, hello.pid, len(node.cameras))
            if was is NodeState.DOWN and self._on_up is not None:
                self._on_up(node.node)
            while True:
                message = await receive(reader)
                if isinstance(message, Heartbeat):
                    if node.writer is writer and message.node == node.node:
                        self.table.beat(message)
                    continue
                self._on_message(node, message)
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        except WireError as exc:            # our own process: a bug, not an attack
            log.error("media process sent a bad frame: %s", exc.message)
        finally:
            writer.close()
            if node is not None and node.writer is writer:
                self._lost(node, CloseReason.PROCESS_LOST)

    def _on_message(self, node: Node, message: object) -> None:
        if isinstance(message, Reply):
            future = node.pending.pop(message.id, None)
            if future is None or future.done():
                return
            if message.error is not None:
                e = message.error
                future.set_exception(WhepError(e.status, e.code, e.message, e.retry_after_s))
            else:
                future.set_result(message.value)
        elif isinstance(message, SessionClosed):
            self._on_closed(message)
        elif isinstance(message, LogLine):
            _relog(message)
        elif isinstance(message, TapFrame | TapEnded) and self._on_tap is not None:
            self._on_tap(message)

    async def call(self, node_id: str, op: Op, *args: object) -> Any:
        """``op`` on one process; raises WhepError (503 while it restarts, or its refusal)."""
        node = self.nodes[node_id]
        if not node.ready.is_set() or node.writer is None:
            raise restarting(node_id)
        call = Call(next(self._ids), op, args)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        node.pending[call.id] = future
        try:
            await send(node.writer, call)
            async with asyncio.timeout(CALL_TIMEOUT_S):   # not wait_for: see taps/router.py
                return await asyncio.shield(future)
        except (TimeoutError, ConnectionError):
            log.warning("%s: no answer to %s within %.0f s", node_id, op.value, CALL_TIMEOUT_S)
            raise WhepError(503, "media_busy", f"{node_id} does not answer; try again "
                            "/ máy chủ video bận", RESTART_RETRY_AFTER_S) from None
        finally:
            node.pending.pop(call.id, None)

    def notify(self, node_id: str, op: Op, *args: object) -> bool:
        """Send ``op`` to a ready process without waiting for its answer (the process logs
        a failure). Written at once, so it arrives before anything sent after it. False
        when the process is not ready: it gets ``Node.cameras`` when it connects."""
        node = self.nodes[node_id]
        if not node.ready.is_set() or node.writer is None:
            return False
        node.writer.write(encode(Call(next(self._ids), op, args)))
        return True

    async def each(self, op: Op) -> list[Any]:
        """``op`` on every ready process; a process that is down answers nothing."""
        ready = [n for n, v in self.nodes.items() if v.ready.is_set()]
        results = await asyncio.gather(*(self.call(n, op) for n in ready),
                                       return_exceptions=True)
        return [r for r in results if not isinstance(r, BaseException)]
