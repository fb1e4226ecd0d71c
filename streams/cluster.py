"""MediaCluster: the web process's face of several media processes (one per core).

Signalling still enters through the one web app; MediaCluster answers the same
questions as an in-process MediaServer (cameras, WHEP offer/delete, snapshot,
health, metrics, add/update/remove of cameras, the analytics tap) by forwarding
each to the media process that owns the camera (``placement.assign`` at start,
``placement.place`` for a camera added later; a placed camera never moves).
Admission limits are counted here, across processes; each process runs its own
aiortc peers. ``camera()``/``cameras()`` answer at once, as MediaServer's do,
from statuses the processes report every ``POLL_S``.

``Supervisor`` (streams/supervisor.py) runs the processes and restarts one that dies.
Its viewers' sessions end (``PROCESS_LOST``): each viewer's ICE fails and it
reconnects, which lands on the restarted process (the same node id, so the same cameras). While it
restarts, offers for its cameras get 503 with a short Retry-After. A process that stops
sending heartbeats is killed and restarted the same way (its sessions end ``node_hung``),
one over ``node_memory_mb`` too (``node_memory``). A node that keeps failing to start is
down: its cameras move to the other nodes (``placement.fail_over``), and offers for them go
to their new owner. When it is back it takes new cameras only: the moved ones may be
playing and stay where they are.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable

from iocwall.analytics.messages import FrameHeader, ZoneSpec
from iocwall.streams import metrics, placement
from iocwall.streams.contract import MediaService
from iocwall.streams.health import HealthSnapshot, StreamState
from iocwall.streams.leadership import Leadership
from iocwall.streams.limits import Admission, CloseReason, SessionLimits, WhepError, check_offer
from iocwall.streams.nodes import NodeState, NodeTable
from iocwall.streams.nodes import metrics_text as node_metrics
from iocwall.streams.replay.model import ReplayClip, ReplayRange
from iocwall.streams.server import (
    REMOVED,
    STREAMS,
    Camera,
    CameraLike,
    CameraStatus,
    MediaError,
    MediaServer,
    Snapshot,
)
from iocwall.streams.settings import StreamSettings
from iocwall.streams.supervisor import Node, Supervisor, restarting
from iocwall.streams.taps.remote import ClusterTaps
from iocwall.streams.taps.tap import TapOptions
from iocwall.streams.watchdog import Watchdog
from iocwall.streams.wire import NodeStatus, Op, SessionRef

log = logging.getLogger(__name__)

POLL_S = 0.5                  # how often camera statuses are fetched from the processes
# the sessions this process ends itself when a media process dies or is killed
_LOST = (CloseReason.PROCESS_LOST, CloseReason.NODE_HUNG, CloseReason.NODE_MEMORY)


def process_count(configured: int) -> int:
    """``[streams] processes``: 0 = one per core this process may run on (a container's
    or taskset's CPU set, not the host's count)."""
    if configured > 0:
        return configured
    affinity = getattr(os, "sched_getaffinity", None)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


class MediaCluster:
    """Same public face as MediaServer, backed by ``processes`` media processes."""

    def __init__(self, settings: StreamSettings, cameras: Iterable[CameraLike], processes: int,
                 *, log_level: int = logging.INFO) -> None:
        """settings: the media settings, handed to each process as they are (bar the viewer
        limits, counted here); processes: how many (``process_count`` resolves 0)."""
        listed = [c if isinstance(c, Camera) else Camera.from_config(c) for c in cameras]
        self._cameras: dict[str, Camera] = {c.id: c for c in listed}   # with credentials
        split = placement.assign(self._cameras, placement.node_ids(processes))
        self._owner = {cam: node for node, cams in split.items() for cam in cams}
        self._removed: set[str] = set()      # ids removed at run time: answered 410
        self._status: dict[str, CameraStatus] = {}
        self._node_counters: dict[str, metrics.NodeCounters] = {}   # from the status poll
        self._poller: asyncio.Task[None] | None = None
        self.settings = settings
        # limits are counted here, across processes; the processes themselves admit all
        per_process = dataclasses.replace(settings, max_sessions=0, max_sessions_per_user=0,
                                          max_sessions_per_camera=0)
        self.limits = SessionLimits.from_settings(settings)
        self.admission = Admission(self.limits)
        self._sessions: dict[str, SessionRef] = {}
        self.closed: Counter[CloseReason] = Counter()
        self._refused = 0
        self._procs = Supervisor(
            {n: [self._cameras[c] for c in cams] for n, cams in split.items()},
            per_process, log_level,
            on_closed=lambda m: self._forget(m.session_id, m.reason), on_lost=self._lost,
            on_tap=lambda m: self._taps.on_message(m), on_down=self._fail_over,
            on_up=self._back,
            node_timeout_s=settings.node_timeout_s,
            memory_limit_bytes=settings.node_memory_mb << 20)
        self._taps = ClusterTaps(self._procs.call, self._procs.notify)

    @property
    def nodes(self) -> dict[str, Node]:
        return self._procs.nodes

    # -- lifecycle -------------------------------------------------------------------------
    def follow_leader(self, leadership: Leadership) -> None:
        """Nothing to follow: this process places its cameras alone (contract.py)."""
    async def start(self) -> None:
        await self._procs.start()
        await self._poll()
        self._poller = asyncio.create_task(self._keep_polling(), name="media-status")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.gather(self._poller, return_exceptions=True)
            self._poller = None
        await self._procs.stop()
        for ref in list(self._sessions.values()):
            self._forget(ref.id, CloseReason.SERVER_STOP)

    @property
    def node_table(self) -> NodeTable:
        return self._procs.table

    @property
    def watchdog(self) -> Watchdog:
        return self._procs.watchdog

    async def media_nodes(self) -> list[dict[str, object]]:
        """Each media node: state and its newest heartbeat's figures (the media API)."""
        return self.node_states()

    async def node_settings(self, node: str) -> StreamSettings:
        """The settings a media process runs with (as it received them at start)."""
        return await self._procs.call(node, Op.SETTINGS)  # type: ignore[no-any-return]

    def node_states(self) -> list[dict[str, object]]:
        return self._procs.table.to_json()

    def _lost(self, node: str, reason: CloseReason) -> None:
        """A media process died or was killed: its viewers' sessions and taps are gone."""
        self._taps.lost(node, restarting(node))
        for ref in [r for r in self._sessions.values() if r.node == node]:
            self._forget(ref.id, reason)

    def _placeable(self) -> list[str]:
        """Nodes a camera may go to: those not down (all of them when every one is)."""
        table = self._procs.table
        ok = [n for n in self._procs.nodes if table.state(n) is not NodeState.DOWN]
        return ok or list(self._procs.nodes)

    def _fail_over(self, down: str) -> None:
        """``down`` kept failing to start: its cameras go to the nodes that are not down
        (rendezvous with the load bound; the others' cameras stay). With no other node
        there is nowhere to go: it keeps its cameras and keeps being restarted."""
        survivors = [n for n in self._placeable() if n != down]
        moving = self._procs.nodes[down].cameras
        if not survivors:
            log.error("%s down and no other media node is up: its %d cameras wait for it",
                      down, len(moving))
            return
        load = {n: len(self._procs.nodes[n].cameras) for n in survivors}
        for camera_id, target in placement.fail_over(moving, load).items():
            camera = moving.pop(camera_id)
            self._owner[camera_id] = target
            self._procs.nodes[target].cameras[camera_id] = camera
            self._procs.notify(target, Op.ADD, camera)   # not ready: it gets it on connect
            log.warning("camera %s moved from %s (down) to %s", camera_id, down, target)

    def _back(self, node: str) -> None:
        """A node that was down is up again: it takes new cameras (the moved ones may be
        playing, so they stay), and those of any node still down that had nowhere to go."""
        log.info("%s is back up: it takes cameras added from now on", node)
        table = self._procs.table
        for other, info in self._procs.nodes.items():
            if other != node and info.cameras and table.state(other) is NodeState.DOWN:
                self._fail_over(other)

    def _forget(self, session_id: str, reason: CloseReason) -> None:
        ref = self._sessions.pop(session_id, None)
        if ref is None:
            return
        self.closed[reason] += 1
        self.admission.remove(ref.user, ref.camera)
        if reason in _LOST:
            log.info("closed viewer session %s (%s/%s, user %s): %s", ref.id, ref.camera,
                     ref.stream, ref.user or "-", reason.value)
    # (the media process logs every other close itself)

    # -- cameras (the registry drives these through MediaSync) ------------------------------
    async def add_camera(self, camera: Camera) -> None:
        self.add(camera)

    def add(self, camera: Camera) -> None:
        """Place a new camera (it never moves afterwards) and hand it to its process; the
        process gets it before any later request for it (one ordered socket)."""
        if camera.id in self._cameras:
            raise ValueError(f"duplicate camera id '{camera.id}'")
        load = {n: len(self._procs.nodes[n].cameras) for n in self._placeable()}
        node = placement.place(camera.id, load)
        self._cameras[camera.id] = camera
        self._owner[camera.id] = node
        self._removed.discard(camera.id)
        self._procs.nodes[node].cameras[camera.id] = camera
        self._procs.notify(node, Op.ADD, camera)     # not ready: it gets it on connect
        log.info("camera %s placed on %s", camera.id, node)

    async def update_camera(self, camera: Camera) -> None:
        """An edited camera: a changed URL or credential reconnects it under its viewers."""
        node = self._owner.get(camera.id)
        if node is None:
            self.add(camera)
            return
        self._cameras[camera.id] = camera
        self._procs.nodes[node].cameras[camera.id] = camera
        with contextlib.suppress(WhepError):         # restarting: it gets it on connect
            await self._procs.call(node, Op.UPDATE, camera)

    async def remove_camera(self, camera_id: str) -> bool:
        """Forget a camera: its viewers get a "removed" event and are closed
        (``camera_removed``); later requests for it are answered 410 "removed"."""
        node = self._owner.pop(camera_id, None)
        if node is None:
            return False
        del self._cameras[camera_id]
        self._status.pop(camera_id, None)
        self._removed.add(camera_id)
        self._procs.nodes[node].cameras.pop(camera_id, None)
        with contextlib.suppress(WhepError):         # restarting: its viewers are gone anyway
            await self._procs.call(node, Op.REMOVE, camera_id)
        return True

    # -- the MediaService face (streams/contract.py) ---------------------------------------
    async def check_camera(self, camera_id: str) -> None:
        self.owner(camera_id)
        raise MediaError(404, "not_found", f"no camera '{camera_id}' / không có camera này")

    def owner(self, camera_id: str) -> str:
        node = self._owner.get(camera_id)
        if node is None:
            if camera_id in self._removed:
                raise MediaError(410, REMOVED, f"camera '{camera_id}' was removed from the "
                                 "registry / camera đã bị xoá khỏi danh sách")
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
            ref, answer = await self._procs.call(node, Op.OFFER, camera_id, stream, sdp, user)
        except BaseException:
            self.admission.remove(user, camera_id)
            raise
        ref = dataclasses.replace(ref, node=node, user=user)
        self._sessions[ref.id] = ref
        return ref, answer

    async def session_refs(self) -> list[SessionRef]:
        return list(self._sessions.values())

    async def find_session(self, session_id: str) -> SessionRef | None:
        return self._sessions.get(session_id)

    async def whep_delete(self, session_id: str) -> bool:
        ref = self._sessions.get(session_id)
        if ref is None:
            return False
        return bool(await self._procs.call(ref.node, Op.DELETE, session_id))

    async def cameras(self) -> list[CameraStatus]:
        return self.known_cameras()

    def known_cameras(self) -> list[CameraStatus]:
        return [self._status_of(c) for c in self._cameras.values()]

    async def camera(self, camera_id: str) -> CameraStatus | None:
        return self.status(camera_id)

    def status(self, camera_id: str) -> CameraStatus | None:
        cam = self._cameras.get(camera_id)
        return self._status_of(cam) if cam is not None else None

    def _status_of(self, cam: Camera) -> CameraStatus:
        node = self._procs.nodes[self._owner[cam.id]]
        if not node.ready.is_set():
            return _down(cam, "media process restarting")
        found = self._status.get(cam.id)
        if found is None or found.name != cam.name or found.location != cam.location \
                or set(found.streams) != set(cam.urls):
            return _down(cam, "", StreamState.IDLE)   # just added or edited: next poll tells
        return found

    async def refresh(self) -> None:
        """Ask every process for its streams now (an API answer must not lag a poll)."""
        await self._poll()

    async def _poll(self) -> None:
        parts: list[NodeStatus] = await self._procs.each(Op.CAMERAS)
        self._status = {c.id: c for part in parts for c in part.cameras if c.id in self._cameras}
        # a restarting process keeps its last figures until it answers again
        self._node_counters.update({part.node: part.counters for part in parts})

    async def _keep_polling(self) -> None:
        while True:
            await asyncio.sleep(POLL_S)
            try:
                await self._poll()
            except Exception:              # one bad answer must not stop the statuses
                log.exception("media status poll failed")

    async def tap(self, camera_id: str, stream: str, zones: list[ZoneSpec],
                  options: TapOptions, sink: Callable[[FrameHeader, bytes], None]) -> None:
        """Run the analytics tap of a camera in the process that owns it; its frames come
        back to ``sink`` (TapRouter.offer) here. Returns when the tap's stream ends; raises
        when it fails or the process restarts; cancel it to stop the tap."""
        await self._taps.run(self.owner(camera_id), camera_id, stream, zones, options, sink)

    async def snapshot(self, camera_id: str, stream: str = "main") -> Snapshot:
        return await self._procs.call(self.owner(camera_id), Op.SNAPSHOT,  # type: ignore[no-any-return]
                                camera_id, stream)

    async def replay_ranges(self, camera_id: str) -> dict[str, ReplayRange]:
        """Asked of the camera's owner: its buffers follow it when it moves."""
        return await self._procs.call(self.owner(camera_id), Op.REPLAY_RANGES,  # type: ignore[no-any-return]
                                      camera_id)

    async def replay_clip(self, camera_id: str, stream: str, start: float,
                          duration: float) -> ReplayClip:
        return await self._procs.call(self.owner(camera_id), Op.REPLAY_CLIP,  # type: ignore[no-any-return]
                                      camera_id, stream, start, duration)

    async def health(self) -> list[HealthSnapshot]:
        return [h for part in await self._procs.each(Op.HEALTH) for h in part]

    async def metrics_text(self) -> str:
        parts: list[metrics.ServerCounters] = await self._procs.each(Op.COUNTERS)
        lost = {r.value: n for r, n in self.closed.items() if r in _LOST}
        total = metrics.summed(parts, sessions=len(self._sessions), refused=self._refused,
                               closed=lost)
        return (metrics.render(await self.health(), total)
                + metrics.render_nodes(self._node_counters) + node_metrics(self._procs.table))


def _down(cam: Camera, why: str, state: StreamState = StreamState.LOST) -> CameraStatus:
    """A camera whose process is restarting (shown as lost, not hidden), or one whose
    status has not been fetched yet (idle)."""
    return CameraStatus(cam.id, cam.name, cam.location,
                        {s: HealthSnapshot(cam.id, s, state, 0.0, 0.0, None, 0, 0,
                                           0, 0, 0, 0, "", 0, 0, False, why)
                         for s in STREAMS if s in cam.urls})


# mypy checks both implementations against the contract here (a missing or mistyped
# method is a type error), so the web side can hold either as a MediaService.
_IN_PROCESS: type[MediaService] = MediaServer
_PROCESSES: type[MediaService] = MediaCluster
