"""RTP over UDP in the ingest: reorder and loss on real datagrams, RTCP receiver reports
that keep a camera's session alive, and a UDP-only RTSP server we did not write (VLC).
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from iocwall.streams import h264
from iocwall.streams.rtp_ingest import RtpPuller
from iocwall.streams.rtsp.reorder import ReorderBuffer
from iocwall.streams.rtsp.rtp import parse_rtp
from iocwall.streams.rtsp.rtsp_client import Transport
from iocwall.streams.rtsp.udp import open_udp_pair
from iocwall.streams.source import PullSettings
from iocwall.streams.urls import parse
from tests.fixtures.ports import free_port
from tests.streams_helpers import Cam, media_server, viewing
from tests.test_streams_rtp_ingest import PPS, SPS, Recorder, rtp, session_with
from tests.waiting import wait_until, wait_until_sync

pytestmark = pytest.mark.timeout(90)


def test_reorder_buffer_bounds_and_counts():
    buf = ReorderBuffer(max_packets=4, max_wait_s=0.05)
    pkt = {n: parse_rtp(rtp(n & 0xFFFF, 0, bytes([0x41, n & 0xFF]), True)) for n in range(80)}

    def seq(out: list) -> list[int]:
        return [p.sequence_number for p in out]

    assert seq(buf.push(pkt[10], 0.0)) == [10]            # in order: out at once
    assert seq(buf.push(pkt[12], 0.0)) == []              # 11 missing: 12 waits
    assert seq(buf.push(pkt[11], 0.01)) == [11, 12]       # 11 heals the gap
    assert seq(buf.push(pkt[11], 0.02)) == []             # a duplicate: late, dropped
    assert seq(buf.push(pkt[14], 0.03)) == [] and buf.deadline() == pytest.approx(0.08)
    assert buf.expire(0.05) == []                         # not yet
    assert seq(buf.expire(0.09)) == [14]                  # 13 given up: lost
    assert seq(buf.push(pkt[13], 0.1)) == []              # ... and late when it comes
    for n in range(16, 21):                               # 15 missing, 5 held > max_packets
        out = buf.push(pkt[n], 0.2)
    assert seq(out) == [16, 17, 18, 19, 20] and buf.held == 0
    s = buf.stats
    assert (s.lost, s.late, s.reordered) == (2, 2, 1)


def test_reorder_buffer_wraps_and_follows_a_restarted_sender():
    buf = ReorderBuffer()
    out = []
    for n in (65534, 0, 65535, 1):                        # reordered across the wrap
        out += buf.push(parse_rtp(rtp(n, 0, b"\x41\x00", True)), 0.0)
    assert [p.sequence_number for p in out] == [65534, 65535, 0, 1]
    out = buf.push(parse_rtp(rtp(30000, 0, b"\x41\x00", True)), 0.0)   # sender restarted
    assert [p.sequence_number for p in out] == [30000]
    assert buf.stats.resyncs == 1 and buf.stats.lost == 0


async def test_udp_reorder_and_loss_on_loopback_datagrams():
    """Real datagrams through our UDP socket pair: swapped packets are put back in order and
    give whole pictures; a lost one is counted, playing goes on; a stranger is dropped."""
    rec = Recorder()
    s = session_with(rec)
    s.use(None, Transport.UDP)  # type: ignore[arg-type]
    pair = await open_udp_pair("127.0.0.1", s.on_packet, s.on_rtcp)
    pair.connect("127.0.0.1", None)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stranger.bind(("127.0.0.2", 0))
    to = ("127.0.0.1", pair.rtp_port)
    idr = bytes([0x65]) + bytes(range(1, 250))
    stap = bytes([0x78, 0, len(SPS)]) + SPS + bytes([0, len(PPS)]) + PPS
    packets = [rtp(1, 0, stap, False),
               rtp(2, 0, bytes([0x7C, 0x85]) + idr[1:120], False),
               rtp(3, 0, bytes([0x7C, 0x45]) + idr[120:], True)]            # keyframe
    packets += [rtp(3 + k, 3000 * k, bytes([0x41, 0x9A, k]), True) for k in range(1, 9)]
    order = [0, 2, 1, 3, 4, 6, 7, 8, 9, 10]      # 2 and 1 swapped; packet 5 (picture 3) lost
    try:
        for i in order:
            sender.sendto(packets[i], to)
            if i == 6:
                stranger.sendto(rtp(99, 0, bytes([0x41, 0]), True), to)
            await asyncio.sleep(0.005)
        await wait_until(lambda: len(rec.units) >= 8, 3, "8 units over UDP")
        await asyncio.sleep(0.1)                 # the gap's wait is over by now
        s.flush_counts()
    finally:
        sender.close()
        stranger.close()
        pair.close()
        s.close()
    first = rec.units[0]
    assert first.keyframe and list(h264.split_annexb(first.data)) == [SPS, PPS, idr]
    assert [u.pts // 3000 for u in rec.units] == [0, 1, 2, 4, 5, 6, 7, 8]   # 3 is lost
    assert (rec.total("lost"), rec.total("reordered")) == (1, 1)
    assert pair.foreign == 1 and rec.total("corrupt") == 0   # the stranger: dropped, apart


async def test_receiver_reports_keep_a_udp_session_alive(simulator_factory):
    """Our simulator reaps a UDP session it hears nothing from: RTCP RRs keep it playing."""
    sim = simulator_factory(cameras=1, extra=["--session-timeout", "3"])
    url = parse(sim.url(1, "sub", auth=False), sim.user, sim.password, transport="udp")
    rec = Recorder()
    puller = RtpPuller("cam1/sub", url, PullSettings(2.0, 2.0, 0.1, 0.5), rec,
                       asyncio.get_running_loop())
    puller.start()
    try:
        await asyncio.sleep(7.5)                 # more than twice the session timeout
        recent = [u for u in rec.units if u.received > time.monotonic() - 1.0]
    finally:
        await puller.stop()
    assert not rec.fails, rec.fails
    assert len(recent) >= 10, "still playing after 2.5 session timeouts"
    assert sim.stats()["sessions_reaped"] == 0 and rec.transports == {"udp"}
    assert rec.total("lost") == 0


# --- a UDP-only RTSP server we did not write: VLC's built-in one -------------------------

def _vlc_command() -> list[str]:
    cvlc = shutil.which("cvlc")
    if cvlc is None:
        pytest.fail("cvlc not found: install vlc-bin and vlc-plugin-base (make deps)")
    # VLC refuses to run as root; run it as nobody when we are root (CI containers)
    if os.geteuid() == 0:
        return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", cvlc]
    return [cvlc]


@pytest.fixture(scope="module")
def vlc_server() -> Iterator[str]:
    # VLC runs as nobody: pytest's temp root (0700) is closed to it, so a folder of our own
    folder = Path(tempfile.mkdtemp(prefix="iocwall-vlc-"))
    folder.chmod(0o755)
    # long enough never to loop during the tests: at a loop VLC restarts its track and
    # its RTSP sessions go silent (a property of VLC's server, not of a camera)
    clip = folder / "clip.ts"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=15", "-t", "120", "-c:v", "libx264", "-preset",
                    "ultrafast", "-tune", "zerolatency", "-g", "15", "-bf", "0", "-pix_fmt",
                    "yuv420p", str(clip)], check=True, timeout=60)
    clip.chmod(0o644)
    port = free_port()
    log = open(folder / "vlc.log", "w")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(_vlc_command() + [
        "-I", "dummy", "--no-audio", str(clip), "--loop", "--sout-keep",
        "--sout", f"#rtp{{sdp=rtsp://127.0.0.1:{port}/live}}"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    url = f"rtsp://127.0.0.1:{port}/live"
    try:
        def up() -> bool:                    # listening, and its SDP has the video track
            if proc.poll() is not None:
                raise AssertionError(f"VLC exited ({proc.returncode})")
            return _describe(url) is not None
        try:
            wait_until_sync(up, 20, "VLC's RTSP server up", step=0.2)
        except AssertionError as exc:
            pytest.fail(f"{exc}: " + (folder / "vlc.log").read_text()[-2000:])
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def test_vlc_really_refuses_tcp_interleaved(vlc_server: str):
    """The premise of the next tests, checked with bytes of our own, not our client."""
    sdp = _describe(vlc_server)
    assert sdp is not None
    control = [line for line in sdp.splitlines()
               if line.startswith("a=control:")][-1][len("a=control:"):]
    with socket.create_connection(_address(vlc_server), 3) as s:
        s.settimeout(3)
        s.sendall(f"SETUP {control} RTSP/1.0\r\nCSeq: 2\r\n"
                  "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n\r\n".encode())
        reply = _answer(s)
    assert reply.startswith("RTSP/1.0 461"), reply


def _address(url: str) -> tuple[str, int]:
    host, port = url.split("/")[2].split(":")
    return host, int(port)


def _describe(url: str) -> str | None:
    """The SDP of ``url`` once it has a video track, else None (our own bytes, not our client)."""
    try:
        with socket.create_connection(_address(url), 1) as s:
            s.settimeout(2)
            s.sendall(f"DESCRIBE {url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
            sdp = _answer(s).split("\r\n\r\n", 1)[1]
    except OSError:
        return None
    return sdp if "m=video" in sdp else None


def _answer(s: socket.socket) -> str:
    """One RTSP answer: its head, then as many body bytes as Content-Length says."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(4096)
    head, body = data.split(b"\r\n\r\n", 1)
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += s.recv(4096)
    return (head + b"\r\n\r\n" + body).decode()


async def _pull(url: str, mode: str, seconds: float) -> Recorder:
    rec = Recorder()
    puller = RtpPuller("vlc/main", parse(url, transport=mode), PullSettings(3.0, 3.0, 0.2, 0.5),
                       rec, asyncio.get_running_loop())
    puller.start()
    try:
        await wait_until(lambda: len(rec.units) >= 30 or len(rec.fails) >= 1, seconds,
                         "30 units or a failure")
    finally:
        await puller.stop()
    return rec


async def test_auto_falls_back_to_udp_on_a_udp_only_server(vlc_server: str, caplog):
    caplog.set_level(logging.INFO, logger="iocwall.streams.rtp_ingest")
    rec = await _pull(vlc_server, "auto", 15)
    assert not rec.fails, rec.fails
    assert "refused RTP over TCP (461): trying UDP" in caplog.text
    assert "RTP over UDP" in caplog.text and rec.transports == {"udp"}
    assert rec.infos[-1].width == 320 and rec.infos[-1].height == 240
    keys = [i for i, u in enumerate(rec.units) if u.keyframe]
    assert keys, "a keyframe arrived"
    ctx = av.CodecContext.create("h264", "r")
    frames = sum(len(ctx.decode(av.Packet(u.data))) for u in rec.units[keys[0]:])
    assert frames >= len(rec.units[keys[0]:]) - 2          # the pictures decode
    steps = {b.pts - a.pts for a, b in itertools.pairwise(rec.units)}
    # 15 fps (VLC rounds its timestamps by a tick), nothing lost on loopback
    assert all(abs(step - 6000) <= 2 for step in steps), steps
    assert rec.total("lost") == 0


async def test_tcp_only_fails_clearly_and_udp_plays_directly(vlc_server: str):
    rec = await _pull(vlc_server, "tcp", 8)
    assert rec.fails and "461" in rec.fails[0] and not rec.units
    rec = await _pull(vlc_server, "udp", 15)
    assert not rec.fails and len(rec.units) >= 30 and rec.transports == {"udp"}



@dataclass
class UdpCam(Cam):
    transport: str = "auto"


async def test_a_udp_only_camera_plays_through_whep(vlc_server: str):
    """The whole path: media server -> WebRTC viewer, from a camera that refuses TCP."""
    from iocwall.streams.health import StreamState

    cam = UdpCam("vlc", "VLC", vlc_server, "", "", "", "")
    async with media_server([cam]) as media:
        async with viewing(media, "vlc", "main") as viewer:
            await viewer.first_frame(15)
            frames = await viewer.count_during(1.5)
        health = media.channel("vlc", "main").snapshot()
    assert len(frames) >= 15 and {(f.width, f.height) for f in frames} == {(320, 240)}
    assert health.state is StreamState.LIVE and health.transport == "udp"
    assert health.rtp_lost == 0 and health.rtp_corrupt == 0


def test_transport_header_parser_on_captured_answers():
    """One parser for both sides; captured from VLC 3.0.24 and from our simulator."""
    from iocwall.streams.rtsp.transport import parse_transport

    vlc = parse_transport("RTP/AVP/UDP;unicast;client_port=40000-40001;"
                          "server_port=44802-44803;ssrc=99693B09;mode=play")
    assert vlc.udp and not vlc.tcp and not vlc.multicast
    assert vlc.pair("server_port") == (44802, 44803) and vlc.get("ssrc") == "99693B09"
    sim = parse_transport("RTP/AVP/TCP;unicast;interleaved=2-3;ssrc=0A0B0C0D")
    assert sim.tcp and sim.pair("interleaved") == (2, 3)
    asked = parse_transport("RTP/AVP;multicast;client_port=5000, RTP/AVP/TCP;interleaved=0-1")
    assert asked.multicast and asked.pair("client_port") == (5000, 5001)   # the first choice
    assert parse_transport("RTP/AVP;client_port=x-1").pair("client_port") is None
    assert parse_transport("").protocol == ""


def test_receiver_report_counts_loss_across_the_sequence_wrap():
    """Our RR, read back with aiortc's RTCP parser: loss, highest sequence with its cycle."""
    from aiortc.rtp import RtcpPacket, RtcpRrPacket, RtcpSdesPacket

    from iocwall.streams.rtsp.rtcp import ReceptionStats, receiver_report

    stats = ReceptionStats()
    for i in range(10):
        if i != 4:                                  # one of ten lost
            stats.add(parse_rtp(rtp((65530 + i) & 0xFFFF, i * 3000, b"\x41\x00", True)), i / 30)
    rr, sdes = RtcpPacket.parse(receiver_report(0xABCD, stats, 1.0))
    assert isinstance(rr, RtcpRrPacket) and isinstance(sdes, RtcpSdesPacket)
    block = rr.reports[0]
    assert (rr.ssrc, block.ssrc, block.packets_lost) == (0xABCD, 1234, 1)
    assert block.highest_sequence == 65539 and block.fraction_lost == 25   # 1/10 of 256
    assert sdes.chunks[0].items == [(1, b"iocwall")]
