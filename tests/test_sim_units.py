"""Wire formats of the simulator, checked against independent decoders (PyAV/FFmpeg)
and byte-exact round trips, plus the in-process Python API."""
from __future__ import annotations

import base64
import hashlib
import struct

import numpy as np
import pytest

from iocwall.hardware import stamp
from iocwall.hardware.sim import h264, rtp
from iocwall.hardware.sim.rtsp_auth import REALM, Authenticator
from iocwall.hardware.sim.rtsp_message import RtspError, request_reader
from iocwall.hardware.sim.stamp_patch import BitWriter
from iocwall.streams.rtsp import rtcp
from iocwall.streams.rtsp.message import MessageError, Request
from iocwall.streams.rtsp.rtp import PACKET_MAX, packetize


def test_escape_round_trip_and_emulation_prevention():
    data = bytes([0, 0, 0, 0, 0, 1, 0, 0, 2, 0, 0, 3, 7, 0, 0])
    escaped = h264.escape(data)
    assert b"\x00\x00\x00" not in escaped and b"\x00\x00\x01" not in escaped
    assert h264.unescape(escaped) == data


def test_bitwriter_exp_golomb_read_back():
    w = BitWriter()
    values = [0, 1, 2, 25, 30, 239, 1000]
    for v in values:
        w.ue(v)
    r = h264.BitReader(w.trailing())
    assert [r.ue() for _ in values] == values


def test_fu_a_fragments_reassemble_to_the_nal():
    """The one packetizer (aiortc's, shared with the media server's send path)."""
    nal = bytes([0x65]) + bytes(range(256)) * 20
    payloads = packetize([bytes([0x67, 1, 2]), nal, b"", bytes([0x41, 0x9A, 0x10])])
    assert payloads[0] == bytes([0x67, 1, 2]) and len(payloads) > 3   # alone: no STAP-A of 1
    assert payloads[-1] == bytes([0x41, 0x9A, 0x10])                  # the empty unit skipped
    frags = payloads[1:-1]
    assert all(len(p) <= PACKET_MAX for p in frags)
    assert frags[0][1] & 0x80 and frags[-1][1] & 0x40 and all(p[0] & 0x1F == 28 for p in frags)
    rebuilt = bytes([(frags[0][0] & 0xE0) | (frags[0][1] & 0x1F)]) + b"".join(p[2:] for p in frags)
    assert rebuilt == nal


def test_rtp_headers_and_sender_report():
    stream = rtp.RtpStream()
    packets = stream.packets_for([b"a", b"b"], 3600, 1_700_000_000.25)
    v, m0, seq0, ts, ssrc = struct.unpack("!BBHII", packets[0][:12])
    _, m1, seq1, _, _ = struct.unpack("!BBHII", packets[1][:12])
    assert v == 0x80 and m0 == 96 and m1 == 0x80 | 96 and seq1 == (seq0 + 1) & 0xFFFF
    sr = stream.sender_report()
    assert sr[1] == 200 and struct.unpack("!I", sr[4:8])[0] == ssrc
    ntp_s, _, rtp_ts = struct.unpack("!III", sr[8:20])
    assert ntp_s == 1_700_000_000 + rtcp.NTP_EPOCH_OFFSET and rtp_ts == ts
    assert sr[28 + 1] == 202 and len(sr) % 4 == 0


def test_rtsp_parser_waits_for_the_body_and_bounds_headers():
    reader = request_reader()
    reader.feed(b"ANNOUNCE rtsp://h/x RTSP/1.0\r\nCSeq: 5\r\nContent-Length: 4\r\n\r\nab")
    assert reader.take() is None
    reader.feed(b"cdOPTIONS")
    req = reader.take()
    assert isinstance(req, Request) and req.body == b"abcd" and req.cseq == "5"
    assert reader.take() is None and reader.unfinished_head() == "OPTIONS"
    flood = request_reader()
    flood.feed(b"X" * 9000)
    with pytest.raises(MessageError) as err:
        flood.take()
    error = RtspError.of(err.value)
    assert error.status == 400 and error.close


def test_digest_and_basic_checks():
    auth = Authenticator("admin", "sim-pass")
    challenge = auth.challenges()[0][1]
    nonce = challenge.split('nonce="')[1].split('"')[0]
    uri = "rtsp://127.0.0.1/cam1/main"

    def md5(s: str) -> str:
        return hashlib.md5(s.encode()).hexdigest()

    good = md5(f"{md5(f'admin:{REALM}:sim-pass')}:{nonce}:{md5(f'DESCRIBE:{uri}')}")
    header = (f'Digest username="admin", realm="{REALM}", nonce="{nonce}", uri="{uri}", '
              f'response="{good}"')
    assert auth.check("DESCRIBE", header)
    assert not auth.check("SETUP", header)  # the method is part of the hash
    assert not auth.check("DESCRIBE", header.replace(nonce, "0" * 32))
    assert auth.check("PLAY", "Basic " + base64.b64encode(b"admin:sim-pass").decode())
    assert not auth.check("PLAY", "Basic " + base64.b64encode(b"admin:nope").decode())
    assert not auth.check("PLAY", "Basic !!!") and not auth.check("PLAY", "")


def test_scene_truth_and_render():
    from iocwall.hardware.sim.scene import Scene

    scene = Scene(2, 12.0)
    frame = scene.render(3.0, 640, 360)
    assert frame.shape == (360, 640, 3) and (frame[:32] == 128).all()
    totals = {sum(c["count"] for c in scene.truth(t)) for t in np.arange(0, 12, 0.5)}
    assert len(totals) > 1 and min(totals) >= 0
    assert Scene(2, 12.0).truth(5.0) == scene.truth(5.0)  # deterministic per seed


async def test_in_process_simulator_api(tmp_path):
    """Simulator(options): start, camera_info, snapshot_jpeg, truth, stop."""
    import cv2

    from iocwall.hardware.sim.server import SimOptions, Simulator
    from tests.fixtures.ports import free_ports
    from tests.fixtures.simulator import CACHE

    rtsp_port, onvif_port, http_port, disc = free_ports(4)
    sim = Simulator(SimOptions(cameras=2, rtsp_port=rtsp_port, onvif_port=onvif_port,
                               http_port=http_port, discovery_port=disc, user="admin",
                               password="sim-pass", cache_dir=CACHE))
    await sim.start()
    try:
        info = sim.camera_info()
        assert [(i.index, i.main_width, i.sub_height, i.main_path) for i in info] == [
            (1, 1920, 360, "/cam1/main"), (2, 1920, 360, "/cam2/main")]
        jpeg = sim.snapshot_jpeg(1, "sub")
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert jpeg[:2] == b"\xff\xd8" and image.shape == (360, 640, 3)
        assert stamp.decode(image) is not None
        assert set(sim.truth()["cameras"]) == {"cam1", "cam2"}
    finally:
        await sim.stop()
