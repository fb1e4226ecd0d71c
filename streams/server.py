"""MediaServer: the cameras, their pulled streams, viewer sessions, snapshots and metrics.

It implements the media contract (streams/contract.py: ``MediaService``) inside
the web process, and is what each media process runs (streams/worker.py). It
knows cameras only through the small ``CameraLike`` protocol and is built from
``StreamSettings`` (streams/settings.py), so ``streams`` never imports ``wall``.
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from iocwall.streams import ice, metrics, pools
from iocwall.streams.channel import Channel
from iocwall.streams.fanout import Subscriber
from iocwall.streams.health import HealthSnapshot, StreamState
from iocwall.streams.leadership import Leadership
from iocwall.streams.limits import CloseReason, SessionLimits, check_offer
from iocwall.streams.replay.model import ReplayClip, ReplayRange
from iocwall.streams.replay.recorder import ReplayRecorder
from iocwall.streams.settings import StreamSettings
from iocwall.streams.snapshot import Snapshot, SnapshotCache, SnapshotError
from iocwall.streams.source import Ingest, PullSettings
from iocwall.streams.taps.tap import CameraTap, TapOptions
from iocwall.streams.track import FanoutTrack, PassthroughTrack, TranscodeTrack
from iocwall.streams.urls import CameraUrl, parse
from iocwall.streams.whep import WhepError, WhepSession, WhepSessions
from iocwall.streams.wire import SessionRef

if TYPE_CHECKING:
    from iocwall.analytics.messages import ZoneSpec
    from iocwall.streams.contract import FrameSink

log = logging.getLogger(__name__)
TAP_DECODE_THREADS = 2        # analytics decoders of this process, shared by its taps

STREAMS = ("main", "sub")
TICK_S = 0.25                 # state re-judged 4x a second: stall seen within stall_s + 0.25
OPEN_WAIT_S = 2.0             # how long an offer waits to learn the codec of a cold stream
REMOVED = "removed"           # what viewers of a camera deleted at run time are told
MediaError = WhepError        # one error type for every refusal: status, code, message


class CameraLike(Protocol):
    """What the media server needs of a camera (iocwall.wall.config.CameraConfig fits)."""
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def main_url(self) -> str: ...
    @property
    def sub_url(self) -> str: ...
    @property
    def username(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def location(self) -> str: ...


@dataclass(frozen=True)
class Camera:
    id: str
    name: str
    location: str
    urls: dict[str, CameraUrl]     # "main"/"sub" -> URL (with credentials: never shown)
    replay: bool = False           # buffer it for replay under [replay] cameras = "wall"

    def __repr__(self) -> str:
        return f"Camera({self.id!r})"  # never the URLs: they carry credentials

    @classmethod
    def from_config(cls, cam: CameraLike) -> Camera:
        urls = {}
        for stream, url in (("main", cam.main_url), ("sub", getattr(cam, "sub_url", ""))):
            if url:
                urls[stream] = parse(url, getattr(cam, "username", "") or None,
                                     getattr(cam, "password", "") or None,
                                     transport=getattr(cam, "transport", "auto"),
                                     allow_basic_auth=bool(getattr(cam, "allow_basic_auth",
                                                                   False)))
        return cls(cam.id, cam.name, getattr(cam, "location", ""), urls,
                   bool(getattr(cam, "replay", False)))


@dataclass(frozen=True)
class CameraStatus:
    """A camera as the API shows it: no URLs, no credentials."""
    id: str
    name: str
    location: str
    streams: dict[str, HealthSnapshot]

    @property
    def state(self) -> StreamState:
        """The best state among the camera's streams (a camera is live if any stream is)."""
        order = [StreamState.LIVE, StreamState.STALLED, StreamState.CONNECTING,
                 StreamState.LOST, StreamState.IDLE]
        states = {h.state for h in self.streams.values()}
        return next((s for s in order if s in states), StreamState.IDLE)


class MediaServer:
    """Constructed from the [streams] and [webrtc] config sections and the camera list."""

    def __init__(self, settings: StreamSettings, cameras: Iterable[CameraLike] = (),
                 *, max_sessions: int | None = None) -> None:
        """settings: the media settings (streams/settings.py); cameras: the cameras to serve
        from the start (more come from the registry); max_sessions: an explicit override of
        ``settings.max_sessions`` (tests, benchmarks)."""
        self.settings = settings
        self._pull = PullSettings(
            open_timeout_s=settings.open_timeout_s, read_timeout_s=settings.lost_timeout_s,
            reconnect_min_s=settings.reconnect_min_s, reconnect_max_s=settings.reconnect_max_s,
            ingest=Ingest(settings.ingest))
        self._stall_s = settings.stall_timeout_s
        self._linger_s = settings.linger_s
        self._ice = ice.IceSettings(addresses=settings.ice_addresses,
                                    port_min=settings.udp_port_min,
                                    port_max=settings.udp_port_max)
        self._snapshots = SnapshotCache(settings.snapshot_cache_s)
        limits = SessionLimits.from_settings(settings)
        if max_sessions is not None:
            limits = SessionLimits(max_sessions, limits.per_user, limits.per_camera,
                                   limits.retry_after_s)
        self.limits = limits
        self.sessions = WhepSessions(self._ice, limits)
        self._cameras: dict[str, Camera] = {}
        self._channels: dict[tuple[str, str], Channel] = {}
        self._removed: set[str] = set()      # ids removed at run time: answered 410, not 404
        self._monitor: asyncio.Task | None = None
        self._counts = {"sessions": 0, "refused": 0, "transcode": 0}
        self._tap_pool: ThreadPoolExecutor | None = None
        self.replay = ReplayRecorder(settings.replay)
        for cam in cameras:
            self.add(Camera.from_config(cam))

    # -- cameras ------------------------------------------------------------------------
    async def add_camera(self, camera: Camera) -> None:
        self.add(camera)

    def add(self, camera: Camera) -> None:
        """add_camera for callers outside a loop (construction, the media process's sync)."""
        if camera.id in self._cameras:
            raise ValueError(f"duplicate camera id '{camera.id}'")
        self._cameras[camera.id] = camera
        self._removed.discard(camera.id)
        for stream, url in camera.urls.items():
            self._new_channel(camera.id, stream, url)
        self._follow_replay(camera)

    def _buffered(self, camera: Camera) -> bool:
        policy = self.settings.replay.cameras
        return policy == "all" or (policy == "wall" and camera.replay)

    def _follow_replay(self, camera: Camera) -> None:
        """Buffer the camera's streams when it should be, stop when not (running only: a
        buffer pulls the camera, which needs the loop)."""
        if self._monitor is None:
            return                   # start() does it
        for stream in STREAMS:
            if self._buffered(camera) and stream in camera.urls:
                self.replay.start(camera.id, stream, self._channels[(camera.id, stream)])
            else:
                self.replay.stop(camera.id, stream)

    async def update_camera(self, camera: Camera) -> None:
        """Apply an edited camera: a changed URL or credential reconnects that stream under
        its viewers; a stream that is gone ends its viewers; a new one becomes playable."""
        old = self._cameras.get(camera.id)
        if old is None:
            self.add(camera)
            return
        self._cameras[camera.id] = camera
        for stream in set(old.urls) | set(camera.urls):
            key = (camera.id, stream)
            if stream not in camera.urls:
                await self._end_channel(key)
            elif stream not in old.urls:
                self._new_channel(camera.id, stream, camera.urls[stream])
            elif old.urls[stream] != camera.urls[stream]:
                await self._channels[key].retarget(camera.urls[stream])
        self._follow_replay(camera)

    async def remove_camera(self, camera_id: str) -> bool:
        """Forget a camera: its viewers get a "removed" event and are closed
        (``camera_removed``), its pulls stopped, and later requests for it are answered
        410 "removed" (not a frozen picture)."""
        camera = self._cameras.pop(camera_id, None)
        if camera is None:
            return False
        self._removed.add(camera_id)
        self.replay.stop_camera(camera_id)
        await asyncio.gather(*(self._end_channel((camera_id, s)) for s in camera.urls))
        return True

    def _new_channel(self, camera_id: str, stream: str, url: CameraUrl) -> None:
        channel = Channel(camera_id, stream, url, self._pull, self._stall_s, self._linger_s)
        channel.on_state = self._state_changed
        self._channels[(camera_id, stream)] = channel

    async def _end_channel(self, key: tuple[str, str]) -> None:
        self.replay.stop(*key)
        channel = self._channels.pop(key, None)
        event = {"type": "state", "camera": key[0], "stream": key[1], "state": REMOVED}
        for session in self.sessions.all():
            if (session.camera, session.stream) == key:
                session.notify(event)
                await self.sessions.close(session.id, CloseReason.CAMERA_REMOVED)
        if channel is not None:
            channel.fanout.end_subscribers()     # taps end too (and restart if it comes back)
            await channel.stop()

    async def refresh(self) -> None:
        """Nothing to do: this process's states are always current."""

    async def cameras(self) -> list[CameraStatus]:
        return self.known_cameras()

    def known_cameras(self) -> list[CameraStatus]:
        return [self._status(cam) for cam in self._cameras.values()]

    async def camera(self, camera_id: str) -> CameraStatus | None:
        return self.status(camera_id)

    def status(self, camera_id: str) -> CameraStatus | None:
        cam = self._cameras.get(camera_id)
        return self._status(cam) if cam else None

    async def check_camera(self, camera_id: str) -> None:
        self.channel(camera_id, "main")
        raise MediaError(404, "not_found", f"no camera '{camera_id}' / không có camera này")

    def _status(self, cam: Camera) -> CameraStatus:
        return CameraStatus(cam.id, cam.name, cam.location,
                            {s: self._channels[(cam.id, s)].snapshot() for s in cam.urls})

    def channel(self, camera_id: str, stream: str) -> Channel:
        if camera_id not in self._cameras:
            if camera_id in self._removed:
                raise MediaError(410, REMOVED, f"camera '{camera_id}' was removed from the "
                                 "registry / camera đã bị xoá khỏi danh sách")
            raise MediaError(404, "not_found", f"no camera '{camera_id}' / không có camera này")
        channel = self._channels.get((camera_id, stream))
        if channel is None:
            raise MediaError(404, "not_found", f"camera '{camera_id}' has no '{stream}' stream")
        return channel

    async def health(self) -> list[HealthSnapshot]:
        return self.health_now()

    def health_now(self) -> list[HealthSnapshot]:
        return [ch.snapshot() for ch in self._channels.values()]

    async def media_nodes(self) -> list[dict[str, object]]:
        return []                    # media runs inside this process: no media nodes

    # -- lifecycle ---------------------------------------------------------------------
    def follow_leader(self, leadership: Leadership) -> None:
        """Nothing to follow: this process places its cameras alone (contract.py)."""
    async def start(self) -> None:
        if self._monitor is None:
            self._monitor = asyncio.create_task(self._watch(), name="media-monitor")
            for camera in self._cameras.values():
                self._follow_replay(camera)

    async def stop(self) -> None:
        if self._monitor is not None:
            self._monitor.cancel()
            await asyncio.gather(self._monitor, return_exceptions=True)
            self._monitor = None
        self.replay.stop_all()
        await self.sessions.close_all(CloseReason.SERVER_STOP)
        await asyncio.gather(*(ch.stop() for ch in self._channels.values()))
        if self._tap_pool is not None:
            self._tap_pool.shutdown(wait=False, cancel_futures=True)
            self._tap_pool = None
        pools.shutdown_all()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            for channel in self._channels.values():
                try:
                    channel.tick()
                except Exception:     # one broken channel must not stop the others' health
                    log.exception("%s: health tick failed", channel.key)

    def _state_changed(self, channel: Channel, state: StreamState) -> None:
        event = {"type": "state", "camera": channel.camera, "stream": channel.stream,
                 "state": state.value}
        for session in self.sessions.all():
            if session.camera == channel.camera and session.stream == channel.stream:
                session.notify(event)

    # -- consumers -------------------------------------------------------------------------
    def subscribe(self, camera_id: str, stream: str, name: str) -> tuple[Channel, Subscriber]:
        """A raw subscription (analytics, benchmarks); pair with ``unsubscribe``."""
        channel = self.channel(camera_id, stream)
        channel.acquire()
        return channel, channel.fanout.subscribe(name)

    def unsubscribe(self, channel: Channel, sub: Subscriber) -> None:
        channel.fanout.unsubscribe(sub)
        channel.release()

    async def whep_offer(self, camera_id: str, stream: str, sdp: str,
                         user: str = "") -> tuple[WhepSession, str]:
        """Open a viewer session; returns it and the SDP answer. Raises MediaError.

        Order matters: the offer is judged and the viewer admitted before the
        camera is pulled, so a bad or refused offer costs no RTSP session, and a
        failure later undoes everything (WhepSessions.offer stops the track,
        which releases the channel).
        """
        if stream not in STREAMS:
            raise MediaError(404, "not_found", f"unknown stream '{stream}': main or sub")
        channel = self.channel(camera_id, stream)
        offer = check_offer(sdp)
        try:
            self.sessions.reserve(user, camera_id)
        except MediaError as exc:
            self._counts["refused"] += 1
            log.warning("%s: viewer of user %s refused (overload): %s", channel.key,
                        user or "-", exc.message)
            raise
        try:
            channel.acquire()
        except BaseException:
            self.sessions.unreserve(user, camera_id)
            raise
        try:
            if channel.info is None:
                await channel.wait_keyframe(OPEN_WAIT_S)
        except BaseException:
            channel.release()
            self.sessions.unreserve(user, camera_id)
            raise
        info = channel.info
        passthrough = (info is None or info.codec == "h264") and offer.h264
        plid = info.profile_level_id if info else None
        made: list[FanoutTrack] = []

        def make(pt: bool) -> FanoutTrack:
            made.append(self._track(channel, pt))
            return made[-1]

        try:
            session, answer = await self.sessions.offer(camera_id, stream, sdp, make, plid,
                                                        passthrough, user)
        finally:
            if not made:               # no track took over the channel: give it back
                channel.release()
        self._counts["sessions"] += 1
        if not session.passthrough:
            self._counts["transcode"] += 1
            log.warning("%s: viewer %s served by TRANSCODING (%s)", channel.key, session.id,
                        info.codec if info else "unknown codec")
        return session, answer

    def _track(self, channel: Channel, passthrough: bool) -> FanoutTrack:
        name = f"{channel.key}#viewer"
        if passthrough:
            track: FanoutTrack = PassthroughTrack(channel.fanout, name, channel.payloads)
        else:
            info = channel.info
            track = TranscodeTrack(channel.fanout, name, info.codec if info else "h264",
                                   info.extradata if info else b"")
            channel.transcoding_viewers += 1
        released = False

        def _release() -> None:
            nonlocal released
            if not released:
                released = True
                channel.release()
                if not passthrough:
                    channel.transcoding_viewers -= 1

        track.on_stop(_release)
        return track

    async def whep_delete(self, session_id: str) -> bool:
        return await self.sessions.close(session_id, CloseReason.CLIENT_DELETE)

    async def snapshot(self, camera_id: str, stream: str = "main") -> Snapshot:
        channel = self.channel(camera_id, stream)
        channel.acquire()
        try:
            if not await channel.wait_keyframe(self._pull.open_timeout_s):
                raise MediaError(503, "no_signal",
                                 f"camera '{camera_id}' sends no picture / camera mất tín hiệu")
            info = channel.info
            try:
                return await self._snapshots.get(channel.key, info.codec if info else "h264",
                                                 info.extradata if info else b"",
                                                 channel.fanout.cache.units())
            except SnapshotError as exc:
                raise MediaError(503, "no_picture", str(exc)) from None
        finally:
            channel.release()

    async def replay_ranges(self, camera_id: str) -> dict[str, ReplayRange]:
        """What each buffered stream of the camera holds now ({} when not buffered)."""
        if camera_id not in self._cameras:
            await self.check_camera(camera_id)          # 410 removed, else 404
        return self.replay.ranges(camera_id)

    async def replay_clip(self, camera_id: str, stream: str, start: float,
                          duration: float) -> ReplayClip:
        """[start, start + duration) of a buffered stream as one MP4, from the keyframe at
        or before ``start``; MediaError 404 outside the buffer."""
        self.channel(camera_id, stream)
        return await self.replay.clip(camera_id, stream, start, duration)

    async def session_refs(self) -> list[SessionRef]:
        """Every viewer session (as MediaCluster.session_refs): e.g. to end one user's."""
        return [SessionRef(s.id, s.camera, s.stream, user=s.user) for s in self.sessions.all()]

    async def find_session(self, session_id: str) -> SessionRef | None:
        session = self.sessions.get(session_id)
        if session is None:
            return None
        return SessionRef(session.id, session.camera, session.stream, user=session.user)

    async def metrics_text(self) -> str:
        return metrics.render(self.health_now(), self.counters())

    async def tap(self, camera_id: str, stream: str, zones: list[ZoneSpec],
                  options: TapOptions, sink: FrameSink) -> None:
        """The camera's analytics tap, in this process (decoding on a small pool of its own
        threads, shared by the taps, so live video never waits for a decoder)."""
        if self._tap_pool is None:
            self._tap_pool = ThreadPoolExecutor(TAP_DECODE_THREADS,
                                                thread_name_prefix="analytics-decode")
        await CameraTap(self, camera_id, stream, zones, options, sink, self._tap_pool).run()

    def node_counters(self, tap_dropped_frames: int = 0) -> metrics.NodeCounters:
        """This process's losses, for the web process's /metrics (label ``node``)."""
        channels = list(self._channels.values())
        health = [ch.health for ch in channels]
        return metrics.NodeCounters(
            dropped_units=sum(ch.fanout.drops() for ch in channels),
            late_dropped_units=sum(ch.fanout.late_drops() for ch in channels),
            corrupt=sum(h.rtp_corrupt + h.invalid_units for h in health),
            tap_dropped_frames=tap_dropped_frames,
            sessions_closed={r.value: n for r, n in self.sessions.closed.items() if n})

    def counters(self) -> metrics.ServerCounters:
        keyframe_requests = sum(getattr(s.track, "keyframe_requests", 0)
                                for s in self.sessions.all())
        return metrics.ServerCounters(
            sessions=len(self.sessions), sessions_total=self._counts["sessions"],
            sessions_refused=self._counts["refused"],
            transcode_sessions_total=self._counts["transcode"],
            keyframe_requests_total=keyframe_requests,
            sessions_closed={r.value: self.sessions.closed[r] for r in CloseReason},
            late_drops_total=sum(ch.fanout.late_drops() for ch in self._channels.values()),
            paced_packets_total=sum(s.pacer.waits for s in self.sessions.all() if s.pacer))
