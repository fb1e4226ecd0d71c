"""A small reorder buffer for RTP over UDP: packets in sequence order, bounded.

A packet that arrives in order is released at once, so a clean link adds no
latency. After a gap, later packets wait for the missing one, but at most
``max_wait_s`` (counted from the first packet held) and at most ``max_packets``
packets; then the gap is given up, counted as lost, and playing goes on. A
packet that comes after its gap was given up is counted late and dropped, as
is a duplicate (both are "late"). Memory is bounded whatever the sender does.
"""
from __future__ import annotations

from dataclasses import dataclass

from .rtp import RtpPacket

MAX_PACKETS = 96        # a 1080p keyframe is ~60-100 packets: a gap in it can still heal
MAX_WAIT_S = 0.020      # half a frame interval at 25 fps: a lost packet delays its frame little
MAX_JUMP = 3000         # a bigger jump is a restarted sender, not a gap: follow it


@dataclass
class ReorderStats:
    received: int = 0
    lost: int = 0          # sequence numbers given up (never arrived in time)
    reordered: int = 0     # arrived out of order, still in time
    late: int = 0          # arrived after their turn (gap given up, or a duplicate): dropped
    resyncs: int = 0       # the sender's numbering jumped (it restarted): followed


class ReorderBuffer:
    """Feed packets as they arrive; take them in sequence order."""

    def __init__(self, max_packets: int = MAX_PACKETS, max_wait_s: float = MAX_WAIT_S) -> None:
        self.max_packets, self.max_wait_s = max_packets, max_wait_s
        self.stats = ReorderStats()
        self._held: dict[int, tuple[RtpPacket, float]] = {}   # extended seq -> packet
        self._next: int | None = None       # extended sequence number expected next
        self._highest = 0                   # highest extended sequence seen
        self._held_since: float | None = None

    def push(self, pkt: RtpPacket, at: float) -> list[RtpPacket]:
        """Add one packet; the packets now ready, in order."""
        self.stats.received += 1
        ext = self._extend(pkt.sequence_number)
        if self._next is None:
            self._next = ext
        if abs(ext - self._next) > MAX_JUMP:
            self.stats.resyncs += 1
            out = [p for _, (p, _) in sorted(self._held.items())] + [pkt]
            self._held.clear()
            self._held_since = None
            self._highest, self._next = ext, ext + 1
            return out
        if ext < self._next or ext in self._held:
            self.stats.late += 1
            return []
        if ext == self._next:
            self._next += 1
            healed = bool(self._held)
            out = [pkt] + self._drain(reordered=healed)
            if self._held:
                self._held_since = at      # behind another gap: it waits from now on
            return out
        self._held[ext] = (pkt, at)
        if self._held_since is None:
            self._held_since = at
        if len(self._held) > self.max_packets:
            return self._give_up()
        return []

    def expire(self, now: float) -> list[RtpPacket]:
        """Give up a gap that waited too long; the packets this releases."""
        if self._held_since is None or now - self._held_since < self.max_wait_s:
            return []
        return self._give_up()

    def deadline(self) -> float | None:
        """When ``expire`` will next have something to do (None: nothing held)."""
        return None if self._held_since is None else self._held_since + self.max_wait_s

    @property
    def held(self) -> int:
        return len(self._held)

    # -- internals -----------------------------------------------------------------------
    def _extend(self, seq: int) -> int:
        """16-bit sequence -> extended, relative to the highest seen (wraps both ways)."""
        if self._next is None:
            self._highest = seq
            return seq
        delta = (seq - self._highest) & 0xFFFF
        ext = self._highest + (delta - 0x10000 if delta >= 0x8000 else delta)
        self._highest = max(self._highest, ext)
        return ext

    def _drain(self, reordered: bool) -> list[RtpPacket]:
        out = []
        assert self._next is not None
        while self._next in self._held:
            out.append(self._held.pop(self._next)[0])
            self.stats.reordered += reordered
            self._next += 1
        if not self._held:
            self._held_since = None
        return out

    def _give_up(self) -> list[RtpPacket]:
        """Skip to the oldest held packet: what is missing before it is lost."""
        assert self._next is not None
        first = min(self._held)
        self.stats.lost += first - self._next
        self._next = first
        out = self._drain(reordered=False)
        if self._held:                     # behind another gap: it waits from now on
            self._held_since = min(at for _, at in self._held.values())
        return out
