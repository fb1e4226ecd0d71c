"""One camera can never grow our memory without bound, and an old session's frames never
reach the viewers of a new one. Each bound is met by a hostile RTSP server written here.
"""
from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Awaitable, Callable

import pytest

from iocwall.streams import metrics
from iocwall.streams.channel import Channel
from iocwall.streams.fanout import AccessUnit
from iocwall.streams.rtp_ingest import RtpPuller
from iocwall.streams.rtsp.rtp import MAX_UNIT_BYTES
from iocwall.streams.source import PullSettings, SourceInfo
from iocwall.streams.urls import parse
from tests.test_streams_rtp_ingest import PPS, SPS, Recorder, rtp
from tests.test_streams_units import parse_prometheus
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(60)

SDP = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=hostile\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\n"
       "a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1;sprop-parameter-sets="
       f"{base64.b64encode(SPS).decode()},{base64.b64encode(PPS).decode()}\r\n"
       "a=control:track1\r\n")
IDR = bytes([0x65]) + bytes(range(1, 200))

Writer = asyncio.StreamWriter
Media = Callable[[Writer], Awaitable[None]]


class HostileCamera:
    """Speaks RTSP well enough to get to PLAY, then does ``media``; or misbehaves earlier."""

    def __init__(self, media: Media | None = None, describe: Media | None = None) -> None:
        self.media, self.describe = media, describe
        self.sent = 0                  # bytes of the hostile part written
        self.cut_off = asyncio.Event()  # the client closed on us
        self.server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"rtsp://127.0.0.1:{port}/cam"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode()
                method = head.split(" ", 1)[0]
                cseq = next(line.split(":")[1].strip() for line in head.split("\r\n")
                            if line.lower().startswith("cseq"))
                ok = f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n"
                if method == "DESCRIBE" and self.describe is not None:
                    writer.write(ok.encode())
                    await self.describe(writer)
                    return
                if method == "DESCRIBE":
                    writer.write(f"{ok}Content-Type: application/sdp\r\nContent-Base: "
                                 f"rtsp://127.0.0.1/cam/\r\nContent-Length: {len(SDP)}\r\n\r\n"
                                 f"{SDP}".encode())
                elif method == "SETUP":
                    writer.write(f"{ok}Session: 42;timeout=60\r\nTransport: RTP/AVP/TCP;"
                                 "unicast;interleaved=0-1\r\n\r\n".encode())
                elif method == "PLAY":
                    writer.write(f"{ok}Session: 42\r\n\r\n".encode())
                    await writer.drain()
                    if self.media is not None:
                        await self.media(writer)
                else:
                    writer.write(f"{ok}\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            self.cut_off.set()
        finally:
            writer.close()

    async def flood(self, writer: Writer, chunk: bytes, limit: int = 64 << 20) -> None:
        """Write ``chunk`` until the client hangs up (or ``limit`` bytes: then it never did)."""
        while self.sent < limit:
            writer.write(chunk)
            self.sent += len(chunk)
            await writer.drain()
        await asyncio.sleep(30)


def interleaved(packet: bytes) -> bytes:
    return b"$\x00" + len(packet).to_bytes(2, "big") + packet


async def pull(url: str, until: Callable[[Recorder], bool], seconds: float) -> Recorder:
    rec = Recorder()
    puller = RtpPuller("hostile", parse(url), PullSettings(2.0, 2.0, 0.05, 0.2), rec,
                       asyncio.get_running_loop())
    puller.start()
    try:
        await wait_until(lambda: until(rec), seconds, "the pull got what the test waits for")
    finally:
        await puller.stop()
    assert not puller.running
    return rec


@pytest.mark.parametrize("head,text", [
    (b"Content-Type: application/sdp\r\nContent-Length: 1000000000000\r\n\r\n",
     "1000000000000-byte answer"),                      # a body we must not wait for
    (b"X-Endless: ", "not RTSP"),                       # a header line that never ends
])
async def test_an_answer_past_our_limits_is_refused_not_read(head: bytes, text: str):
    cam = HostileCamera()

    async def hostile(writer: Writer) -> None:
        writer.write(head)
        await cam.flood(writer, b"a" * 65536)

    cam.describe = hostile
    async with cam as url:
        started = time.monotonic()
        rec = await pull(url, lambda r: len(r.fails) >= 2 and cam.cut_off.is_set(), 10)
    assert text in rec.fails[0] and time.monotonic() - started < 10
    assert cam.cut_off.is_set() and cam.sent < 16 << 20, "we hung up instead of reading on"


async def _keyframe_then(writer: Writer, packets: list[bytes], seq0: int) -> None:
    """A good keyframe, the hostile packets, then a good keyframe and a P picture again."""
    good = [rtp(seq0, 0, SPS, False), rtp(seq0 + 1, 0, PPS, False), rtp(seq0 + 2, 0, IDR, True)]
    writer.write(b"".join(interleaved(p) for p in good))
    seq = seq0 + 3
    for i in range(0, len(packets), 256):
        writer.write(b"".join(interleaved(p) for p in packets[i:i + 256]))
        await writer.drain()
    seq += len(packets)
    writer.write(interleaved(rtp(seq & 0xFFFF, 9000, IDR, True))
                 + interleaved(rtp((seq + 1) & 0xFFFF, 12000, b"\x41\x9a\x01", True)))
    await writer.drain()
    await asyncio.sleep(30)


async def test_an_access_unit_that_never_ends_is_dropped_at_its_bound():
    body = bytes([0x41]) + b"\x55" * 1399            # whole P slices, same picture, no marker
    count = MAX_UNIT_BYTES // 1400 + 200

    async def media(writer: Writer) -> None:
        await _keyframe_then(writer, [rtp((10 + i) & 0xFFFF, 3000, body, False)
                                      for i in range(count)], 7)

    async with HostileCamera(media) as url:
        rec = await pull(url, lambda r: len(r.units) >= 3 and r.total("corrupt") >= 1, 20)
    sizes = [len(u.data) for u in rec.units]
    assert [u.pts for u in rec.units[:3]] == [0, 9000, 12000], "the huge unit never came out"
    assert max(sizes) < 1000 and rec.total("corrupt") >= 1, (sizes, rec.counts)


async def test_an_unfinished_fu_a_is_dropped_at_its_bound():
    start = bytes([0x7C, 0x85]) + b"\x11" * 1398
    middle = bytes([0x7C, 0x05]) + b"\x22" * 1398    # never an end fragment

    async def media(writer: Writer) -> None:
        packets = [rtp(10, 3000, start, False)]
        packets += [rtp((11 + i) & 0xFFFF, 3000, middle, False)
                    for i in range(MAX_UNIT_BYTES // 1400 + 200)]
        await _keyframe_then(writer, packets, 7)

    async with HostileCamera(media) as url:
        rec = await pull(url, lambda r: len(r.units) >= 3 and r.total("corrupt") >= 1, 20)
    assert [u.pts for u in rec.units[:3]] == [0, 9000, 12000]
    assert max(len(u.data) for u in rec.units) < 1000 and rec.total("corrupt") >= 1


async def test_corrupt_packets_are_counted_in_metrics():
    async def media(writer: Writer) -> None:
        junk = [b"\x00junk-not-rtp", rtp(9, 0, bytes([0x9C, 0x85, 1]), True)]  # forbidden bit
        await _keyframe_then(writer, junk, 7)

    async with HostileCamera(media) as url:
        settings = PullSettings(2.0, 2.0, 0.05, 0.2)
        ch = Channel("hostile", "main", parse(url), settings, 2.0, 1.0)
        ch.acquire()
        try:
            await wait_until(lambda: ch.health.rtp_corrupt >= 2, 5, "2 corrupt packets counted")
        finally:
            await ch.stop()
    text = metrics.render([ch.snapshot()], metrics.ServerCounters(0, 0, 0, 0, 0))
    corrupt = 'iocwall_stream_rtp_corrupt_total{camera="hostile",stream="main"}'
    assert parse_prometheus(text)[corrupt] == 2
    assert ch.snapshot().to_json()["rtp_corrupt"] == 2


# --- generations: the channel's, not the puller's -------------------------------------

def _info(generation: int) -> SourceInfo:
    from iocwall.streams import h264
    return SourceInfo("h264", 320, 240, b"", h264.ParameterSets(), None, generation)


def _unit(generation: int, pts: int, keyframe: bool = True) -> AccessUnit:
    return AccessUnit(b"\x00\x00\x00\x01\x65\x88", pts, 1 / 90000, keyframe, generation, 0.0)


async def test_an_old_sessions_frames_never_reach_a_new_sessions_viewers():
    settings = PullSettings(2.0, 2.0, 5.0, 5.0)     # a dead port: the pullers only retry
    ch = Channel("cam", "main", parse("rtsp://127.0.0.1:9/x"), settings, 2.0, 0.0)
    viewer = ch.fanout.subscribe("viewer")
    try:
        ch.acquire()
        first = ch._binding
        assert first is not None
        first.on_open(_info(1))                      # puller A, its session 1
        first.on_unit(_unit(1, 0))
        # viewers leave, the puller is stopped; a new viewer starts puller B, whose
        # session is ALSO its number 1 (each puller counts from 1)
        ch.release()
        await wait_until(lambda: ch._binding is None, 5, "puller A stopped (no viewers)")
        ch.acquire()
        second = ch._binding
        assert second is not None and second is not first
        second.on_open(_info(1))
        first.on_unit(_unit(1, 3000))                # late unit of puller A: never shown
        second.on_unit(_unit(1, 90000))
        # puller B reconnects (its session 2); a late unit of its session 1 comes after
        second.on_open(_info(2))
        second.on_unit(_unit(1, 93000))
        second.on_unit(_unit(2, 180000))
        got = []
        while viewer.pending():
            got.append(await viewer.get())
    finally:
        ch.fanout.unsubscribe(viewer)
        await ch.stop()
    assert [u.pts for u in got] == [180000]          # only the newest session's unit is queued
    assert [u.generation for u in got] == [3]        # channel generations: A1=1, B1=2, B2=3
    assert ch.info is not None and ch.info.generation == 3
