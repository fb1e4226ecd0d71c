"""RTCP (RFC 3550 6.4): the receiver side, what we report back to a camera (6.4.2, A.3,
A.8), and the sender reports the simulator sends as a camera does (6.4.1).

Cameras and restreamers drop a UDP session they hear nothing from (our own
simulator does after its session timeout), and some throttle a receiver that
never reports. The packets themselves are aiortc's classes; this module keeps
the counts they carry: highest sequence, loss, interarrival jitter, and the
time of the camera's last sender report.
"""
from __future__ import annotations

import os
import struct
import time

from aiortc.rtp import (
    RtcpPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
)

from .rtp import RtpPacket, SequenceTracker

REPORT_INTERVAL_S = 2.0     # well inside any session timeout we have met (>= 30 s)
NTP_EPOCH_OFFSET = 2208988800   # seconds from 1900 (NTP) to 1970 (Unix)
_CNAME = 1


class ReceptionStats:
    """Counts for one sender (SSRC) as RFC 3550 defines them for a receiver report."""

    def __init__(self, clock_rate: int = 90000) -> None:
        self.clock_rate = clock_rate
        self.ssrc: int | None = None
        self._seq = SequenceTracker()
        self._jitter = 0.0                  # in timestamp units
        self._transit: float | None = None
        self._expected_prior = 0
        self._received_prior = 0
        self._sr_mid: int | None = None     # middle 32 bits of the last SR's NTP time
        self._sr_at = 0.0

    def add(self, pkt: RtpPacket, at: float) -> None:
        """A packet handed on (after the reorder buffer), ``at`` its arrival time."""
        self.ssrc = pkt.ssrc
        self._seq.add(pkt.sequence_number)
        transit = at * self.clock_rate - pkt.timestamp
        if self._transit is not None:
            d = abs(transit - self._transit)
            if d < 1 << 31:                  # a timestamp jump is no jitter
                self._jitter += (d - self._jitter) / 16
        self._transit = transit

    def sender_report(self, data: bytes, at: float) -> None:
        """An RTCP packet from the camera: remember its SR for LSR/DLSR."""
        try:
            packets = RtcpPacket.parse(data)
        except ValueError:
            return
        for packet in packets:
            if isinstance(packet, RtcpSrPacket):
                self._sr_mid = (packet.sender_info.ntp_timestamp >> 16) & 0xFFFFFFFF
                self._sr_at = at

    @property
    def received(self) -> int:
        return self._seq.received

    @property
    def expected(self) -> int:
        return self._seq.expected

    @property
    def lost(self) -> int:
        return self._seq.lost

    def report(self, own_ssrc: int, now: float) -> RtcpReceiverInfo | None:
        if self.ssrc is None:
            return None
        expected, received = self.expected, self.received
        interval_expected = expected - self._expected_prior
        interval_lost = interval_expected - (received - self._received_prior)
        self._expected_prior, self._received_prior = expected, received
        fraction = 0 if interval_expected <= 0 or interval_lost <= 0 \
            else min(255, (interval_lost << 8) // interval_expected)
        dlsr = int((now - self._sr_at) * 65536) if self._sr_mid is not None else 0
        return RtcpReceiverInfo(
            ssrc=self.ssrc, fraction_lost=fraction, packets_lost=min(self.lost, 0x7FFFFF),
            highest_sequence=self._seq.highest & 0xFFFFFFFF, jitter=int(self._jitter),
            lsr=self._sr_mid or 0, dlsr=dlsr & 0xFFFFFFFF)


def new_ssrc() -> int:
    return struct.unpack("!I", os.urandom(4))[0]


def receiver_report(own_ssrc: int, stats: ReceptionStats, now: float,
                    cname: str = "iocwall") -> bytes:
    """A compound RTCP packet: RR (with a report block once we heard the camera) + SDES."""
    info = stats.report(own_ssrc, now)
    rr = RtcpRrPacket(ssrc=own_ssrc, reports=[info] if info is not None else [])
    sdes = RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=own_ssrc,
                                                 items=[(_CNAME, cname.encode())])])
    return bytes(rr) + bytes(sdes)


def ntp_time(wall: float) -> int:
    """64-bit NTP timestamp (seconds since 1900 . fraction) of a Unix time."""
    seconds = (int(wall) + NTP_EPOCH_OFFSET) & 0xFFFFFFFF
    fraction = int((wall % 1.0) * (1 << 32)) & 0xFFFFFFFF
    return (seconds << 32) | fraction


def sender_report(ssrc: int, wall: float, rtp_timestamp: int, packets: int, octets: int,
                  cname: str) -> bytes:
    """A compound RTCP packet: SR (``wall``, the Unix time of the frame sent last, paired
    with its RTP timestamp; 0 means now) + SDES CNAME."""
    info = RtcpSenderInfo(ntp_timestamp=ntp_time(wall or time.time()),
                          rtp_timestamp=rtp_timestamp, packet_count=packets & 0xFFFFFFFF,
                          octet_count=octets & 0xFFFFFFFF)
    sdes = RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=ssrc,
                                                 items=[(_CNAME, cname.encode()[:255])])])
    return bytes(RtcpSrPacket(ssrc=ssrc, sender_info=info)) + bytes(sdes)


def rtp_probe(payload_type: int, ssrc: int) -> bytes:
    """An empty RTP packet (header only): opens a NAT pinhole; cameras ignore it."""
    return struct.pack("!BBHII", 0x80, payload_type & 0x7F, 0, 0, ssrc)
