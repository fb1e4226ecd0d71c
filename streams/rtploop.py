"""A leaner RTP send loop for passthrough viewers, installed on one RTCRtpSender.

aiortc's ``RTCRtpSender._run_rtp`` builds and serializes each packet from
scratch: header extensions packed again and the clock read twice per packet.
For a passthrough viewer the payloads are ready (``sendpath.PreparedFrame``),
so this loop serializes one header per frame and, per packet, only patches the
marker bit and sequence number in a copy of it. Everything else stays
aiortc's: the same retransmission history (NACK/RTX answered by the sender's
own ``_retransmit``), the same statistics for RTCP sender reports, the same
DTLS-SRTP transport. The patch points are checked when installed (and by a
test), so an aiortc upgrade that moves them fails loudly, not silently.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiortc import clock, rtcrtpsender
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpsender import random_sequence_number
from aiortc.rtp import HeaderExtensions, RtpPacket
from aiortc.utils import random32, uint32_add

log = logging.getLogger(__name__)

_P = "_RTCRtpSender__"
_NEEDED = ("track", "mid", "rtp_header_extensions_map", "rtp_started", "rtp_exited",
           "rtp_history", "ntp_timestamp", "rtp_timestamp", "octet_count", "packet_count")


def install(sender: rtcrtpsender.RTCRtpSender) -> None:
    """Use the lean loop for ``sender`` (call before its transport connects)."""
    missing = [name for name in _NEEDED if not hasattr(sender, _P + name)]
    if missing or not hasattr(sender, "_run_rtp"):
        raise RuntimeError(f"aiortc changed: RTCRtpSender lacks {missing or '_run_rtp'}")

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
    history: dict[int, RtpPacket] = getattr(sender, _P + "rtp_history")
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
        size = rtcrtpsender.RTP_HISTORY_SIZE
        last = len(frame.payloads) - 1
        octets = 0
        for i, payload in enumerate(frame.payloads):
            marker = int(i == last)
            header[1] = (marker << 7) | pt
            header[2], header[3] = seq >> 8, seq & 0xFF
            packet = RtpPacket(pt, marker, seq, timestamp, ssrc, payload)
            packet.extensions = extensions
            history[seq % size] = packet
            await sender.transport._send_rtp(bytes(header) + payload)
            seq = (seq + 1) & 0xFFFF
            octets += len(payload)
        # what aiortc keeps for its RTCP sender reports
        setattr(sender, _P + "ntp_timestamp", clock.current_ntp_time())
        setattr(sender, _P + "rtp_timestamp", timestamp)
        setattr(sender, _P + "octet_count", getattr(sender, _P + "octet_count") + octets)
        setattr(sender, _P + "packet_count",
                getattr(sender, _P + "packet_count") + len(frame.payloads))
