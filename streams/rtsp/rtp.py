"""RTP packets (aiortc's ``RtpPacket``) and H.264 depacketization (RFC 3550, RFC 6184).

The depacketizer turns RTP payloads into access units (one picture each, as
Annex B bytes for the decoder) and counts what a broken camera sends wrong:
fragments that arrive without their start, NAL units with the forbidden bit,
packet types we do not know. Those counts feed the "corrupt packets" figure.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from aiortc.rtp import RtpPacket

START = b"\x00\x00\x00\x01"
NAL_IDR, NAL_SEI, NAL_SPS, NAL_PPS = 5, 6, 7, 8
STAP_A, FU_A = 24, 28
# One picture is never bigger than this (a 4K keyframe at high quality is ~3 MB) nor made
# of more NAL units: a camera that never ends a unit or a fragment must not grow memory.
MAX_UNIT_BYTES = 8 << 20
MAX_UNIT_NALS = 1024


class RtpError(ValueError):
    """A packet that is not RTP version 2 or is cut short."""


def parse_rtp(data: bytes) -> RtpPacket:
    """An RTP packet, parsed by aiortc (header, CSRCs, extensions, padding)."""
    try:
        return RtpPacket.parse(data)
    except ValueError as exc:       # not version 2, cut short, bad padding or extension
        raise RtpError(str(exc)) from None


@dataclass
class RtpFrame:
    """What the depacketizer makes of the packets of one RTP timestamp: one picture's NAL
    units (the media server wraps them in ``fanout.AccessUnit`` with pts and generation)."""
    timestamp: int
    nals: list[bytes] = field(default_factory=list)

    @property
    def keyframe(self) -> bool:
        return any(n[0] & 0x1F == NAL_IDR for n in self.nals)

    def annexb(self) -> bytes:
        return b"".join(START + n for n in self.nals)

    @property
    def size(self) -> int:
        return sum(len(n) for n in self.nals)


class H264Depacketizer:
    """Feed RTP packets in arrival order; collect complete access units."""

    def __init__(self, max_unit_bytes: int | None = None,
                 max_unit_nals: int | None = None) -> None:
        self.corrupt = 0  # malformed payloads and fragments we had to throw away
        self.oversized = 0  # units thrown away for passing a size bound
        self.max_unit_bytes = max_unit_bytes or MAX_UNIT_BYTES
        self.max_unit_nals = max_unit_nals or MAX_UNIT_NALS
        self._size = 0     # bytes in the current unit, fragment included
        self._overflow = False  # the current unit passed a bound: drop it to its end
        self.sps: bytes | None = None
        self.pps: bytes | None = None
        self._fragment: bytearray | None = None
        self._current: RtpFrame | None = None
        self._last_seq: int | None = None

    def push(self, pkt: RtpPacket) -> list[RtpFrame]:
        """Add one packet; return the access units it completed (usually 0 or 1)."""
        done: list[RtpFrame] = []
        if self._current is not None and pkt.timestamp != self._current.timestamp:
            done.append(self._finish())  # a marker bit went missing: close by timestamp
        if self._last_seq is not None and pkt.sequence_number != (self._last_seq + 1) & 0xFFFF:
            self._fragment = None  # a lost packet breaks any fragment in progress
        self._last_seq = pkt.sequence_number
        if self._current is None:
            self._current = RtpFrame(pkt.timestamp)
        if not self._overflow:
            self._size += len(pkt.payload)
            for nal in self._nals_of(pkt.payload):
                self._remember(nal)
                self._current.nals.append(nal)
            if self._size > self.max_unit_bytes or len(self._current.nals) > self.max_unit_nals:
                self._drop_unit()
        if pkt.marker:
            done.append(self._finish())
        return [au for au in done if au.nals]

    def _drop_unit(self) -> None:
        """Too big to be a picture: forget it, and ignore its packets until it ends."""
        assert self._current is not None
        self.oversized += 1
        self._overflow = True
        self._current.nals = []
        self._fragment = None

    def _finish(self) -> RtpFrame:
        au, self._current = self._current, None
        self._size, self._overflow = 0, False
        assert au is not None
        return au

    def _remember(self, nal: bytes) -> None:
        kind = nal[0] & 0x1F
        if kind == NAL_SPS:
            self.sps = nal
        elif kind == NAL_PPS:
            self.pps = nal

    def _nals_of(self, payload: bytes) -> list[bytes]:
        if not payload or payload[0] & 0x80:  # forbidden_zero_bit set: damaged
            self.corrupt += 1
            return []
        kind = payload[0] & 0x1F
        if 1 <= kind <= 23:
            return [payload]
        if kind == STAP_A:
            return self._stap_a(payload)
        if kind == FU_A:
            return self._fu_a(payload)
        self.corrupt += 1  # STAP-B, MTAP, FU-B: not allowed in packetization-mode 1
        return []

    def _stap_a(self, payload: bytes) -> list[bytes]:
        nals: list[bytes] = []
        pos = 1
        while pos + 2 <= len(payload):
            size = int.from_bytes(payload[pos:pos + 2], "big")
            pos += 2
            if size == 0 or pos + size > len(payload):
                self.corrupt += 1
                return nals
            nals.append(payload[pos:pos + size])
            pos += size
        return nals

    def _fu_a(self, payload: bytes) -> list[bytes]:
        if len(payload) < 3:
            self.corrupt += 1
            return []
        indicator, header = payload[0], payload[1]
        start, end = header & 0x80, header & 0x40
        if start:
            self._fragment = bytearray([(indicator & 0xE0) | (header & 0x1F)])
        elif self._fragment is None:
            self.corrupt += 1  # a middle or end without its start
            return []
        self._fragment += payload[2:]
        if not end:
            return []
        nal, self._fragment = bytes(self._fragment), None
        return [nal]


class SequenceTracker:
    """RTP sequence numbers -> received, expected, lost, reordered (RFC 3550 A.1, simplified)."""

    def __init__(self) -> None:
        self.received = 0
        self.reordered = 0
        self._first: int | None = None
        self._highest = 0  # extended (with wrap count)

    def add(self, sequence: int) -> None:
        self.received += 1
        if self._first is None:
            self._first = self._highest = sequence
            return
        delta = (sequence - (self._highest & 0xFFFF)) & 0xFFFF
        if 0 < delta < 0x8000:
            self._highest += delta
        else:
            self.reordered += 1

    @property
    def highest(self) -> int:
        """The highest extended sequence number seen (with its wrap count)."""
        return self._highest

    @property
    def expected(self) -> int:
        return 0 if self._first is None else self._highest - self._first + 1

    @property
    def lost(self) -> int:
        return max(0, self.expected - self.received)
