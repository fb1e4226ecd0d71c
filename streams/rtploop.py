"""A leaner RTP send loop for passthrough viewers, installed on one RTCRtpSender.

aiortc's ``RTCRtpSender._run_rtp`` builds and serializes each packet from
scratch: header extensions packed again and the clock read twice per packet.
For a passthrough viewer the payloads are ready (``sendpath.PreparedFrame``),
so this loop serializes one header per frame and, per packet, only patches the
marker bit and sequence number in a copy of it. Everything else stays
aiortc's: the same retransmission history (NACK/RTX answered by the sender's
own ``_retransmit``), the same statistics for RTCP sender reports, the same
DTLS-SRTP session. The patch points are checked when installed (and by a
test), so an aiortc upgrade that moves them fails loudly, not silently.

Per packet, aiortc's path is six coroutines deep (DTLS ``_send_rtp``, ICE
``send``/``sendto``/``send_data``, our pacer) and checks twice whether the
packet is RTCP. Here a frame is looked up once (``_Wire``: the SRTP session,
the nominated ICE pair's socket and address) and its packets are protected
and sent in a plain loop; the history keeps tuples and makes an RtpPacket
only when a NACK asks for one (``LazyHistory``). A frame big enough to need
pacing, or a transport not in the expected shape, takes the awaited path.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiortc import clock, rtcrtpsender
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcdtlstransport import State
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpsender import random_sequence_number
from aiortc.rtp import HeaderExtensions, RtpPacket
from aiortc.utils import random32, uint32_add

from iocwall.streams.sendpath import PreparedFrame, pacer_of

log = logging.getLogger(__name__)

_P = "_RTCRtpSender__"
_NEEDED = ("track", "mid", "rtp_header_extensions_map", "rtp_started", "rtp_exited",
           "rtp_history", "ntp_timestamp", "rtp_timestamp", "octet_count", "packet_count")
_TX = "_RTCDtlsTransport__tx_"          # the DTLS transport's own send counters (getStats)

_Entry = tuple[int, int, int, int, int, bytes, HeaderExtensions]


class SendCounts:
    """Frames sent by each path in this process: a fall-back to the awaited path that
    nobody sees would cost CPU silently (tests read these)."""
    direct = 0
    awaited = 0


counts = SendCounts()


class LazyHistory(dict):  # type: ignore[type-arg]
    """The sender's retransmission history, holding plain tuples.

    aiortc reads its history only with ``get`` (in ``_retransmit``, on a NACK);
    a packet object per sent packet was the loop's biggest allocation, and
    almost none is ever asked for again.
    """

    def get(self, key: int, default: object = None) -> object:
        entry = dict.get(self, key)
        if entry is None:
            return default
        pt, marker, seq, timestamp, ssrc, payload, extensions = entry
        packet = RtpPacket(pt, marker, seq, timestamp, ssrc, payload)
        packet.extensions = extensions
        return packet


class _Wire:
    """Where a frame's packets go: SRTP-protect and the nominated ICE pair's socket."""

    __slots__ = ("dtls", "protect", "sendto", "addr")

    def __init__(self, dtls: Any) -> None:
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None or pair.protocol.transport is None:
            raise LookupError("no nominated ICE pair")
        self.dtls = dtls
        self.protect = dtls._tx_srtp.protect
        self.sendto = pair.protocol.transport.sendto
        self.addr = pair.remote_addr

    def send(self, packets: list[bytes]) -> None:
        protect, sendto, addr = self.protect, self.sendto, self.addr
        octets = 0
        for data in packets:
            data = protect(data)
            sendto(data, addr)
            octets += len(data)
        dtls = self.dtls
        setattr(dtls, _TX + "bytes", getattr(dtls, _TX + "bytes") + octets)
        setattr(dtls, _TX + "packets", getattr(dtls, _TX + "packets") + len(packets))


def _wire(dtls: Any) -> _Wire | None:
    """A direct wire for this frame, or None for aiortc's own (awaited) path."""
    if dtls._state is not State.CONNECTED:
        raise ConnectionError("Cannot send encrypted RTP, not connected")
    try:
        return _Wire(dtls)
    except (AttributeError, LookupError):      # another aiortc/aioice shape: be slow, not wrong
        return None


def install(sender: rtcrtpsender.RTCRtpSender) -> None:
    """Use the lean loop for ``sender`` (call before its transport connects)."""
    missing = [name for name in _NEEDED if not hasattr(sender, _P + name)]
    if missing or not hasattr(sender, "_run_rtp"):
        raise RuntimeError(f"aiortc changed: RTCRtpSender lacks {missing or '_run_rtp'}")
    setattr(sender, _P + "rtp_history", LazyHistory())

    async def run(codec: RTCRtpCodecParameters) -> None:
        await _run(sender, codec)

    sender._run_rtp = run  # type: ignore[method-assign]


async def _run(sender: Any, codec: RTCRtpCodecParameters) -> None:
    getattr(sender, _P + "rtp_started").set()
    try:
        await _loop(sender, codec)
    except (asyncio.CancelledError, ConnectionError, MediaStreamError):
        pass
    except Exception:
        log.exception("passthrough RTP loop failed")
    finally:
        track = getattr(sender, _P + "track")
        if track is not None:
            track.stop()
            setattr(sender, _P + "track", None)
        getattr(sender, _P + "rtp_exited").set()


async def _loop(sender: Any, codec: RTCRtpCodecParameters) -> None:
    if codec.payloadType is None:
        raise ValueError("negotiated codec without a payload type")
    pt, ssrc = codec.payloadType, sender._ssrc
    history: dict[int, _Entry] = getattr(sender, _P + "rtp_history")
    ext_map = getattr(sender, _P + "rtp_header_extensions_map")
    seq, origin = random_sequence_number(), random32()
    while True:
        track = getattr(sender, _P + "track")
        if track is None:
            await asyncio.sleep(0.02)
            continue
        frame = await track.recv()
        if not sender._enabled:
            continue
        timestamp = uint32_add(origin, frame.pts)
        extensions = HeaderExtensions(
            mid=getattr(sender, _P + "mid"),
            abs_send_time=(clock.current_ntp_time() >> 14) & 0x00FFFFFF)
        head = RtpPacket(payload_type=pt, timestamp=timestamp, ssrc=ssrc)
        head.extensions = extensions
        header = bytearray(head.serialize(ext_map))      # no payload: the header alone
        packets = _packets(frame, header, pt, seq, timestamp, ssrc, extensions, history)
        await _send(sender.transport, packets)
        seq = (seq + len(packets)) & 0xFFFF
        # what aiortc keeps for its RTCP sender reports
        setattr(sender, _P + "ntp_timestamp", clock.current_ntp_time())
        setattr(sender, _P + "rtp_timestamp", timestamp)
        setattr(sender, _P + "octet_count",
                getattr(sender, _P + "octet_count") + sum(map(len, frame.payloads)))
        setattr(sender, _P + "packet_count", getattr(sender, _P + "packet_count") + len(packets))


def _packets(frame: PreparedFrame, header: bytearray, pt: int, seq: int, timestamp: int,
             ssrc: int, extensions: HeaderExtensions, history: dict[int, _Entry]) -> list[bytes]:
    """The frame's RTP packets (header + payload), each remembered for NACKs."""
    size = rtcrtpsender.RTP_HISTORY_SIZE
    last = len(frame.payloads) - 1
    out = []
    for i, payload in enumerate(frame.payloads):
        marker = int(i == last)
        header[1] = (marker << 7) | pt
        header[2], header[3] = seq >> 8, seq & 0xFF
        history[seq % size] = (pt, marker, seq, timestamp, ssrc, payload, extensions)
        out.append(bytes(header) + payload)
        seq = (seq + 1) & 0xFFFF
    return out


async def _send(dtls: Any, packets: list[bytes]) -> None:
    """Send a frame's packets: directly, unless pacing must spread them."""
    pacer = pacer_of(dtls)
    wire = _wire(dtls)
    if wire is not None and (pacer is None or not pacer.would_wait(len(packets))):
        if pacer is not None:
            pacer.note(len(packets))
        wire.send(packets)
        counts.direct += 1
        return
    counts.awaited += 1
    for data in packets:                 # aiortc's path, through the pacer's wrapper
        await dtls._send_rtp(data)
