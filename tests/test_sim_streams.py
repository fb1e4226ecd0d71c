"""The simulator's streams, read by independent clients: Debian's ffprobe/ffmpeg and PyAV."""
from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import pytest

from iocwall.hardware import stamp

pytestmark = pytest.mark.timeout(180)


def ffprobe(url: str, transport: str) -> dict:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", transport, "-show_entries",
         "stream=codec_name,profile,width,height,r_frame_rate", "-of", "json", url],
        capture_output=True, text=True, timeout=40)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["streams"][0]


def ffmpeg_decode(url: str, transport: str, seconds: int) -> tuple[int, str]:
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-rtsp_transport", transport, "-i", url,
         "-t", str(seconds), "-f", "null", "-"],
        capture_output=True, text=True, timeout=seconds + 40)
    return out.returncode, out.stderr


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffprobe_reads_both_streams(simulator, transport):
    main = ffprobe(simulator.url(1, "main"), transport)
    sub = ffprobe(simulator.url(1, "sub"), transport)
    assert (main["codec_name"], main["width"], main["height"]) == ("h264", 1920, 1080)
    assert (sub["codec_name"], sub["width"], sub["height"]) == ("h264", 640, 360)
    assert main["profile"] in ("Main", "High") and sub["profile"] in ("Main", "High")
    assert main["r_frame_rate"] == "25/1" and sub["r_frame_rate"] == "15/1"


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffmpeg_decodes_ten_seconds_without_errors(simulator, transport):
    urls = [simulator.url(2, "main"), simulator.url(2, "sub")]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda u: ffmpeg_decode(u, transport, 10), urls))
    for url, (code, errors) in zip(urls, results, strict=True):
        assert code == 0 and errors == "", f"{url.split('@')[-1]}: {errors[-2000:]}"


def _stamps(url: str, frames: int) -> list[tuple[int | None, float]]:
    import av

    out = []
    container = av.open(url, options={"rtsp_transport": "tcp"}, timeout=20)
    try:
        for i, frame in enumerate(container.decode(video=0)):
            out.append((stamp.decode(frame.to_ndarray(format="gray")), time.time() * 1000))
            if i + 1 >= frames:
                break
    finally:
        container.close()
    return out


@pytest.mark.parametrize("stream,fps", [("main", 25), ("sub", 15)])
def test_stamp_in_every_frame_tracks_send_time(simulator, stream, fps):
    stamps = _stamps(simulator.url(3, stream), 3 * fps)
    values = [v for v, _ in stamps]
    assert None not in values, "a frame without a readable stamp"
    steps = [b - a for a, b in pairwise(values)]
    period = 1000 / fps
    # Consecutive frames are stamped one frame period apart (the send time, not the loop time).
    assert all(0 < s < 3 * period for s in steps), steps
    assert abs(sum(steps) / len(steps) - period) < period / 4
    # Once the client's start-up buffering is drained, decode time - stamp is small and positive.
    tail = [stamp.latency_ms(v, int(now)) for v, now in stamps[-fps:]]
    assert 0 <= min(tail) < 250, tail


def test_streams_of_different_cameras_differ(simulator):
    import av

    def first_frame(k: int):
        container = av.open(simulator.url(k, "sub"), options={"rtsp_transport": "tcp"}, timeout=20)
        try:
            frame = next(container.decode(video=0))
            return frame.to_ndarray(format="gray")[64:, :]
        finally:
            container.close()

    a, b = first_frame(1), first_frame(2)
    assert abs(float(a.mean()) - float(b.mean())) > 0.5 or (abs(a.astype(int) - b).mean() > 5)


def test_live_mode_stamp_is_capture_time(simulator_factory):
    sim = simulator_factory(cameras=1, extra=["--live"])
    out = ffprobe(sim.url(1, "main"), "tcp")
    assert (out["width"], out["height"], out["profile"]) == (1920, 1080, "High")
    stamps = _stamps(sim.url(1, "sub"), 30)
    assert None not in [v for v, _ in stamps]
    tail = [stamp.latency_ms(v, int(now)) for v, now in stamps[-10:]]
    # Capture -> render/encode -> RTP -> decode: positive and well under a second on loopback.
    assert all(0 < ms < 1500 for ms in tail), tail


def _receive_aus(sim, path: str, seconds: float,
                 rtcp: list[bytes] | None = None) -> list[tuple[bytes, float]]:
    """Access units over TCP interleaved RTP, each with the arrival time of its last packet."""
    from tests.test_sim_rtsp import RawRtsp

    c = RawRtsp(sim)
    status, headers, _ = c.request("SETUP", f"{path}/trackID=0",
                                   {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
    assert status == 200
    session = headers["session"].split(";")[0]
    assert c.request("PLAY", path, {"Session": session})[0] == 200
    aus, current, buf = [], bytearray(), bytearray(c.buffer)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            chunk = c.sock.recv(65536)
            assert chunk, "connection closed"
            buf += chunk
            while len(buf) >= 4 and buf[0] == 0x24:
                size = int.from_bytes(buf[2:4], "big")
                if len(buf) < 4 + size:
                    break
                channel, packet = buf[1], bytes(buf[4:4 + size])
                del buf[:4 + size]
                if channel != 0:
                    if rtcp is not None:
                        rtcp.append(packet)
                    continue
                payload, kind = packet[12:], packet[12] & 0x1F
                if kind == 28:
                    if payload[1] & 0x80:
                        header = (payload[0] & 0xE0) | (payload[1] & 0x1F)
                        current += b"\x00\x00\x00\x01" + bytes([header])
                    current += payload[2:]
                elif kind == 24:  # STAP-A: 16-bit size, unit, ... (SPS + PPS, aggregated)
                    pos = 1
                    while pos + 2 <= len(payload):
                        size = int.from_bytes(payload[pos:pos + 2], "big")
                        current += b"\x00\x00\x00\x01" + payload[pos + 2:pos + 2 + size]
                        pos += 2 + size
                else:
                    current += b"\x00\x00\x00\x01" + payload
                if packet[1] & 0x80:  # marker: the access unit is complete
                    aus.append((bytes(current), time.time() * 1000))
                    current = bytearray()
    finally:
        c.close()
    return aus


@pytest.mark.parametrize("stream,fps", [("main", 25), ("sub", 15)])
def test_stamp_is_the_send_time_within_a_frame_period(simulator, stream, fps):
    import av

    codec = av.CodecContext.create("h264", "r")
    offsets, rtcp = [], []
    for data, arrived in _receive_aus(simulator, f"/cam4/{stream}", 3.0, rtcp):
        for frame in codec.decode(av.Packet(data)):
            value = stamp.decode(frame.to_ndarray(format="gray"))
            assert value is not None
            offsets.append(arrived - value)
    assert len(offsets) >= fps
    good = [o for o in offsets if -2 <= o < 1000 / fps]
    # Arrival on loopback is the send time; allow a few late frames on a busy machine.
    assert len(good) >= 0.9 * len(offsets), sorted(offsets)[-10:]
    # RTCP sender reports (PT 200) on the interleaved channel 1, about one a second.
    assert 2 <= sum(1 for p in rtcp if p[1] == 200) <= 5
