"""The one protocol layer (streams/rtsp/): both sides of RTSP read and write messages with
the same bounded reader, and H.264 goes into RTP and back with one packetizer (aiortc's,
used by the media server and the simulator) and one depacketizer (the ingest's)."""
from __future__ import annotations

import os

import pytest

from iocwall.hardware.sim.rtsp_message import RtspError, reply, request_reader
from iocwall.streams import h264
from iocwall.streams.rtsp.message import (
    MAX_BODY_BYTES,
    Fault,
    Interleaved,
    MessageError,
    MessageReader,
    Request,
    Response,
    interleaved,
    parse_response,
)
from iocwall.streams.rtsp.rtp import (
    PACKET_MAX,
    H264Depacketizer,
    RtpPacket,
    packetize,
    packetize_annexb,
)
from iocwall.streams.rtsp.rtsp_client import MAX_HEADER_BYTES


def response_reader() -> MessageReader[Response]:
    """The client's reader, as rtsp_client builds it."""
    return MessageReader(parse_response, MAX_HEADER_BYTES, MAX_BODY_BYTES, "latin-1")


def take_all(reader: MessageReader, data: bytes, step: int) -> list[object]:
    out: list[object] = []
    for i in range(0, len(data), step):
        reader.feed(data[i:i + step])
        while (item := reader.take()) is not None:
            out.append(item)
    return out


@pytest.mark.parametrize("step", [1, 7, 4096])
def test_what_one_side_writes_the_other_reads_in_any_pieces(step: int) -> None:
    """The client's requests through the simulator's reader, the simulator's answers (with
    RTP between them, as in TCP interleaved) through the client's reader."""
    ask = Request("DESCRIBE", "rtsp://cam/cam1/main",
                  [("CSeq", "3"), ("Accept", "application/sdp")])
    setup = Request("SET_PARAMETER", "*", [("CSeq", "4")], b"a: b\r\n")
    rtcp = interleaved(1, b"\x81\xc9" + bytes(30))
    got = take_all(request_reader(), ask.encode() + rtcp + setup.encode(), step)
    setup.headers.append(("Content-Length", "6"))      # encode() wrote it
    assert got == [ask, Interleaved(1, rtcp[4:]), setup]
    assert ask.encode().startswith(b"DESCRIBE rtsp://cam/cam1/main RTSP/1.0\r\nCSeq: 3\r\n")

    answer = reply(401, "3", [("WWW-Authenticate", 'Digest realm="r", nonce="n"'),
                              ("WWW-Authenticate", 'Basic realm="r"')])
    sdp = reply(200, "4", [("Content-Type", "application/sdp")], b"v=0\r\n\xe9\r\n")
    rtp = interleaved(0, bytes(range(256)) * 3)
    got = take_all(response_reader(), answer.encode() + rtp + sdp.encode(), step)
    assert [type(x) for x in got] == [Response, Interleaved, Response]
    first, frame, second = got
    assert isinstance(first, Response) and isinstance(second, Response)
    assert first.status == 401 and first.reason == "Unauthorized" and first.header("cseq") == "3"
    assert first.header_values("www-authenticate") == ['Digest realm="r", nonce="n"',
                                                       'Basic realm="r"']
    assert frame == Interleaved(0, rtp[4:])
    assert second.body == b"v=0\r\n\xe9\r\n" and second.header("Server") == "iocwall-sim/1.0"


@pytest.mark.parametrize("data,fault", [
    (b"DESCRIBE rtsp://x/a RTSP/1.0\r\nX: " + b"a" * 20000, Fault.HEAD_TOO_LARGE),
    (b"DESCRIBE rtsp://x/a RTSP/1.0\r\nContent-Length: 99999999\r\n\r\n", Fault.BODY_TOO_LARGE),
    (b"DESCRIBE rtsp://x/a RTSP/1.0\r\nContent-Length: " + b"9" * 6000 + b"\r\n\r\n",
     Fault.BODY_TOO_LARGE),
    (b"DESCRIBE rtsp://x/a RTSP/1.0\r\nContent-Length: -5\r\n\r\n", Fault.BAD_LENGTH),
    ("DESCRIBE rtsp://x/a RTSP/1.0\r\nContent-Length: ²\r\n\r\n".encode(), Fault.BAD_LENGTH),
    (b"\x00\xff\x13garbage\r\n\r\n", Fault.BAD_START_LINE),
    (b"OPTIONS * HTTP/1.1\r\nCSeq: 1\r\n\r\n", Fault.NOT_RTSP),
])
def test_hostile_requests_end_the_connection_before_anything_is_buffered(data: bytes,
                                                                          fault: Fault) -> None:
    reader = request_reader()
    with pytest.raises(MessageError) as err:
        take_all(reader, data, 65536)
    assert err.value.fault is fault and err.value.fatal
    assert RtspError.of(err.value).status == (413 if fault is Fault.BODY_TOO_LARGE else 400)


@pytest.mark.parametrize("bad,status", [
    (b"SETUP rtsp://x/a RTSP/1.0\r\nCSeq: 2\r\nnot a header\r\nContent-Length: 2\r\n\r\nab", 400),
    (b"OPTIONS rtsp://x/a RTSP/2.0\r\nCSeq: 2\r\n\r\n", 505),
])
def test_a_bad_request_that_can_be_skipped_is_consumed_and_the_next_one_read(bad: bytes,
                                                                             status: int) -> None:
    reader = request_reader()
    reader.feed(bad + b"OPTIONS * RTSP/1.0\r\nCSeq: 3\r\n\r\n")
    with pytest.raises(MessageError) as err:
        reader.take()
    assert not err.value.fatal and RtspError.of(err.value).status == status
    following = reader.take()
    assert isinstance(following, Request) and following.cseq == "3" and reader.take() is None


@pytest.mark.parametrize("data,fault,length", [
    (b"HTTP/1.1 400 Bad Request\r\nContent-Length: 999999999\r\n\r\n", Fault.HTTP, None),
    (b"RTSP/1.0 200 OK\r\nContent-Length: 1000000000000\r\n\r\n", Fault.BODY_TOO_LARGE,
     1000000000000),
    (b"RTSP/1.0 " + b"9" * 5000 + b" OK\r\n\r\n", Fault.NOT_RTSP, None),
    (b"RTSP/1.0 200 OK\r\nX-Endless: " + b"a" * 70000, Fault.HEAD_TOO_LARGE, None),
])
def test_hostile_answers_are_refused_by_the_clients_reader(data: bytes, fault: Fault,
                                                           length: int | None) -> None:
    with pytest.raises(MessageError) as err:
        take_all(response_reader(), data, 4096)
    assert err.value.fault is fault and err.value.length == length


def test_an_answer_cut_short_is_left_as_an_unfinished_head() -> None:
    reader = response_reader()
    reader.feed(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n")
    assert reader.take() is None and reader.unfinished_head() == "RTSP/1.0 200 OK\r\nCSeq: 1"
    reader.feed(b"\r\n" + interleaved(0, b"\x80")[:3])
    assert isinstance(reader.take(), Response)
    assert reader.take() is None and reader.unfinished_head() is None   # an RTP frame, half


# --- H.264 in RTP ------------------------------------------------------------------------

SPS = bytes([0x67, 0x64, 0x00, 0x1F, 0xAC, 0xD9, 0x40, 0x50])
PPS = bytes([0x68, 0xEB, 0xE3, 0xCB])


def packets(units: list[list[bytes]]) -> list[RtpPacket]:
    out, seq = [], 100
    for n, nals in enumerate(units):
        payloads = packetize(nals)
        for i, payload in enumerate(payloads):
            out.append(RtpPacket(96, i == len(payloads) - 1, seq & 0xFFFF, n * 3000, 7, payload))
            seq += 1
    return out


def test_the_simulators_and_the_servers_payloads_are_the_same() -> None:
    idr = bytes([0x65]) + os.urandom(5000).replace(b"\x00", b"\x01")
    annexb = b"".join(h264.START + n for n in (SPS, PPS, idr))
    payloads = packetize([SPS, PPS, idr])
    assert payloads == packetize_annexb(annexb)
    assert payloads[0] == bytes([0x78]) + b"".join(len(n).to_bytes(2, "big") + n
                                                 for n in (SPS, PPS))       # STAP-A
    assert all(p[0] & 0x1F == 28 and len(p) <= PACKET_MAX for p in payloads[1:])  # FU-A


def test_our_packets_come_back_as_the_same_units() -> None:
    idr = bytes([0x65]) + os.urandom(40000).replace(b"\x00", b"\x02")
    units = [[SPS, PPS, idr]] + [[bytes([0x41, 0x9A]) + os.urandom(n).replace(b"\x00", b"\x03")]
                                 for n in (10, 1200, 1400, 9000)]
    depack = H264Depacketizer()
    frames = [f for p in packets(units) for f in depack.push(p)]
    assert [f.nals for f in frames] == units and depack.corrupt == 0
    assert depack.sps == SPS and depack.pps == PPS and frames[0].keyframe


def test_depacketizer_cases_aiortcs_parse_does_not_judge_for_us() -> None:
    depack = H264Depacketizer()
    eos = RtpPacket(96, True, 1, 0, 7, bytes([0x0A]))            # end of sequence: one byte
    assert [f.nals for f in depack.push(eos)] == [[bytes([0x0A])]] and depack.corrupt == 0
    for seq, payload in enumerate([bytes([0x7C, 0x85]),           # FU-A without data
                                   bytes([0x78, 0x00, 0x09, 0x67]),  # STAP-A cut short
                                   bytes([0x19, 0x00, 0x01]),        # STAP-B
                                   bytes([0xE1, 0x00])], start=2):   # forbidden bit
        assert depack.push(RtpPacket(96, True, seq, seq, 7, payload)) == []
    assert depack.corrupt == 4


def test_fragments_cut_off_by_a_lost_packet_are_loss_not_corruption() -> None:
    depack = H264Depacketizer()
    nal = bytes([0x65]) + os.urandom(4000)
    fragments = packetize([nal])
    assert len(fragments) >= 4 and all(f[0] & 0x1F == 28 for f in fragments)   # FU-A
    kept = [f for i, f in enumerate(fragments) if i != 0]        # the start is lost
    for seq, payload in enumerate(kept, start=2):
        assert depack.push(RtpPacket(96, seq == len(kept) + 1, seq, 3000, 7, payload)) == []
    assert depack.orphaned == len(kept) and depack.corrupt == 0
    # after another gap, a whole single-NAL picture and a whole fragmented one come out
    units = [f.nals for f in depack.push(RtpPacket(96, True, 100, 6000, 7, bytes([0x41, 1])))]
    assert units == [[bytes([0x41, 1])]]
    whole = [depack.push(RtpPacket(96, i == len(fragments) - 1, 101 + i, 9000, 7, f))
             for i, f in enumerate(fragments)]
    assert [u.nals for u in whole[-1]] == [[nal]]
    # a middle fragment with nothing lost before it: the camera sent it so, corrupt
    depack.push(RtpPacket(96, True, 101 + len(fragments), 12000, 7, fragments[1]))
    assert depack.corrupt == 1 and depack.orphaned == len(kept)


def test_a_slice_cut_short_by_loss_goes_on_truncated_never_with_a_hole() -> None:
    depack = H264Depacketizer()
    nal = bytes([0x41]) + os.urandom(5000)
    fragments = packetize([nal])
    lost = 2
    out = []
    for i, payload in enumerate(fragments):
        if i != lost:
            out += depack.push(RtpPacket(96, i == len(fragments) - 1, 10 + i, 3000, 7, payload))
    assert len(out) == 1 and len(out[0].nals) == 1
    truncated = out[0].nals[0]
    assert nal.startswith(truncated) and 2 < len(truncated) < len(nal)
    assert depack.salvaged == 1 and depack.corrupt == 0
    assert depack.orphaned == len(fragments) - lost - 1
