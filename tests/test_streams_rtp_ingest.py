"""The RTP ingest (iocwall.streams.rtp_ingest) on the real simulator and on real RTP bytes."""
from __future__ import annotations

import asyncio
import logging
import time
from itertools import pairwise

import av
import pytest

from iocwall.streams import h264
from iocwall.streams.channel import Channel
from iocwall.streams.fanout import AccessUnit
from iocwall.streams.rtp_ingest import RtpPuller, _Session
from iocwall.streams.rtsp.sdp import VideoTrack
from iocwall.streams.source import Ingest, PacketCounts, PullSettings, SourceInfo
from iocwall.streams.urls import parse
from tests.fixtures.ports import free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(60)

SPS = bytes.fromhex("6764001facb200a00b7420000003002000000651e30649")   # libx264 1280x720
PPS = bytes.fromhex("68ebc3cb22c0")


class Recorder:
    def __init__(self) -> None:
        self.infos: list[SourceInfo] = []
        self.units: list[AccessUnit] = []
        self.fails: list[str] = []
        self.invalid = 0
        self.counts: list[PacketCounts] = []

    def on_open(self, info) -> None:
        self.infos.append(info)

    def on_unit(self, unit) -> None:
        self.units.append(unit)

    def on_invalid(self) -> None:
        self.invalid += 1

    def on_fail(self, reason: str) -> None:
        self.fails.append(reason)

    def on_packets(self, counts) -> None:
        self.counts.append(counts)

    @property
    def transports(self) -> set[str]:
        return {info.transport for info in self.infos}

    def total(self, name: str) -> int:
        return sum(getattr(c, name) for c in self.counts)


def rtp(seq: int, ts: int, payload: bytes, marker: bool) -> bytes:
    head = bytes([0x80, (0x80 if marker else 0) | 96]) + seq.to_bytes(2, "big")
    return head + ts.to_bytes(4, "big") + (1234).to_bytes(4, "big") + payload


def session_with(recorder: Recorder) -> _Session:
    owner = RtpPuller.__new__(RtpPuller)
    owner._listener = recorder
    session = _Session(owner)
    session.track = VideoTrack(96, "H264", 90000, "", {})
    session.open(1)
    return session


def test_unit_ends_on_marker_and_fu_a_is_reassembled():
    rec = Recorder()
    s = session_with(rec)
    idr = bytes([0x65]) + bytes(range(1, 200))
    s.on_packet(rtp(1, 1000, bytes([0x78, 0, len(SPS)]) + SPS + bytes([0, len(PPS)]) + PPS,
                    False), 1.0)                                     # STAP-A: SPS + PPS
    s.on_packet(rtp(2, 1000, bytes([0x7C, 0x85]) + idr[1:100], False), 1.0)   # FU-A start
    assert rec.units == []
    s.on_packet(rtp(3, 1000, bytes([0x7C, 0x45]) + idr[100:], True), 1.1)     # FU-A end, marker
    assert len(rec.units) == 1, "the unit is out on its marker packet, not on the next one"
    unit = rec.units[0]
    assert unit.keyframe and unit.received == 1.1 and unit.pts == 0
    assert list(h264.split_annexb(unit.data)) == [SPS, PPS, idr]
    # in-band parameter sets describe a stream whose SDP had none
    assert rec.infos and rec.infos[-1].width == 1280 and rec.infos[-1].profile_level_id == "64001f"


def test_marked_parameter_sets_join_the_next_picture_and_timestamps_unwrap():
    rec = Recorder()
    s = session_with(rec)
    s.on_packet(rtp(1, 2**32 - 3000, SPS, True), 0.0)    # a camera that marks its SPS
    s.on_packet(rtp(2, 2**32 - 3000, PPS, True), 0.0)
    s.on_packet(rtp(3, 2**32 - 3000, bytes([0x65, 0x88, 0x84]), True), 0.0)
    s.on_packet(rtp(4, 3000, bytes([0x41, 0x9A, 0x02]), True), 0.1)   # wraps past 2^32
    s.on_packet(rtp(5, 9000, bytes([0x41, 0x9A, 0x04]), False), 0.2)  # marker lost ...
    s.on_packet(rtp(6, 15000, bytes([0x41, 0x9A, 0x06]), True), 0.3)  # ... closed by timestamp
    assert [u.pts for u in rec.units] == [0, 6000, 12000, 18000]
    assert [h264.nal_type(n) for n in h264.split_annexb(rec.units[0].data)] == [7, 8, 5]
    assert [u.keyframe for u in rec.units] == [True, False, False, False]


def test_garbage_is_counted_not_forwarded():
    rec = Recorder()
    s = session_with(rec)
    s.on_packet(b"\x00\x01garbage", 0.0)                              # not RTP v2
    s.on_packet(rtp(1, 10, bytes([0x9C, 0x85, 1, 2, 3]), True), 0.0)  # forbidden bit set
    s.on_packet(rtp(2, 20, bytes([0x7F, 1, 2]), True), 0.0)           # reserved NAL type 31
    s.flush_counts()
    assert rec.units == [] and rec.total("corrupt") == 3     # counted, for /metrics


async def test_pulls_the_simulator_with_digest_or_basic_auth_and_units_decode(simulator):
    url = parse(simulator.url(1, "sub", auth=False), simulator.user, simulator.password)
    rec = Recorder()
    puller = RtpPuller("cam1/sub", url, PullSettings(2.0, 2.0, 0.1, 0.5), rec,
                       asyncio.get_running_loop())
    puller.start()
    try:
        await wait_until(lambda: sum(u.keyframe for u in rec.units) >= 1 and len(rec.units) > 30,
                         10, "a keyframe and 30 units")
    finally:
        await puller.stop()
    assert not puller.running
    info = rec.infos[0]
    assert (info.codec, info.width, info.height) == ("h264", 640, 360) and info.parameter_sets
    first_key = next(i for i, u in enumerate(rec.units) if u.keyframe)
    units = rec.units[first_key:]
    assert h264.access_unit_info(units[0].data) == (True, True), "SPS/PPS before the keyframe"
    steps = {b.pts - a.pts for a, b in pairwise(units)}
    assert steps == {6000}, steps                   # 15 fps on the 90 kHz clock
    ctx = av.CodecContext.create("h264", "r")
    frames = sum(len(ctx.decode(av.Packet(u.data))) for u in units)
    assert frames >= len(units) - 2                # a low-delay decoder keeps at most one back


async def test_refused_camera_retries_without_leaking_the_password(caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()
    url = parse(f"rtsp://viewer:S3cr%40t-pw@127.0.0.1:{port}/cam1/main")
    rec = Recorder()
    puller = RtpPuller("c1/main", url, PullSettings(1.0, 1.0, 0.05, 0.1), rec,
                       asyncio.get_running_loop())
    puller.start()
    await wait_until(lambda: len(rec.fails) >= 2, 5, "two failed sessions")
    started = time.monotonic()
    await puller.stop()
    assert time.monotonic() - started < 1.5 and not puller.running
    assert len(rec.fails) >= 2, "the puller keeps retrying"
    text = " ".join(rec.fails) + caplog.text
    assert f"127.0.0.1:{port}" in text
    assert "S3cr" not in text and "viewer:" not in text and "viewer@" not in text


async def test_wrong_password_is_reported(simulator):
    url = parse(simulator.url(1, "sub", auth=False), simulator.user, "wrong-password")
    rec = Recorder()
    puller = RtpPuller("cam1/sub", url, PullSettings(2.0, 2.0, 0.5, 1.0), rec,
                       asyncio.get_running_loop())
    puller.start()
    await wait_until(lambda: rec.fails, 5, "a failed session")
    await puller.stop()
    assert rec.fails and "401" in rec.fails[0] and "wrong-password" not in rec.fails[0]
    assert rec.units == []


async def test_channel_uses_the_configured_ingest():
    settings = PullSettings(1.0, 1.0, 0.05, 0.1, ingest=Ingest.RTP)
    ch = Channel("cam", "sub", parse(f"rtsp://127.0.0.1:{free_port()}/x"), settings, 2.0, 1.0)
    ch.acquire()
    try:
        assert isinstance(ch._puller, RtpPuller)
    finally:
        await ch.stop()
