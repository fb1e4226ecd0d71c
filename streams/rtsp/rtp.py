"""RTP packets (aiortc's ``RtpPacket``) and the H.264 payload format both ways (RFC 3550,
RFC 6184): the one packetizer (the media server's send path and the simulator) and the
one depacketizer (the ingest and the smoke test).

The packetizer is aiortc's (``H264Encoder``'s single NAL / STAP-A / FU-A packing), called
once per access unit by whoever shares the payloads among its viewers.
The depacketizer parses each payload with aiortc's ``H264PayloadDescriptor`` and keeps
the state aiortc does not: the fragment being reassembled, bounded, and the picture it
belongs to. It turns RTP payloads into access units (one picture each, as
Annex B bytes for the decoder) and counts what a broken camera sends wrong:
fragments that arrive without their start, NAL units with the forbidden bit,
packet types we do not know. Those counts feed the "corrupt packets" figure.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from aiortc.codecs.h264 import PACKET_MAX, H264Encoder, H264PayloadDescriptor
from aiortc.rtp import RtpPacket

from iocwall.streams.h264 import NAL_IDR, NAL_PPS, NAL_SPS, START, split_annexb

STAP_A, FU_A = 24, 28
__all__ = ["FU_A", "MAX_UNIT_BYTES", "MAX_UNIT_NALS", "NAL_IDR", "NAL_PPS", "NAL_SPS",
           "PACKET_MAX", "STAP_A", "START", "H264Depacketizer", "RtpError", "RtpFrame",
           "RtpPacket", "SequenceTracker", "packetize", "packetize_annexb", "parse_rtp"]
# One picture is never bigger than this (a 4K keyframe at high quality is ~3 MB) nor made
# of more NAL units: a camera that never ends a unit or a fragment must not grow memory.
MAX_UNIT_BYTES = 8 << 20
MAX_UNIT_NALS = 1024


def _aiortc_packer() -> tuple[Callable[[Iterable[bytes]], list[bytes]],
                             Callable[[bytes], Iterator[bytes]]]:
    """aiortc 1.16's packing steps (private, pinned in pyproject.toml; checked here and in
    tests/test_pinned_internals.py so an upgrade that moves them fails at import)."""
    pack = getattr(H264Encoder, "_packetize", None)
    split = getattr(H264Encoder, "_split_bitstream", None)
    if not callable(pack) or not callable(split):
        raise ImportError("aiortc changed: H264Encoder has no _packetize/_split_bitstream")
    return pack, split


_pack, _split = _aiortc_packer()


def packetize(nals: Iterable[bytes]) -> list[bytes]:
    """RTP payloads (at most ``PACKET_MAX`` bytes) for one access unit's NAL units, in
    order: small units aggregated (STAP-A), big ones fragmented (FU-A), others alone."""
    return _pack(n for n in nals if n)      # aiortc's packer fails on an empty unit


def packetize_annexb(data: bytes) -> list[bytes]:
    """``packetize`` for an Annex-B access unit, split at start codes as aiortc splits it."""
    return packetize(_split(data))


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
        # fragments thrown away because an earlier one was lost: a consequence of loss
        # (already counted as lost), not corruption, so /metrics does not blame the camera
        self.orphaned = 0
        self.salvaged = 0        # slices cut short by loss and forwarded truncated
        self._after_gap = True   # joining mid-stream is like a gap: a fragment may be cut
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
        if self._last_seq is not None and pkt.sequence_number != (self._last_seq + 1) & 0xFFFF:
            self._salvage()        # a lost packet ends any fragment in progress
            self._after_gap = True
        if self._current is not None and pkt.timestamp != self._current.timestamp:
            done.append(self._finish())  # a marker bit went missing: close by timestamp
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

    def _salvage(self) -> None:
        """Keep what arrived of a slice cut short by loss, as a shorter NAL unit.

        A decoder decodes a truncated slice up to its end and conceals only the
        rest (FFmpeg, browsers); dropping the whole slice left its whole region
        stale until the next keyframe. Only whole bytes before the gap are kept:
        never a slice with a hole in its middle.
        """
        fragment, self._fragment = self._fragment, None
        if fragment is None or self._current is None or self._overflow or len(fragment) < 2:
            return
        self.salvaged += 1
        self._current.nals.append(bytes(fragment))

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
            self.corrupt += 1                 # (aiortc's parse does not look at it)
            return []
        kind = payload[0] & 0x1F
        if len(payload) == 1:
            # aiortc refuses a one-byte NAL unit, but end of sequence and end of stream
            # (types 10, 11) are exactly one byte: a lone header stays ours
            if 1 <= kind <= 23:
                return [payload]
            self.corrupt += 1
            return []
        if kind == FU_A:
            return self._fu_a(payload)
        try:
            _, annexb = H264PayloadDescriptor.parse(payload)
        except ValueError:   # STAP-B, MTAP, FU-B (not in packetization-mode 1), cut short
            self.corrupt += 1
            return []
        if kind != STAP_A:
            return [annexb[4:]]
        # aiortc joins the aggregated units as Annex B: split them again (a truncated
        # STAP-A raised above and is dropped whole; an empty unit simply vanishes here)
        return list(split_annexb(annexb))

    def _fu_a(self, payload: bytes) -> list[bytes]:
        if len(payload) < 3:                  # a fragment with no data (aiortc takes it)
            self.corrupt += 1
            return []
        descriptor, data = H264PayloadDescriptor.parse(payload)
        if descriptor.first_fragment:         # data: start code, rebuilt NAL header, bytes
            self._fragment = bytearray(data[4:])
            self._after_gap = False
        elif self._fragment is None:          # a middle or end without its start:
            if self._after_gap:               # its start was lost
                self.orphaned += 1
            else:                             # nothing was lost: the camera sent it so
                self.corrupt += 1
            return []
        else:
            self._fragment += data
        if not payload[1] & 0x40:             # aiortc's descriptor has no end flag: read it
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
