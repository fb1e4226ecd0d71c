"""MediaCluster: the web process's face of several media processes (one per core).

Signalling still enters through the one web app; MediaCluster answers the same
questions as an in-process MediaServer (cameras, WHEP offer/delete, snapshot,
health, metrics) by forwarding each to the media process that owns the camera
(``placement.owner``: rendezvous hashing over the node ids). Admission limits
are counted here, across processes; each process runs its own aiortc peers.

A supervisor restarts a media process that dies. Its viewers' sessions end
(``PROCESS_LOST``): each viewer's ICE fails and it reconnects, which lands on
the restarted process (the same node id, so the same cameras). While it
restarts, offers for its cameras get 503 with a short Retry-After.
"""
from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import multiprocessing
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from iocwall.streams import metrics, placement, worker
from iocwall.streams.health import HealthSnapshot, StreamState
from iocwall.streams.limits import Admission, CloseReason, SessionLimits, WhepError, check_offer
from iocwall.streams.server import STREAMS, CameraLike, CameraStatus, Snapshot
from iocwall.streams.wire import (
    Call,
    Hello,
    Op,
    Reply,
    SessionClosed,
    SessionRef,
    WorkerSettings,
    receive,
    send,
)

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0          # a spawned process imports aiortc/av before it says hello
CALL_TIMEOUT_S = 30.0
RESTART_MIN_S, RESTART_MAX_S = 0.5, 10.0
RESTART_RETRY_AFTER_S = 2
_STREAM_KEYS = ("linger_s", "stall_timeout_s", "lost_timeout_s", "open_timeout_s",
                "reconnect_min_s", "reconnect_max_s", "snapshot_cache_s", "ingest")
_WEBRTC_KEYS = ("ice_addresses", "udp_port_min", "udp_port_max")
_CAMERA_KEYS = ("id", "name", "main_url", "sub_url", "username", "password", "location")


def process_count(configured: int) -> int:
    """``[streams] processes``: 0 = one per core."""
    return configured if configured > 0 else (os.cpu_count() or 1)


class _Node:
    """One media process as the web process sees it."""

    def __init__(self, node: str, cameras: list[dict[str, Any]]) -> None:
        self.node, self.cameras = node, cameras
        self.process: Any = None                 # multiprocessing.Process (spawn)
        self.writer: asyncio.StreamWriter | None = None
        self.ready = asyncio.Event()
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.restarts = 0
        self.down_since = 0.0

    def fail_pending(self) -> None:
        for future in self.pending.values():
            if not future.done():
                future.set_exception(WhepError(503, "media_restarting",
                                               f"{self.node} stopped; try again",
                                               RESTART_RETRY_AFTER_S))
        self.pending.clear()


class MediaCluster:
    """Same public face as MediaServer, backed by ``processes`` media processes."""

    def __init__(self, streams_cfg: object, webrtc_cfg: object, cameras: Iterable[CameraLike],
                 processes: int, *, log_level: int = logging.INFO) -> None:
        self._cameras = [{k: getattr(c, k, "") for k in _CAMERA_KEYS} for c in cameras]
        split = placement.assign([c["id"] for c in self._cameras],
                                 placement.node_ids(processes))
        self._owner = {cam: node for node, cams in split.items() for cam in cams}
        # limits are counted here, across processes; the processes themselves admit all
        streams = {k: getattr(streams_cfg, k) for k in _STREAM_KEYS if hasattr(streams_cfg, k)}
        self._streams = {**streams, "max_sessions": 0, "max_sessions_per_user": 0,
                         "max_sessions_per_camera": 0}
        self._webrtc = {k: getattr(webrtc_cfg, k) for k in _WEBRTC_KEYS if hasattr(webrtc_cfg, k)}
        self.limits = SessionLimits.from_config(streams_cfg)
        self.admission = Admission(self.limits)
        self._log_level = log_level
        self.nodes = {n: _Node(n, [c for c in self._cameras if self._owner[c["id"]] == n])
                      for n in placement.node_ids(processes)}
        self._sessions: dict[str, SessionRef] = {}
        self.closed: Counter[CloseReason] = Counter()
        self._refused = 0
        self._ids = itertools.count(1)
        self._dir = ""
        self._server: asyncio.AbstractServer | None = None
        self._supervisor: asyncio.Task | None = None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="iocwall-media-")
        os.chmod(self._dir, 0o700)
        self._server = await asyncio.start_unix_server(
            self._on_connect, os.path.join(self._dir, "media.sock"))
        for node in self.nodes.values():
            self._spawn(node)
        try:
            await asyncio.wait_for(asyncio.gather(*(n.ready.wait() for n in self.nodes.values())),
                                   START_TIMEOUT_S)
        except BaseException:
            await self.stop()
            raise
        log.info("media processes up: %s", {n: len(v.cameras) for n, v in self.nodes.items()})
        self._supervisor = asyncio.create_task(self._supervise(), name="media-supervisor")

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
            self._supervisor = None
        for node in self.nodes.values():
            if node.writer is not None:
                node.writer.close()           # the process sees EOF, stops its media, exits
        await asyncio.gather(*(self._reap(n, 15.0) for n in self.nodes.values()))
        for ref in list(self._sessions.values()):
            self._forget(ref.id, CloseReason.SERVER_STOP)
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = ""

    def _spawn(self, node: _Node) -> None:
        settings = WorkerSettings(node.node, os.path.join(self._dir, "media.sock"),
                                  self._streams, self._webrtc, node.cameras, self._log_level)
        ctx = multiprocessing.get_context("spawn")
        node.process = ctx.Process(target=worker.main, args=(settings,), name=node.node,
                                   daemon=True)
        node.process.start()

    async def _reap(self, node: _Node, wait_s: float) -> None:
        process = node.process
        if process is None:
            return
        await asyncio.to_thread(process.join, wait_s)
        if process.is_alive():
            process.kill()
            await asyncio.to_thread(process.join, 5)
        node.process = None

    async def _supervise(self) -> None:
        """Restart media processes that died, with a growing delay."""
        while True:
            await asyncio.sleep(0.25)
            for node in self.nodes.values():
                if node.process is not None and node.process.is_alive():
                    continue
                await self._restart(node)

    async def _restart(self, node: _Node) -> None:
        code = node.process.exitcode if node.process is not None else None
        self._lost(node)
        await self._reap(node, 1.0)
        delay = min(RESTART_MAX_S, RESTART_MIN_S * 2 ** min(node.restarts, 5))
        if time.monotonic() - node.down_since > 60:
            delay = RESTART_MIN_S                 # it ran a good while: not a crash loop
        log.warning("%s died (exit %s): restarting in %.1f s", node.node, code, delay)
        node.restarts += 1
        await asyncio.sleep(delay)
        self._spawn(node)

    def _lost(self, node: _Node) -> None:
        """Everything that ran on ``node`` is gone."""
        node.ready.clear()
        if node.writer is not None:
            node.writer.close()
            node.writer = None
        node.fail_pending()
        node.down_since = time.monotonic()
        for ref in [r for r in self._sessions.values() if r.node == node.node]:
            self._forget(ref.id, CloseReason.PROCESS_LOST)

    # -- the socket ------------------------------------------------------------------------
    async def _on_connect(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        node: _Node | None = None
        try:
            hello = await asyncio.wait_for(receive(reader), 10)
            if not isinstance(hello, Hello) or hello.node not in self.nodes:
                return
            node = self.nodes[hello.node]
            node.writer = writer
            node.ready.set()
            log.info("%s ready (pid %d, %d cameras)", node.node, hello.pid, len(node.cameras))
            while True:
                self._on_message(node, await receive(reader))
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            if node is not None and node.writer is writer:
                self._lost(node)

    def _on_message(self, node: _Node, message: object) -> None:
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
            self._forget(message.session_id, message.reason)

    async def _call(self, node_id: str, op: Op, *args: object) -> Any:
        node = self.nodes[node_id]
        if not node.ready.is_set() or node.writer is None:
            raise WhepError(503, "media_restarting", f"{node_id} is restarting; try again "
                            "/ đang khởi động lại", RESTART_RETRY_AFTER_S)
        call = Call(next(self._ids), op, args)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        node.pending[call.id] = future
        try:
            await send(node.writer, call)
            return await asyncio.wait_for(asyncio.shield(future), CALL_TIMEOUT_S)
        finally:
            node.pending.pop(call.id, None)

    async def _each(self, op: Op) -> list[Any]:
        """``op`` on every ready process; a process down answers nothing."""
        ready = [n for n, v in self.nodes.items() if v.ready.is_set()]
        results = await asyncio.gather(*(self._call(n, op) for n in ready),
                                       return_exceptions=True)
        return [r for r in results if not isinstance(r, BaseException)]

    def _forget(self, session_id: str, reason: CloseReason) -> None:
        ref = self._sessions.pop(session_id, None)
        if ref is None:
            return
        self.closed[reason] += 1
        self.admission.remove(ref.user, ref.camera)
        if reason is CloseReason.PROCESS_LOST:
            log.info("closed viewer session %s (%s/%s, user %s): %s", ref.id, ref.camera,
                     ref.stream, ref.user or "-", reason.value)
    # (the media process logs every other close itself)

    # -- the MediaServer face --------------------------------------------------------------
    def owner(self, camera_id: str) -> str:
        node = self._owner.get(camera_id)
        if node is None:
            raise WhepError(404, "not_found", f"no camera '{camera_id}' / không có camera này")
        return node

    async def whep_offer(self, camera_id: str, stream: str, sdp: str,
                         user: str = "") -> tuple[SessionRef, str]:
        node = self.owner(camera_id)
        if stream not in STREAMS:
            raise WhepError(404, "not_found", f"unknown stream '{stream}': main or sub")
        check_offer(sdp)
        try:
            self.admission.check(user, camera_id)
        except WhepError as exc:
            self._refused += 1
            log.warning("%s/%s: viewer of user %s refused (overload): %s", camera_id, stream,
                        user or "-", exc.message)
            raise
        self.admission.add(user, camera_id)
        try:
            ref, answer = await self._call(node, Op.OFFER, camera_id, stream, sdp, user)
        except BaseException:
            self.admission.remove(user, camera_id)
            raise
        ref = dataclasses.replace(ref, node=node, user=user)
        self._sessions[ref.id] = ref
        return ref, answer

    def session_refs(self) -> list[SessionRef]:
        return list(self._sessions.values())

    async def find_session(self, session_id: str) -> SessionRef | None:
        return self._sessions.get(session_id)

    async def whep_delete(self, session_id: str) -> bool:
        ref = self._sessions.get(session_id)
        if ref is None:
            return False
        return bool(await self._call(ref.node, Op.DELETE, session_id))

    async def cameras(self) -> list[CameraStatus]:
        found = {c.id: c for part in await self._each(Op.CAMERAS) for c in part}
        return [found.get(c["id"]) or _down(c) for c in self._cameras]

    async def camera(self, camera_id: str) -> CameraStatus | None:
        node = self._owner.get(camera_id)
        if node is None:
            return None
        try:
            return await self._call(node, Op.CAMERA, camera_id)  # type: ignore[no-any-return]
        except WhepError:
            return _down(next(c for c in self._cameras if c["id"] == camera_id))

    async def snapshot(self, camera_id: str, stream: str = "main") -> Snapshot:
        return await self._call(self.owner(camera_id), Op.SNAPSHOT,  # type: ignore[no-any-return]
                                camera_id, stream)

    async def health(self) -> list[HealthSnapshot]:
        return [h for part in await self._each(Op.HEALTH) for h in part]

    async def metrics_text(self) -> str:
        parts: list[metrics.ServerCounters] = await self._each(Op.COUNTERS)
        closed: Counter[str] = Counter({r.value: n for r, n in self.closed.items()
                                        if r is CloseReason.PROCESS_LOST})
        for part in parts:
            closed.update(part.sessions_closed)
        total = metrics.ServerCounters(
            sessions=len(self._sessions),
            sessions_total=sum(p.sessions_total for p in parts),
            sessions_refused=self._refused + sum(p.sessions_refused for p in parts),
            transcode_sessions_total=sum(p.transcode_sessions_total for p in parts),
            keyframe_requests_total=sum(p.keyframe_requests_total for p in parts),
            sessions_closed={r.value: closed[r.value] for r in CloseReason},
            late_drops_total=sum(p.late_drops_total for p in parts),
            paced_packets_total=sum(p.paced_packets_total for p in parts))
        return metrics.render(await self.health(), total)


def _down(cam: dict[str, Any]) -> CameraStatus:
    """A camera whose media process is restarting: shown as lost, not hidden."""
    streams = [s for s in STREAMS if cam.get(f"{s}_url")]
    return CameraStatus(cam["id"], cam["name"], cam.get("location", ""),
                        {s: HealthSnapshot(cam["id"], s, StreamState.LOST, 0.0, 0.0, None, 0, 0,
                                           0, 0, 0, 0, "", 0, 0, False,
                                           "media process restarting")
                         for s in streams})
