"""Low-latency ingest: our own RTSP client, an access unit ends on the RTP marker bit.

FFmpeg's RTSP demuxer runs the H.264 parser, which releases an access unit
only when the next one begins: one whole frame interval of added latency
(67 ms at 15 fps). Here a unit is handed on the moment its last packet (the
one with the marker bit) arrives, or, for a camera that forgets the marker,
when the RTP timestamp changes.

``RtpPuller`` has the PyAV ``Puller``'s interface and reports to the same
listener, but runs as a task on the event loop (asyncio I/O, no thread): RTSP
over TCP interleaved, Basic/Digest auth, GET_PARAMETER keep-alive, a read
timeout, and the same capped, jittered reconnect backoff. A stream that is
not H.264 is handed to the PyAV puller (it knows every codec FFmpeg knows).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

from iocwall.streams import h264
from iocwall.streams.fanout import AccessUnit
from iocwall.streams.rtsp.errors import RtspError
from iocwall.streams.rtsp.rtp import AccessUnit as RtpUnit
from iocwall.streams.rtsp.rtp import H264Depacketizer, RtpError, parse_rtp
from iocwall.streams.rtsp.rtsp_client import RtspClient, Transport
from iocwall.streams.rtsp.sdp import VideoTrack
from iocwall.streams.rtsp.sps import SpsError, parse_sps
from iocwall.streams.source import (
    HEALTHY_SESSION_S,
    Puller,
    PullerListener,
    PullSettings,
    SourceInfo,
    backoff_delay,
)
from iocwall.streams.urls import CameraUrl, redact

log = logging.getLogger(__name__)

WATCH_S = 0.25                 # how often the session checks its read timeout
KEEPALIVE_MIN_S = 5.0
_VCL = range(1, 6)             # NAL types of coded slices: a unit without one is no picture


class RtpPuller:
    """Pulls one URL as a task on the loop until stopped; reports to a listener."""

    def __init__(self, name: str, url: CameraUrl, settings: PullSettings,
                 listener: PullerListener, loop: asyncio.AbstractEventLoop) -> None:
        self.name, self._url, self._settings = name, url, settings
        self._listener, self._loop = listener, loop
        self._task: asyncio.Task[None] | None = None
        self._fallback: Puller | None = None
        self._stopping = False
        self._generation = 0

    def start(self) -> None:
        self._task = self._loop.create_task(self._run(), name=f"rtp-pull-{self.name}")

    def request_stop(self) -> None:
        # cancelling lands at the task's current await; its finally blocks TEARDOWN politely
        self._stopping = True
        if self._fallback is not None:
            self._fallback.request_stop()
        if self._task is not None and not self._task.done():
            self._task.cancel()

    async def stop(self, wait_s: float = 1.0) -> None:
        self.request_stop()
        if self._fallback is not None:
            await self._fallback.stop(wait_s)
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=wait_s + 1.0)

    @property
    def running(self) -> bool:
        if self._fallback is not None:
            return self._fallback.running
        return self._task is not None and not self._task.done()

    # -- sessions ------------------------------------------------------------------------
    async def _run(self) -> None:
        attempt, rand = 0, random.Random()
        with contextlib.suppress(asyncio.CancelledError):
            while not self._stopping:
                good = await self._session()
                if self._stopping or self._fallback is not None:
                    return
                attempt = 0 if good else attempt + 1
                delay = backoff_delay(attempt, self._settings.reconnect_min_s,
                                      self._settings.reconnect_max_s, rand.random)
                log.info("%s: reconnecting in %.2f s", self.name, delay)
                await asyncio.sleep(delay)

    async def _session(self) -> bool:
        """One RTSP session; True when it delivered units long enough to count as good."""
        s = self._settings
        session = _Session(self)
        client = RtspClient(self._url, s.open_timeout_s, session.on_packet)
        started = time.monotonic()
        try:
            try:
                await client.connect()
                track = await client.describe()
                if track.encoding != "H264":
                    self._hand_over(track.encoding)
                    return False
                session.track = track
                await client.setup(track, Transport.TCP)
                await client.play()
            except RtspError as exc:
                self._fail(f"cannot open {self._url.public()}: {exc}")
                return False
            info = session.open(self._next_generation())
            log.info("%s: opened %s (h264 %dx%d, RTP ingest) in %.2f s", self.name,
                     self._url.public(), info.width, info.height, time.monotonic() - started)
            self._listener.on_open(info)
            reason = await self._watch(client, session)
        finally:
            await client.close()
        if not self._stopping:
            self._fail(f"{self._url.public()}: {reason}")
        first = session.first_unit
        return first is not None and time.monotonic() - first >= HEALTHY_SESSION_S

    async def _watch(self, client: RtspClient, session: _Session) -> str:
        """Wait until the session ends; why it ended. Sends keep-alives meanwhile."""
        timeout = self._settings.read_timeout_s
        keepalive_s = max(KEEPALIVE_MIN_S, client.session_timeout / 2)
        next_keepalive = time.monotonic() + keepalive_s
        pending: set[asyncio.Task[None]] = set()
        try:
            while True:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(client.closed.wait(), WATCH_S)
                if client.closed.is_set():
                    return "the camera closed the connection"
                now = time.monotonic()
                if now - session.last_packet > timeout:
                    return f"no data for {timeout:g} s"
                if now >= next_keepalive:
                    task = asyncio.create_task(client.keepalive())
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    next_keepalive = now + keepalive_s
        finally:
            for task in pending:
                task.cancel()

    def _hand_over(self, encoding: str) -> None:
        """Not H.264: let the PyAV puller (any FFmpeg codec) pull this stream instead."""
        log.info("%s: %s is not H.264: the PyAV ingest pulls it", self.name, encoding or "codec")
        self._fallback = Puller(self.name, self._url, self._settings, self._listener, self._loop)
        self._fallback.start()

    def _next_generation(self) -> int:
        self._generation += 1
        return self._generation

    def _fail(self, reason: str) -> None:
        reason = redact(reason)
        log.warning("%s: %s", self.name, reason)
        self._listener.on_fail(reason)


class _Session:
    """The per-session state: depacketizer, parameter sets, timestamp unwrapping."""

    def __init__(self, owner: RtpPuller) -> None:
        self._owner = owner
        self.track: VideoTrack | None = None
        self._depack = H264Depacketizer()
        self._sets = h264.ParameterSets()
        self._prefix: list[bytes] = []      # NAL units of a marked unit without a picture
        self._generation = 0
        self._time_base = 1 / 90000
        self._last_ts: int | None = None
        self._pts = 0
        self._described = False             # SourceInfo had the SPS/PPS (size, profile)
        self.first_unit: float | None = None
        self.last_packet = time.monotonic()

    def open(self, generation: int) -> SourceInfo:
        assert self.track is not None
        self._generation = generation
        self._time_base = 1 / (self.track.clock_rate or 90000)
        nals = self.track.parameter_sets()
        self._sets = h264.learn_parameter_sets(b"".join(h264.START + n for n in nals),
                                               h264.ParameterSets())
        self.last_packet = time.monotonic()   # the read timeout counts from PLAY
        self._described = bool(self._sets)
        return self._info()

    def _info(self) -> SourceInfo:
        width = height = 0
        plid = self.track.fmtp.get("profile-level-id") if self.track else None
        if self._sets.sps:
            sps = self._sets.sps[0]
            plid = h264.profile_level_id(sps) or plid
            with contextlib.suppress(SpsError):
                parsed = parse_sps(sps)
                width, height = parsed.width, parsed.height
        return SourceInfo(codec="h264", width=width, height=height,
                          extradata=self._sets.annexb(), parameter_sets=self._sets,
                          profile_level_id=plid, generation=self._generation)

    def on_packet(self, data: bytes, at: float) -> None:
        """One RTP packet from the interleaved channel (on the loop, in arrival order)."""
        if self.track is None:
            return
        try:
            pkt = parse_rtp(data)
        except RtpError:
            self._owner._listener.on_invalid()
            return
        if pkt.payload_type != self.track.payload_type:
            return
        self.last_packet = at
        for unit in self._depack.push(pkt):
            self._emit(unit, at)

    def _emit(self, unit: RtpUnit, at: float) -> None:
        nals = self._prefix + unit.nals
        if not any(h264.nal_type(n) in _VCL for n in nals):
            # SPS/PPS/SEI sent with the marker bit set: they belong to the next picture
            self._prefix = nals[-16:]
            return
        self._prefix = []
        data = b"".join(h264.START + n for n in nals)
        if not h264.looks_valid(data):
            self._owner._listener.on_invalid()
            return
        keyframe = any(h264.nal_type(n) == h264.NAL_IDR for n in nals)
        if keyframe:
            self._sets = h264.learn_parameter_sets(data, self._sets)
            data = h264.with_parameter_sets(data, self._sets)
            if not self._described and self._sets:
                # no sprop-parameter-sets in the SDP: the size and profile come in-band
                self._described = True
                self._owner._listener.on_open(self._info())
        self.first_unit = self.first_unit or at
        self._owner._listener.on_unit(AccessUnit(
            data=data, pts=self._unwrap(unit.timestamp), time_base=self._time_base,
            keyframe=keyframe, generation=self._generation, received=at))

    def _unwrap(self, ts: int) -> int:
        """RTP timestamps start anywhere and wrap at 2^32; pts start at 0 and do not."""
        if self._last_ts is not None:
            delta = (ts - self._last_ts) & 0xFFFFFFFF
            self._pts += delta - (1 << 32) if delta >= 1 << 31 else delta
        self._last_ts = ts
        return self._pts
