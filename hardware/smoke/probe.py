"""One stream, one transport: handshake, then watch the media for a few seconds.

The result keeps raw observations (times, counts, timestamps); turning them
into PASS/WARN/FAIL is the job of ``checks``.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from iocwall.streams.rtsp.auth import AuthScheme
from iocwall.streams.rtsp.errors import RtspError
from iocwall.streams.rtsp.rtp import (
    NAL_PPS,
    NAL_SPS,
    START,
    H264Depacketizer,
    RtpError,
    RtpFrame,
    RtpPacket,
    SequenceTracker,
    parse_rtp,
)
from iocwall.streams.rtsp.rtsp_client import RtspClient, Transport
from iocwall.streams.rtsp.sdp import VideoTrack
from iocwall.streams.urls import CameraUrl

from .decoder import DecodeStats, FrameDecoder

Progress = Callable[[str], None]
STALL_S = 2.0  # a live camera that sends nothing for this long has stalled


class Step:
    CONNECT, HANDSHAKE, MEDIA = "connect", "handshake", "media"


@dataclass
class AuRecord:
    timestamp: int
    arrived: float
    keyframe: bool
    size: int


@dataclass
class ProbeResult:
    label: str
    transport: Transport
    seconds: float
    connect_s: float | None = None
    auth: AuthScheme = AuthScheme.NONE
    track: VideoTrack | None = None
    error: RtspError | None = None
    failed_step: str | None = None
    play_at: float | None = None
    packets: int = 0
    payload_bytes: int = 0
    bad_rtp: int = 0
    first_packet_at: float | None = None
    last_packet_at: float | None = None
    sequence: SequenceTracker = field(default_factory=SequenceTracker)
    units: list[AuRecord] = field(default_factory=list)
    corrupt_payloads: int = 0
    sps: list[bytes] = field(default_factory=list)  # SDP first, then in-band ones that differ
    decode: DecodeStats = field(default_factory=DecodeStats)
    stalled_after: float | None = None
    stall_gap: float | None = None
    dropped_after: float | None = None

    @property
    def handshake_ok(self) -> bool:
        return self.play_at is not None


class StreamProbe:
    def __init__(self, url: CameraUrl, label: str, transport: Transport, seconds: float,
                 timeout: float, progress: Progress) -> None:
        self.result = ProbeResult(label, transport, seconds)
        self._url, self._timeout, self._progress = url, timeout, progress
        self._depack = H264Depacketizer()
        self._decoder: FrameDecoder | None = None
        self._sdp_sets: dict[int, bytes] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> ProbeResult:
        r = self.result
        client = RtspClient(self._url, self._timeout, self._on_packet, "iocwall-smoke/0.1")
        step = Step.CONNECT
        try:
            r.connect_s = await client.connect()
            step = Step.HANDSHAKE
            await self._handshake(client)
            step = Step.MEDIA
            await self._watch(client)
        except RtspError as exc:
            r.error, r.failed_step = exc, step
        finally:
            r.auth = client.auth_scheme
            for task in list(self._tasks):
                task.cancel()
            await client.close()
            if self._decoder is not None:
                await asyncio.to_thread(self._decoder.finish, 3.0)
                r.decode = self._decoder.stats
            r.corrupt_payloads = self._depack.corrupt
        return r

    async def _handshake(self, client: RtspClient) -> None:
        r = self.result
        await client.options()
        r.track = await client.describe()
        if r.track.encoding == "H264":
            self._sdp_sets = {n[0] & 0x1F: n for n in r.track.parameter_sets()}
            if NAL_SPS in self._sdp_sets:
                r.sps.append(self._sdp_sets[NAL_SPS])
            self._decoder = FrameDecoder()
        await client.setup(r.track, self.result.transport)
        play_at = time.monotonic()
        await client.play()
        r.play_at = play_at

    async def _watch(self, client: RtspClient) -> None:
        r = self.result
        assert r.play_at is not None
        shown = 0
        keepalive_at = r.play_at + client.session_timeout / 2
        while True:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            if client.closed.is_set():
                r.dropped_after = now - r.play_at
                return
            if self._stalled(now):
                return
            started = r.first_packet_at
            elapsed = 0.0 if started is None else now - started
            if elapsed >= r.seconds:
                return
            if int(elapsed) > shown:
                shown = int(elapsed)
                self._progress(f"measuring {r.label} over {r.transport.value}… "
                               f"{shown}/{r.seconds:g} s")
            if now >= keepalive_at:
                keepalive_at = now + client.session_timeout / 2
                task = asyncio.create_task(client.keepalive())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _stalled(self, now: float) -> bool:
        r = self.result
        assert r.play_at is not None
        if r.last_packet_at is None:
            if now - r.play_at < max(STALL_S, self._timeout):
                return False
            r.stalled_after, r.stall_gap = 0.0, now - r.play_at
            return True
        if now - r.last_packet_at < STALL_S:
            return False
        assert r.first_packet_at is not None
        r.stalled_after = r.last_packet_at - r.first_packet_at
        r.stall_gap = now - r.last_packet_at
        return True

    def _on_packet(self, data: bytes, arrived: float) -> None:
        r = self.result
        if r.play_at is None and r.transport is Transport.UDP and r.track is None:
            return  # stray datagram before SETUP
        try:
            pkt = parse_rtp(data)
        except RtpError:
            r.bad_rtp += 1
            return
        if r.track is not None and pkt.payload_type != r.track.payload_type:
            return
        r.packets += 1
        r.payload_bytes += len(data)
        r.first_packet_at = r.first_packet_at or arrived
        r.last_packet_at = arrived
        r.sequence.add(pkt.sequence_number)
        if self._decoder is None:
            self._count_picture(pkt, arrived)
            return
        for au in self._depack.push(pkt):
            self._note_sps(au.nals)
            r.units.append(AuRecord(au.timestamp, arrived, au.keyframe, au.size))
            self._decoder.submit(self._with_parameter_sets(au))

    def _count_picture(self, pkt: RtpPacket, arrived: float) -> None:
        """Codecs we do not depacketize: one picture per new RTP timestamp (rate, clock only)."""
        units = self.result.units
        if not units or units[-1].timestamp != pkt.timestamp:
            units.append(AuRecord(pkt.timestamp, arrived, False, 0))

    def _note_sps(self, nals: list[bytes]) -> None:
        for nal in nals:
            if nal[0] & 0x1F == NAL_SPS and (not self.result.sps or self.result.sps[-1] != nal):
                self.result.sps.append(nal)

    def _with_parameter_sets(self, au: RtpFrame) -> bytes:
        """Keyframes without in-band SPS/PPS get the latest known ones (many cameras send
        them only in the SDP)."""
        if not au.keyframe:
            return au.annexb()
        kinds = {n[0] & 0x1F for n in au.nals}
        known = {NAL_SPS: self._depack.sps or self._sdp_sets.get(NAL_SPS),
                 NAL_PPS: self._depack.pps or self._sdp_sets.get(NAL_PPS)}
        prefix = [nal for kind, nal in known.items() if kind not in kinds and nal]
        return b"".join(START + n for n in prefix) + au.annexb()
