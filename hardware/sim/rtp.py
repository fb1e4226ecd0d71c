"""Each viewer's RTP numbering and RTCP sender reports (RFC 3550).

Payloads are cut once per frame (``media``, with the one H.264 packetizer in
``iocwall.streams.rtsp.rtp``) and shared by every viewer of a stream; each
viewer only adds its own 12-byte header (sequence number, timestamp, SSRC).
"""
from __future__ import annotations

import os
import struct

from iocwall.streams.rtsp import rtcp

PAYLOAD_TYPE = 96


def random_u32() -> int:
    return int.from_bytes(os.urandom(4), "big")


def random_u16() -> int:
    return int.from_bytes(os.urandom(2), "big")


class RtpStream:
    """One viewer's RTP numbering: random SSRC, sequence and timestamp origins."""

    def __init__(self) -> None:
        self.ssrc = random_u32()
        self.seq = random_u16()
        self.ts_offset = random_u32()
        self.packets = 0
        self.octets = 0
        self.last_ts = 0
        self.last_wall = 0.0

    def timestamp(self, source_ts: int) -> int:
        return (self.ts_offset + source_ts) & 0xFFFFFFFF

    def packets_for(self, payloads: list[bytes], source_ts: int, wall: float) -> list[bytes]:
        ts = self.timestamp(source_ts)
        self.last_ts, self.last_wall = ts, wall
        out = []
        last = len(payloads) - 1
        for i, payload in enumerate(payloads):
            marker = 0x80 if i == last else 0
            out.append(struct.pack("!BBHII", 0x80, marker | PAYLOAD_TYPE, self.seq, ts, self.ssrc)
                       + payload)
            self.seq = (self.seq + 1) & 0xFFFF
            self.packets += 1
            self.octets += len(payload)
        return out

    def sender_report(self, cname: str = "iocwall-sim") -> bytes:
        """RTCP compound packet: SR (NTP time of the last frame <-> its RTP time) + SDES CNAME,
        built by the one RTCP module (aiortc's classes; the ingest's receiver reports too)."""
        return rtcp.sender_report(self.ssrc, self.last_wall, self.last_ts, self.packets,
                                  self.octets, cname)
