"""MediaCluster: the web process's face of several media processes (one per core).

Signalling still enters through the one web app; MediaCluster answers the same
questions as an in-process MediaServer (cameras, WHEP offer/delete, snapshot,
health, metrics) by forwarding each to the media process that owns the camera
(``placement.assign``: rendezvous hashing with a load bound). Admission limits
are counted here, across processes; each process runs its own aiortc peers.

``Supervisor`` (streams/supervisor.py) runs the processes and restarts one that dies.
Its viewers' sessions end (``PROCESS_LOST``): each viewer's ICE fails and it reconnects, which lands on
the restarted process (the same node id, so the same cameras). While it
restarts, offers for its cameras get 503 with a short Retry-After.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from collections import Counter
from collections.abc import Iterable
from typing import Any

from iocwall.streams import metrics, placement
from iocwall.streams.health import HealthSnapshot, StreamState
from iocwall.streams.limits import Admission, CloseReason, SessionLimits, WhepError, check_offer
from iocwall.streams.server import STREAMS, CameraLike, CameraStatus, Snapshot
from iocwall.streams.supervisor import Node, Supervisor
from iocwall.streams.wire import Op, SessionRef

log = logging.getLogger(__name__)

_STREAM_KEYS = ("linger_s", "stall_timeout_s", "lost_timeout_s", "open_timeout_s",
                "reconnect_min_s", "reconnect_max_s", "snapshot_cache_s", "ingest")
_WEBRTC_KEYS = ("ice_addresses", "udp_port_min", "udp_port_max")
_CAMERA_KEYS = ("id", "name", "main_url", "sub_url", "username", "password", "location")


def process_count(configured: int) -> int:
    """``[streams] processes``: 0 = one per core."""
    return configured if configured > 0 else (os.cpu_count() or 1)


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
        self._sessions: dict[str, SessionRef] = {}
        self.closed: Counter[CloseReason] = Counter()
        self._refused = 0
        self._procs = Supervisor(
            {n: [c for c in self._cameras if self._owner[c["id"]] == n] for n in split},
            self._streams, self._webrtc, log_level,
            on_closed=lambda m: self._forget(m.session_id, m.reason), on_lost=self._lost)

    @property
    def nodes(self) -> dict[str, Node]:
        return self._procs.nodes

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        await self._procs.start()

    async def stop(self) -> None:
        await self._procs.stop()
        for ref in list(self._sessions.values()):
            self._forget(ref.id, CloseReason.SERVER_STOP)

    def _lost(self, node: str) -> None:
        """A media process died: its viewers' sessions are gone with it."""
        for ref in [r for r in self._sessions.values() if r.node == node]:
            self._forget(ref.id, CloseReason.PROCESS_LOST)

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
            ref, answer = await self._procs.call(node, Op.OFFER, camera_id, stream, sdp, user)
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
        return bool(await self._procs.call(ref.node, Op.DELETE, session_id))

    async def cameras(self) -> list[CameraStatus]:
        found = {c.id: c for part in await self._procs.each(Op.CAMERAS) for c in part}
        return [found.get(c["id"]) or _down(c) for c in self._cameras]

    async def camera(self, camera_id: str) -> CameraStatus | None:
        node = self._owner.get(camera_id)
        if node is None:
            return None
        try:
            return await self._procs.call(node, Op.CAMERA, camera_id)  # type: ignore[no-any-return]
        except WhepError:
            return _down(next(c for c in self._cameras if c["id"] == camera_id))

    async def snapshot(self, camera_id: str, stream: str = "main") -> Snapshot:
        return await self._procs.call(self.owner(camera_id), Op.SNAPSHOT,  # type: ignore[no-any-return]
                                camera_id, stream)

    async def health(self) -> list[HealthSnapshot]:
        return [h for part in await self._procs.each(Op.HEALTH) for h in part]

    async def metrics_text(self) -> str:
        parts: list[metrics.ServerCounters] = await self._procs.each(Op.COUNTERS)
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
