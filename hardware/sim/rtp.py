"""RTP packetization of H.264 (RFC 6184) and RTCP sender reports (RFC 3550).

Payloads are cut once per frame and shared by every viewer of a stream; each
viewer only adds its own 12-byte header (sequence number, timestamp, SSRC).
"""
from __future__ import annotations

import os
import struct
import time

from aiortc.rtp import RtcpSdesPacket, RtcpSenderInfo, RtcpSourceInfo, RtcpSrPacket

from . import h264

MTU_PAYLOAD = 1400
PAYLOAD_TYPE = 96
NTP_EPOCH_OFFSET = 2208988800
_FU_A = 28


def packetize(nals: list[bytes]) -> list[bytes]:
    """RTP payloads for one access unit: single NAL units, or FU-A fragments."""
    out = []
    for nal in nals:
        if nal[0] & 0x1F == h264.NAL_AUD:
            continue
        if len(nal) <= MTU_PAYLOAD:
            out.append(nal)
            continue
        indicator = bytes([(nal[0] & 0xE0) | _FU_A])
        kind = nal[0] & 0x1F
        body = memoryview(nal)[1:]
        chunks = [body[i:i + MTU_PAYLOAD - 2] for i in range(0, len(body), MTU_PAYLOAD - 2)]
        for i, chunk in enumerate(chunks):
            flags = (0x80 if i == 0 else 0) | (0x40 if i == len(chunks) - 1 else 0)
            out.append(indicator + bytes([flags | kind]) + chunk)
    return out


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
        built with aiortc's RTCP classes (the ingest's receiver reports use them too)."""
        wall = self.last_wall or time.time()
        seconds = (int(wall) + NTP_EPOCH_OFFSET) & 0xFFFFFFFF
        fraction = int((wall % 1.0) * (1 << 32)) & 0xFFFFFFFF
        info = RtcpSenderInfo(ntp_timestamp=(seconds << 32) | fraction,
                              rtp_timestamp=self.last_ts, packet_count=self.packets & 0xFFFFFFFF,
                              octet_count=self.octets & 0xFFFFFFFF)
        sdes = RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=self.ssrc,
                                                     items=[(1, cname.encode()[:255])])])
        return bytes(RtcpSrPacket(ssrc=self.ssrc, sender_info=info)) + bytes(sdes)
