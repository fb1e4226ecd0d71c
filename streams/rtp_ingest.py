"""Low-latency ingest: our own RTSP client, an access unit ends on the RTP marker bit.

FFmpeg's RTSP demuxer runs the H.264 parser, which releases an access unit
only when the next one begins: one whole frame interval of added latency
(67 ms at 15 fps). Here a unit is handed on the moment its last packet (the
one with the marker bit) arrives, or, for a camera that forgets the marker,
when the RTP timestamp changes.

``RtpPuller`` has the PyAV ``Puller``'s interface and reports to the same
listener, but runs as a task on the event loop (asyncio I/O, no thread): RTSP
over TCP interleaved or UDP (per camera: ``auto`` tries TCP, then UDP when the
camera refuses it), Basic/Digest auth, GET_PARAMETER keep-alive, RTCP receiver
reports, a read timeout, and the same capped, jittered reconnect backoff. Over
UDP a small reorder buffer puts packets back in order; loss is counted, not
fatal. A stream that is not H.264 is handed to the PyAV puller.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time

from iocwall.streams import h264
from iocwall.streams.fanout import AccessUnit
from iocwall.streams.rtsp import rtcp
from iocwall.streams.rtsp.errors import RtspError
from iocwall.streams.rtsp.reorder import ReorderBuffer
from iocwall.streams.rtsp.rtp import H264Depacketizer, RtpError, RtpFrame, RtpPacket, parse_rtp
from iocwall.streams.rtsp.rtsp_client import RtspClient, Transport
from iocwall.streams.rtsp.sdp import VideoTrack
from iocwall.streams.rtsp.sps import SpsError, parse_sps
from iocwall.streams.source import (
    HEALTHY_SESSION_S,
    PacketCounts,
    Puller,
    PullerListener,
    PullSettings,
    SourceInfo,
    backoff_delay,
)
from iocwall.streams.urls import CameraUrl, TransportMode, redact

log = logging.getLogger(__name__)

WATCH_S = 0.25                 # how often the session checks its read timeout
KEEPALIVE_MIN_S = 5.0
PUNCH_EVERY_S = 15.0           # re-open the NAT pinhole of the RTP port (UDP), < NAT timeouts
# A refusal of TCP that UDP may cure; 401/403/404/454 would fail the same over UDP.
_NOT_TRANSPORT = {401, 403, 404, 454}
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
        self._udp_learned = False   # auto: this camera refused TCP, go straight to UDP

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
        # a cancellation ends the task as cancelled: nothing here catches it
        attempt, rand = 0, random.Random()
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
        client.on_rtcp = session.on_rtcp
        started = time.monotonic()
        try:
            try:
                await client.connect()
                track = await client.describe()
                if track.encoding != "H264":
                    self._hand_over(track.encoding)
                    return False
                session.track = track
                transport = await self._setup(client, track)
                session.use(client, transport)
                client.punch(rtcp.rtp_probe(track.payload_type, session.ssrc), session.report())
                await client.play()
            except RtspError as exc:
                self._fail(f"cannot open {self._url.public()}: {exc}")
                return False
            info = session.open(self._next_generation())
            log.info("%s: opened %s (h264 %dx%d, RTP over %s) in %.2f s", self.name,
                     self._url.public(), info.width, info.height, transport.value,
                     time.monotonic() - started)
            self._listener.on_open(info)
            reason = await self._watch(client, session)
        finally:
            session.close()
            session.flush_counts()
            await client.close()
        if not self._stopping:
            self._fail(f"{self._url.public()}: {reason}")
        first = session.first_unit
        return first is not None and time.monotonic() - first >= HEALTHY_SESSION_S

    async def _setup(self, client: RtspClient, track: VideoTrack) -> Transport:
        """SETUP with the camera's transport; ``auto``: TCP, then UDP if TCP is refused."""
        mode = self._url.transport
        if mode is TransportMode.TCP:
            order = [Transport.TCP]
        elif mode is TransportMode.UDP or self._udp_learned:
            order = [Transport.UDP]
        else:
            order = [Transport.TCP, Transport.UDP]
        for transport in order:
            try:
                await client.setup(track, transport)
                return transport
            except RtspError as exc:
                refused = exc.status is not None and exc.status not in _NOT_TRANSPORT
                if transport is Transport.UDP and self._udp_learned:
                    self._udp_learned = False      # UDP failed too: try TCP first next time
                if transport is Transport.UDP or not refused or len(order) == 1:
                    raise
                log.info("%s: the camera refused RTP over TCP (%s): trying UDP", self.name,
                         exc.status)
                self._udp_learned = True
        raise AssertionError("unreachable")

    async def _watch(self, client: RtspClient, session: _Session) -> str:
        """Wait until the session ends; why it ended. Sends keep-alives meanwhile."""
        timeout = self._settings.read_timeout_s
        keepalive_s = max(KEEPALIVE_MIN_S, client.session_timeout / 2)
        next_keepalive = time.monotonic() + keepalive_s
        next_report = time.monotonic() + rtcp.REPORT_INTERVAL_S
        next_punch = time.monotonic() + PUNCH_EVERY_S
        pending: set[asyncio.Task[None]] = set()
        try:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation
            # that lands as the wait completes, and this loop would then pull on after stop()
            while not self._stopping:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(WATCH_S):
                        await client.closed.wait()
                session.flush_counts()
                if client.closed.is_set():
                    return "the camera closed the connection"
                now = time.monotonic()
                if now - session.last_packet > timeout:
                    return f"no data for {timeout:g} s"
                if now >= next_report:           # RTCP RR: a live receiver, and its loss
                    client.send_rtcp(session.report())
                    next_report = now + rtcp.REPORT_INTERVAL_S
                if now >= next_punch and session.track is not None:
                    client.punch(rtcp.rtp_probe(session.track.payload_type, session.ssrc),
                                 session.report())
                    next_punch = now + PUNCH_EVERY_S
                if now >= next_keepalive:
                    task = asyncio.create_task(client.keepalive())
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    next_keepalive = now + keepalive_s
            return "stopped"
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
    """The per-session state: reorder buffer (UDP), depacketizer, parameter sets,
    timestamp unwrapping, reception counts for RTCP and health."""

    def __init__(self, owner: RtpPuller) -> None:
        self._owner = owner
        self.track: VideoTrack | None = None
        self.ssrc = rtcp.new_ssrc()          # ours, in receiver reports
        self._transport = Transport.TCP
        self._client: RtspClient | None = None
        self._reorder: ReorderBuffer | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._stats = rtcp.ReceptionStats()
        self._invalid = 0                    # packets that are not RTP
        self._reported = PacketCounts()
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
                          profile_level_id=plid, generation=self._generation,
                          transport=self._transport.value.lower())

    def use(self, client: RtspClient, transport: Transport) -> None:
        """SETUP agreed on ``transport``: over UDP, packets go through the reorder buffer."""
        self._client, self._transport = client, transport
        if transport is Transport.UDP:
            self._reorder = ReorderBuffer()
        if self.track is not None:
            self._stats = rtcp.ReceptionStats(self.track.clock_rate or 90000)

    def on_packet(self, data: bytes, at: float) -> None:
        """One RTP packet from the interleaved channel or the UDP socket (on the loop)."""
        if self.track is None:
            return
        try:
            pkt = parse_rtp(data)
        except RtpError:
            self._invalid += 1
            return
        if pkt.payload_type != self.track.payload_type:
            return
        self.last_packet = at
        if self._reorder is None:
            self._take(pkt, at)
            return
        for ready in self._reorder.push(pkt, at):
            self._take(ready, at)
        self._arm_expiry()

    def on_rtcp(self, data: bytes, at: float) -> None:
        self._stats.sender_report(data, at)

    def _take(self, pkt: RtpPacket, at: float) -> None:
        self._stats.add(pkt, at)
        for unit in self._depack.push(pkt):
            self._emit(unit, at)

    def _arm_expiry(self) -> None:
        """A gap is waiting: come back when the reorder buffer gives it up."""
        assert self._reorder is not None
        deadline = self._reorder.deadline()
        if deadline is None or self._expiry is not None:
            return
        loop = asyncio.get_running_loop()
        self._expiry = loop.call_at(loop.time() + max(0.0, deadline - time.monotonic()),
                                    self._expire)

    def _expire(self) -> None:
        self._expiry = None
        if self._reorder is None:
            return
        now = time.monotonic()
        for ready in self._reorder.expire(now):
            self._take(ready, now)
        self._arm_expiry()

    def close(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    def report(self) -> bytes:
        """Our RTCP receiver report (+ SDES) as it stands now."""
        return rtcp.receiver_report(self.ssrc, self._stats, time.monotonic())

    def counts(self) -> PacketCounts:
        """Totals of this session so far."""
        r = self._reorder.stats if self._reorder is not None else None
        foreign = self._client.foreign_datagrams if self._client is not None else 0
        return PacketCounts(
            lost=r.lost if r else 0, late=r.late if r else 0,
            reordered=r.reordered if r else 0,
            corrupt=self._invalid + self._depack.corrupt + self._depack.oversized + foreign)

    def flush_counts(self) -> None:
        """Hand the listener what changed since the last call."""
        now, before = self.counts(), self._reported
        delta = PacketCounts(now.lost - before.lost, now.late - before.late,
                             now.reordered - before.reordered, now.corrupt - before.corrupt)
        self._reported = now
        if delta:
            self._owner._listener.on_packets(delta)

    def _emit(self, unit: RtpFrame, at: float) -> None:
        # Works on the NAL list the depacketizer made: checking, finding the IDR and
        # learning SPS/PPS on it saves splitting the joined bytes again (three scans a
        # frame before), and the list travels on so the send path packs it unsplit.
        nals = self._prefix + unit.nals
        kinds = [nal[0] & 0x1F for nal in nals]
        if not any(kind in _VCL for kind in kinds):
            # SPS/PPS/SEI sent with the marker bit set: they belong to the next picture
            self._prefix = nals[-16:]
            return
        self._prefix = []
        if not h264.nals_look_valid(nals):
            self._owner._listener.on_invalid()
            return
        keyframe = h264.NAL_IDR in kinds
        if keyframe:
            self._sets = h264.learn_from_nals(nals, self._sets)
            if h264.NAL_SPS not in kinds and self._sets:
                nals = [*self._sets.sps, *self._sets.pps, *nals]
            if not self._described and self._sets:
                # no sprop-parameter-sets in the SDP: the size and profile come in-band
                self._described = True
                self._owner._listener.on_open(self._info())
        self.first_unit = self.first_unit or at
        self._owner._listener.on_unit(AccessUnit(
            data=b"".join(h264.START + n for n in nals), pts=self._unwrap(unit.timestamp),
            time_base=self._time_base, keyframe=keyframe, generation=self._generation,
            received=at, nals=tuple(nals)))

    def _unwrap(self, ts: int) -> int:
        """RTP timestamps start anywhere and wrap at 2^32; pts start at 0 and do not."""
        if self._last_ts is not None:
            delta = (ts - self._last_ts) & 0xFFFFFFFF
            self._pts += delta - (1 << 32) if delta >= 1 << 31 else delta
        self._last_ts = ts
        return self._pts
