"""Smoke-test parsers against real bitstreams: RTP/H.264 from Debian's ffmpeg, read by our code.

ffmpeg (an independent implementation) encodes and packetizes; our SPS parser,
RFC 6184 depacketizer and decoder must agree with what ffmpeg was asked to make.
"""
from __future__ import annotations

import socket
import subprocess

import pytest

from iocwall.hardware.smoke.decoder import FrameDecoder
from iocwall.streams.rtsp.rtp import (
    NAL_SPS,
    H264Depacketizer,
    RtpPacket,
    SequenceTracker,
    parse_rtp,
)
from iocwall.streams.rtsp.sdp import resolve_control, video_track
from iocwall.streams.rtsp.sps import parse_sps


def _ffmpeg_rtp(size: str, profile: str, frames: int, pkt_size: int) -> list[bytes]:
    """Encode ``frames`` test pictures and packetize them to RTP; the packets, in order."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    port = sock.getsockname()[1]
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi",
           "-i", f"testsrc2=size={size}:rate=25", "-frames:v", str(frames), "-c:v", "libx264",
           "-profile:v", profile, "-g", "10", "-bf", "0", "-f", "rtp",
           f"rtp://127.0.0.1:{port}?pkt_size={pkt_size}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    packets = []
    try:
        while True:
            try:
                packets.append(sock.recv(65536))
            except TimeoutError:
                break
            if proc.poll() is not None:
                sock.settimeout(0.3)  # drain what is still in the buffer
    finally:
        proc.kill()
        proc.wait()
        sock.close()
    return packets


@pytest.mark.parametrize("size,profile,idc", [("640x360", "baseline", 66),
                                              ("1280x720", "main", 77),
                                              ("1920x1080", "high", 100)])
def test_sps_and_depacketizer_agree_with_ffmpeg(size: str, profile: str, idc: int) -> None:
    packets = _ffmpeg_rtp(size, profile, frames=20, pkt_size=1000)
    depack, seq, units = H264Depacketizer(), SequenceTracker(), []
    for data in packets:
        pkt = parse_rtp(data)
        seq.add(pkt.sequence_number)
        units += depack.push(pkt)
    assert seq.lost == 0 and depack.corrupt == 0
    assert len(units) == 20
    assert sum(u.keyframe for u in units) == 2  # GOP 10 over 20 pictures
    assert depack.sps is not None
    sps = parse_sps(depack.sps)
    assert (sps.width, sps.height) == tuple(map(int, size.split("x")))  # 1080 needs cropping
    assert sps.profile_idc == idc
    decoder = FrameDecoder()
    for unit in units:
        decoder.submit(unit.annexb())
    decoder.finish(10.0)
    assert decoder.stats.frames == 20
    assert decoder.stats.sizes == [(sps.width, sps.height)]
    assert decoder.stats.decode_errors == 0 and decoder.stats.corrupt_frames == 0
    assert decoder.stats.latencies_ms == []  # testsrc2 carries no frame stamp


def test_damaged_packets_are_counted_not_fatal() -> None:
    packets = _ffmpeg_rtp("640x360", "main", frames=20, pkt_size=600)
    depack, units = H264Depacketizer(), []
    for i, data in enumerate(packets):
        if i % 7 == 3:  # a middle fragment lost: its FU-A tail becomes an orphan
            continue
        units += depack.push(parse_rtp(data))
    # loss is not the camera's corruption: cut slices go on truncated, their tails are orphans
    assert depack.orphaned > 0 and depack.salvaged > 0 and depack.corrupt == 0
    assert units                     # the pictures keep coming: loss is never fatal
    forbidden = RtpPacket(96, True, 1, 1, 1, b"\x85garbage")   # aiortc's packet class
    assert depack.push(forbidden) == [] and depack.corrupt == 1


def test_sequence_tracker_wraps_and_counts_gaps() -> None:
    seq = SequenceTracker()
    for n in [65533, 65534, 65535, 0, 2, 3, 1]:
        seq.add(n)
    assert seq.expected == 7 and seq.received == 7 and seq.lost == 0 and seq.reordered == 1
    seq.add(10)
    assert seq.lost == 6


def test_sdp_video_track_and_control() -> None:
    sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=x\r\nm=audio 0 RTP/AVP 0\r\na=control:a\r\n"
           "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
           "a=fmtp:96 packetization-mode=1;profile-level-id=64002a;"
           "sprop-parameter-sets=Z2QAKqzZQHgCJ+IQAAADABAAAAMDIPGDGWA=,aOvjyyLA\r\n"
           "a=control:trackID=1\r\n")
    track = video_track(sdp)
    assert track is not None and track.encoding == "H264" and track.payload_type == 96
    sets = track.parameter_sets()
    assert sets[0][0] & 0x1F == NAL_SPS and parse_sps(sets[0]).profile == "High"
    assert resolve_control("rtsp://h:554/cam1/main/", track.control) == \
        "rtsp://h:554/cam1/main/trackID=1"
    assert resolve_control("rtsp://h/x", "rtsp://h/y/t") == "rtsp://h/y/t"
