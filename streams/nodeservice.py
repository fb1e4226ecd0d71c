"""NodeMediaService: a controller's face of media nodes on other machines.

It implements ``contract.MediaService`` (mypy checks it at the bottom), so the web side
holds it as it holds a MediaServer or a MediaCluster. Three jobs:

- **Who is alive.** Node announcements from Redis (streams/announce.py) feed
  ``NodeTable.beat``. A node silent for ``node_timeout_s`` is dropped (state ``down``);
  while Redis itself is unreachable nobody is dropped (the table is frozen), and when it
  answers again every node gets a fresh ``node_timeout_s`` to be heard.
- **Forwarding.** Each live node gets one ``NodeLink`` (TLS + shared secret). Offers,
  deletes, snapshots, statuses, replay and taps go to the camera's owner: on the leader
  its own placement, elsewhere the node whose heartbeat says it serves the camera.
  Session ids are ``<node>.<id>``, so any controller finds the node of any session.
- **Placement, on the leader only** (``follow_leader``). Cameras a live node already
  serves stay there; the others (new, or on a node that died) go where
  ``placement.fail_over`` puts them over the live nodes (rendezvous, load-bounded).
  Each node is sent ``SYNC`` when first reached or when the epoch changed, then
  ``ADD``/``REMOVE``; every one carries the leader's epoch, and a node refuses an older
  one (streams/leadership.py ``Fence``).
Camera URLs carry credentials: they go only to a node that proved the secret, over TLS,
and are never logged (``Camera.__repr__`` hides them).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from iocwall.analytics.messages import FrameHeader, ZoneSpec
from iocwall.streams import metrics, placement
from iocwall.streams.announce import Listener
from iocwall.streams.cluster import _down
from iocwall.streams.contract import MediaService
from iocwall.streams.health import HealthSnapshot
from iocwall.streams.leadership import Leadership, SoleLeader
from iocwall.streams.netwire import NodeAnnouncement
from iocwall.streams.nodelink import NodeLink
from iocwall.streams.nodes import NodeState, NodeTable
from iocwall.streams.nodes import metrics_text as node_metrics
from iocwall.streams.replay.model import ReplayClip, ReplayRange
from iocwall.streams.server import REMOVED, STREAMS, Camera, CameraStatus, MediaError, Snapshot
from iocwall.streams.settings import StreamSettings
from iocwall.streams.taps.remote import ClusterTaps
from iocwall.streams.taps.tap import TapOptions
from iocwall.streams.wire import NodeStatus, Op, SessionClosed, SessionRef, TapEnded, TapFrame

log = logging.getLogger(__name__)
TICK_S = 0.25
POLL_S = 0.5
MOVING_RETRY_S = 1


class NodeMediaService:
    def __init__(self, settings: StreamSettings, *, redis_url: str, prefix: str,
                 secret: bytes, ca_file: str) -> None:
        """settings: [streams] as this controller has them (node_timeout_s: when a silent
        node is dropped); redis_url/prefix: the bus the nodes announce on; secret: the
        shared cluster secret; ca_file: what the nodes' certificates are checked against."""
        self.settings = settings
        self.table = NodeTable(settings.node_timeout_s)
        self._listener = Listener(redis_url, prefix, self._announced)
        self._listener.on_bus_back = self._thaw
        self._secret, self._ca = secret, ca_file
        self._ann: dict[str, NodeAnnouncement] = {}
        self._links: dict[str, NodeLink] = {}
        self._connecting: set[str] = set()
        self._cameras: dict[str, Camera] = {}
        self._removed: set[str] = set()
        self._assign: dict[str, str] = {}           # the leader's placement: camera -> node
        self._term = 0                              # the epoch _assign was made under
        self._status: dict[str, CameraStatus] = {}
        self._node_counters: dict[str, metrics.NodeCounters] = {}
        self._leadership: Leadership = SoleLeader()
        self._taps = ClusterTaps(self.call, self.notify)
        self._tasks: list[asyncio.Task[None]] = []
        self._spawned: set[asyncio.Task[None]] = set()
        self.closed: Counter[str] = Counter()

    # -- lifecycle -------------------------------------------------------------------------
    def follow_leader(self, leadership: Leadership) -> None:
        """Place cameras only while ``leadership`` says this controller leads; each order
        carries its epoch. A new epoch re-sends every node its whole list."""
        self._leadership = leadership

    async def start(self) -> None:
        await self._listener.start()
        self._tasks = [asyncio.create_task(self._every(TICK_S, self._tick), name="nodes-tick"),
                       asyncio.create_task(self._every(POLL_S, self._poll), name="nodes-poll")]
        await self._tick()

    async def stop(self) -> None:
        for task in [*self._tasks, *self._spawned]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._spawned, return_exceptions=True)
        self._tasks = []
        await self._listener.stop()
        for link in list(self._links.values()):
            await link.close()
        self._links.clear()

    async def _every(self, period: float, job: Callable[[], Any]) -> None:
        while True:
            await asyncio.sleep(period)
            try:
                await job()
            except Exception:               # one bad round must not stop the next
                log.exception("media nodes: %s failed", getattr(job, "__name__", job))

    # -- who is alive ----------------------------------------------------------------------
    def _announced(self, ann: NodeAnnouncement) -> None:
        node = ann.heartbeat.node
        was = next((i.state for i in self.table if i.node == node), None)
        self._ann[node] = ann
        self.table.beat(ann.heartbeat)
        if was is not NodeState.UP:
            log.info("media node %s up at %s (%d cameras)", node, ann.address, len(ann.serves))

    def _thaw(self) -> None:
        """Redis is back: give every node a fresh timeout to be heard (none was judged
        while the bus was down)."""
        now = time.monotonic()
        for info in self.table:
            if info.state is NodeState.UP and info.last is not None:
                info.received_at = now

    def live(self) -> list[str]:
        return sorted(n for n in self.table.live() if n in self._ann)

    def _expire(self) -> None:
        if not self._listener.bus_ok:
            return                           # Redis down is not every node down
        now = time.monotonic()
        for node in list(self.table.live()):
            if self.table.expired(node, now):
                log.warning("media node %s silent for over %.1f s: dropped, its cameras move",
                            node, self.table.timeout_s)
                self.table.set_state(node, NodeState.DOWN, now)
                self._ann.pop(node, None)
                link = self._links.pop(node, None)
                if link is not None:
                    self._spawn(link.close())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    async def _tick(self) -> None:
        self._expire()
        for node in self.live():
            link = self._links.get(node)
            if (link is None or not link.ready) and node not in self._connecting:
                self._connecting.add(node)           # now: one attempt at a time
                self._spawn(self._connect(node))
        if self._leadership.is_leader():
            self._place()

    async def _connect(self, node: str) -> None:
        ann = self._ann.get(node)
        if ann is None:
            self._connecting.discard(node)
            return
        link = NodeLink(node, ann.address, self._secret, self._ca,
                        on_message=self._on_message, on_lost=self._on_lost)
        try:
            await link.connect()
        except Exception as exc:
            log.warning("media node %s at %s: cannot connect: %s", node, ann.address, exc)
            await asyncio.sleep(1.0)         # not at every tick
            return
        finally:
            self._connecting.discard(node)
        old = self._links.get(node)
        self._links[node] = link
        if old is not None:
            await old.close()
        log.info("media node %s connected (%s)", node, ann.address)
        if self._leadership.is_leader():
            self._place()

    def _on_lost(self, node: str) -> None:
        self._taps.lost(node, MediaError(503, "media_unreachable", f"media node {node} lost"))

    def _on_message(self, node: str, message: object) -> None:
        if isinstance(message, SessionClosed):
            self.closed[message.reason.value] += 1
        elif isinstance(message, TapFrame | TapEnded):
            self._taps.on_message(message)

    # -- placement (leader only) -----------------------------------------------------------
    def _place(self) -> None:
        live = self.live()
        if not live:
            return
        epoch = self._leadership.epoch()
        if epoch != self._term:
            # a new term: what was placed in an older one may have moved meanwhile (another
            # leader); start again from what the nodes say they serve
            self._assign.clear()
            self._term = epoch
        orphans = [c for c in sorted(self._cameras) if self._assign.get(c) not in live]
        for camera in orphans:
            serving = [n for n in live if camera in self._ann[n].serves]
            if serving:
                self._assign[camera] = serving[0]          # already playing there: stays
        left = [c for c in orphans if self._assign.get(c) not in live]
        if left:
            load = Counter(n for n in self._assign.values() if n in live)
            moved = placement.fail_over(left, {n: load[n] for n in live})
            for camera, node in moved.items():
                was = self._assign.get(camera)
                self._assign[camera] = node
                log.info("camera %s placed on %s%s", camera, node,
                         f" (was on {was})" if was else "")
        for node in live:
            link = self._links.get(node)
            if link is None or not link.ready:
                continue
            wanted = frozenset(c for c, n in self._assign.items() if n == node)
            if link.synced_epoch != epoch:
                link.notify(Op.SYNC, [self._cameras[c] for c in sorted(wanted)], epoch=epoch)
                link.synced_epoch, link.sent = epoch, wanted
                continue
            for camera in sorted(wanted - link.sent):
                link.notify(Op.ADD, self._cameras[camera], epoch=epoch)
            for camera in sorted(link.sent - wanted):
                link.notify(Op.REMOVE, camera, epoch=epoch)
            link.sent = wanted

    # -- cameras (the registry drives these) -----------------------------------------------
    async def add_camera(self, camera: Camera) -> None:
        if camera.id in self._cameras:
            raise ValueError(f"duplicate camera id '{camera.id}'")
        self._cameras[camera.id] = camera
        self._removed.discard(camera.id)
        if self._leadership.is_leader():
            self._place()

    async def update_camera(self, camera: Camera) -> None:
        if camera.id not in self._cameras:
            await self.add_camera(camera)
            return
        self._cameras[camera.id] = camera
        node = self._assign.get(camera.id)
        link = self._links.get(node) if node else None
        if self._leadership.is_leader() and link is not None and camera.id in link.sent:
            link.notify(Op.UPDATE, camera, epoch=self._leadership.epoch())

    async def remove_camera(self, camera_id: str) -> bool:
        if self._cameras.pop(camera_id, None) is None:
            return False
        self._removed.add(camera_id)
        self._status.pop(camera_id, None)
        self._assign.pop(camera_id, None)
        if self._leadership.is_leader():
            self._place()
        return True

    # -- forwarding ------------------------------------------------------------------------
    def owner(self, camera_id: str) -> str:
        """The node serving ``camera_id``: the leader's placement, else the heartbeats."""
        if camera_id not in self._cameras:
            if camera_id in self._removed:
                raise MediaError(410, REMOVED, f"camera '{camera_id}' was removed from the "
                                 "registry / camera đã bị xoá khỏi danh sách")
            raise MediaError(404, "not_found", f"no camera '{camera_id}' / không có camera này")
        live = self.live()
        node = self._assign.get(camera_id) if self._leadership.is_leader() else None
        if node in live:
            return node  # type: ignore[return-value]
        serving = [n for n in live if camera_id in self._ann[n].serves]
        if serving:
            return serving[0]
        raise MediaError(503, "media_moving", f"camera '{camera_id}' is moving to another "
                         "media node; try again / camera đang chuyển máy chủ", MOVING_RETRY_S)

    def _link(self, node: str) -> NodeLink:
        link = self._links.get(node)
        if link is None or not link.ready:
            raise MediaError(503, "media_unreachable", f"media node {node} is not connected; "
                             "try again / chưa kết nối máy chủ video", MOVING_RETRY_S)
        return link

    async def call(self, node: str, op: Op, *args: object) -> Any:
        return await self._link(node).call(op, *args)

    def notify(self, node: str, op: Op, *args: object) -> bool:
        link = self._links.get(node)
        return link.notify(op, *args) if link is not None else False

    async def check_camera(self, camera_id: str) -> None:
        if camera_id in self._removed and camera_id not in self._cameras:
            self.owner(camera_id)
        raise MediaError(404, "not_found", f"no camera '{camera_id}' / không có camera này")

    async def whep_offer(self, camera_id: str, stream: str, sdp: str,
                         user: str = "") -> tuple[SessionRef, str]:
        node = self.owner(camera_id)
        if stream not in STREAMS:
            raise MediaError(404, "not_found", f"unknown stream '{stream}': main or sub")
        ref, answer = await self.call(node, Op.OFFER, camera_id, stream, sdp, user)
        return SessionRef(f"{node}.{ref.id}", camera_id, stream, node, user), answer

    @staticmethod
    def _split(session_id: str) -> tuple[str, str]:
        node, _, raw = session_id.partition(".")
        return node, raw

    async def session_refs(self) -> list[SessionRef]:
        found: list[SessionRef] = []
        for node, refs in await self._each(Op.SESSIONS):
            found += [SessionRef(f"{node}.{r.id}", r.camera, r.stream, node, r.user)
                      for r in refs]
        return found

    async def find_session(self, session_id: str) -> SessionRef | None:
        node, raw = self._split(session_id)
        if not raw or node not in self._links:
            return None
        with contextlib.suppress(MediaError):
            for r in await self.call(node, Op.SESSIONS):
                if r.id == raw:
                    return SessionRef(session_id, r.camera, r.stream, node, r.user)
        return None

    async def whep_delete(self, session_id: str) -> bool:
        node, raw = self._split(session_id)
        if not raw or node not in self._links:
            return False
        return bool(await self.call(node, Op.DELETE, raw))

    async def snapshot(self, camera_id: str, stream: str = "main") -> Snapshot:
        return await self.call(self.owner(camera_id), Op.SNAPSHOT,  # type: ignore[no-any-return]
                               camera_id, stream)

    async def replay_ranges(self, camera_id: str) -> dict[str, ReplayRange]:
        return await self.call(self.owner(camera_id), Op.REPLAY_RANGES,  # type: ignore[no-any-return]
                               camera_id)

    async def replay_clip(self, camera_id: str, stream: str, start: float,
                          duration: float) -> ReplayClip:
        return await self.call(self.owner(camera_id), Op.REPLAY_CLIP,  # type: ignore[no-any-return]
                               camera_id, stream, start, duration)

    async def tap(self, camera_id: str, stream: str, zones: list[ZoneSpec],
                  options: TapOptions, sink: Callable[[FrameHeader, bytes], None]) -> None:
        await self._taps.run(self.owner(camera_id), camera_id, stream, zones, options, sink)

    # -- what the API shows ----------------------------------------------------------------
    async def _each(self, op: Op) -> list[tuple[str, Any]]:
        nodes = [n for n, link in self._links.items() if link.ready]
        results = await asyncio.gather(*(self.call(n, op) for n in nodes),
                                       return_exceptions=True)
        return [(n, r) for n, r in zip(nodes, results, strict=True)
                if not isinstance(r, BaseException)]

    async def _poll(self) -> None:
        parts: list[NodeStatus] = [r for _, r in await self._each(Op.CAMERAS)]
        status: dict[str, CameraStatus] = {}
        for part in parts:
            for cam in part.cameras:
                if cam.id in self._cameras:
                    with contextlib.suppress(MediaError):
                        if self.owner(cam.id) == part.node or cam.id not in status:
                            status[cam.id] = cam
        self._status = status
        self._node_counters.update({p.node: p.counters for p in parts})

    async def refresh(self) -> None:
        await self._poll()

    async def cameras(self) -> list[CameraStatus]:
        return self.known_cameras()

    def known_cameras(self) -> list[CameraStatus]:
        return [self._status_of(c) for c in self._cameras.values()]

    async def camera(self, camera_id: str) -> CameraStatus | None:
        cam = self._cameras.get(camera_id)
        return self._status_of(cam) if cam is not None else None

    def _status_of(self, cam: Camera) -> CameraStatus:
        found = self._status.get(cam.id)
        if found is None:
            return _down(cam, "media node moving or not reached yet")
        return found

    async def health(self) -> list[HealthSnapshot]:
        return [h for _, part in await self._each(Op.HEALTH) for h in part]

    async def media_nodes(self) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for row in self.table.to_json():
            ann = self._ann.get(str(row["node"]))
            link = self._links.get(str(row["node"]))
            out.append({**row, "id": row["node"],
                        "address": ann.address if ann else "",
                        "host": ann.host if ann else "",
                        "ice_addresses": ann.ice_addresses if ann else [],
                        "serves": ann.serves if ann else [],
                        "epoch": ann.epoch if ann else 0,
                        "connected": bool(link and link.ready)})
        return out

    async def metrics_text(self) -> str:
        parts: list[metrics.ServerCounters] = [r for _, r in await self._each(Op.COUNTERS)]
        total = metrics.summed(parts)
        return (metrics.render(await self.health(), total)
                + metrics.render_nodes(self._node_counters) + node_metrics(self.table))


_ACROSS_MACHINES: type[MediaService] = NodeMediaService
