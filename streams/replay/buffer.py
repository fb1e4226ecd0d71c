"""The rolling buffer of one camera stream: segments of fMP4 fragments, bounded.

A segment is one init (``ftyp``+``moov``) and the fragments muxed after it; a new source
session (camera restart, reconnect) or a new picture size starts a new segment, so a
span across the change still has each part's own init. Each fragment carries the
wall-clock time of its first picture and of the next GOP's first picture.

Bounds: ``seconds`` of history; ``max_bytes`` for this stream (fragments plus the GOP the
muxer is still holding); and a ``Budget`` shared by every buffer of the process, which
evicts the oldest fragment of the process when the total is over. A GOP that alone would
break the per-stream bound (a camera sending huge frames) is thrown away as it grows and
the stream waits for the next keyframe: memory never passes the bound.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field

from iocwall.streams.replay.muxer import CLOCK, Fragment, SegmentMuxer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stored:
    """A fragment in the buffer with its wall-clock span (time.time() seconds)."""
    data: bytes
    start: float
    end: float


@dataclass(eq=False)
class Segment:
    init: bytes
    width: int
    height: int
    fragments: deque[Stored] = field(default_factory=deque)


class Budget:
    """The process's total bound across buffers: evicts the oldest fragment of the buffers
    that have more than one (then of any)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.buffers: set[StreamBuffer] = set()
        self.evicted = 0

    @property
    def used(self) -> int:
        return sum(b.bytes for b in self.buffers)

    def enforce(self) -> None:
        if self.max_bytes <= 0:
            return
        used = self.used
        while used > self.max_bytes:
            # a camera keeps its newest GOP while another has more than one to give
            have = [b for b in self.buffers if b.oldest() is not None]
            spare = [b for b in have if b.fragment_count() > 1] or have
            oldest = min(spare, key=lambda b: b.oldest() or 0.0, default=None)
            if oldest is None:
                return
            used -= oldest.drop_oldest()
            self.evicted += 1


class StreamBuffer:
    def __init__(self, name: str, seconds: float, max_bytes: int, budget: Budget) -> None:
        self.name, self.seconds, self.max_bytes = name, seconds, max_bytes
        self.segments: deque[Segment] = deque()
        self.bytes = 0                       # stored fragments and inits
        self.dropped_gops = 0                # GOPs thrown away for the bounds
        self._muxer: SegmentMuxer | None = None
        self._generation: int | None = None
        self._gop_wall: list[float] = []     # wall times of keyframes not yet written out
        self._budget = budget
        budget.buffers.add(self)

    # -- input -------------------------------------------------------------------------
    def add(self, data: bytes, seconds: float, keyframe: bool, generation: int,
            wall: float | None = None) -> None:
        """One access unit of the source at ``seconds`` (its own clock), seen at ``wall``."""
        wall = time.time() if wall is None else wall
        if generation != self._generation:
            self._end_segment()
            self._generation = generation
        if self._muxer is None:
            if not keyframe:
                return                       # a segment starts at a keyframe
            self._start_segment(data)
            if self._muxer is None:
                return
        if not self._room(len(data)):
            # this GOP alone is over the bound: drop it, resume at the next keyframe
            self.dropped_gops += 1
            self._end_segment()
            if not keyframe:
                return
            self._start_segment(data)
            if self._muxer is None or not self._room(len(data)):
                self._end_segment()
                return
        muxer = self._muxer
        if keyframe:
            self._gop_wall.append(wall)
        try:
            fragments = muxer.add(data, seconds, keyframe)
        except Exception as exc:            # noqa: BLE001 - a bad unit: new segment at next key
            log.warning("%s: replay muxer failed (%s): new segment at the next keyframe",
                        self.name, exc)
            self._end_segment()
            return
        if self.segments and self.segments[-1].init == b"" and muxer.init:
            self.segments[-1].init = muxer.init
            self.bytes += len(muxer.init)
        for fragment in fragments:
            self._store(fragment, wall)

    def _room(self, size: int) -> bool:
        """Make room for ``size`` more bytes of the GOP being muxed (oldest fragments go
        first); False when the GOP alone would be over the bound."""
        need = (self._muxer.pending_bytes if self._muxer else 0) + size
        while self.bytes + need > self.max_bytes:
            if not self.drop_oldest():
                return False
        return True

    def _start_segment(self, keyframe: bytes) -> None:
        try:
            self._muxer = SegmentMuxer(keyframe)
        except Exception as exc:            # noqa: BLE001 - no SPS, not H.264: wait for more
            log.warning("%s: replay cannot describe the stream: %s", self.name, exc)
            self._muxer = None
            return
        self._gop_wall = []
        self.segments.append(Segment(b"", self._muxer.width, self._muxer.height))

    def _end_segment(self) -> None:
        if self._muxer is not None:
            self._muxer.close()
        self._muxer = None
        self._gop_wall = []
        if self.segments and not self.segments[-1].fragments:
            self.bytes -= len(self.segments.pop().init)

    def _store(self, fragment: Fragment, now: float) -> None:
        start = self._gop_wall.pop(0) if self._gop_wall else now
        end = self._gop_wall[0] if self._gop_wall else \
            start + (fragment.end_ticks - fragment.start_ticks) / CLOCK
        self.segments[-1].fragments.append(Stored(fragment.data, start, end))
        self.bytes += len(fragment.data)
        self._trim(end - self.seconds)
        self._budget.enforce()

    # -- bounds ------------------------------------------------------------------------
    def _trim(self, oldest_kept: float) -> None:
        while self.bytes > self.max_bytes or \
                (self.oldest() is not None and (self.oldest() or 0.0) <= oldest_kept
                 and self.fragment_count() > 1):
            if not self.drop_oldest():
                return

    def fragment_count(self) -> int:
        return sum(len(s.fragments) for s in self.segments)

    def oldest(self) -> float | None:
        for segment in self.segments:
            if segment.fragments:
                return segment.fragments[0].end   # judged by its end: it is whole till then
        return None

    def drop_oldest(self) -> int:
        """Drop the oldest fragment (and its segment's init once empty); bytes freed."""
        while self.segments:
            segment = self.segments[0]
            if not segment.fragments:
                if len(self.segments) == 1:
                    return 0                 # the live segment, still to get its first GOP
                self.segments.popleft()
                self.bytes -= len(segment.init)
                continue
            freed = len(segment.fragments.popleft().data)
            if not segment.fragments and len(self.segments) > 1:
                self.segments.popleft()
                freed += len(segment.init)
            self.bytes -= freed
            return freed
        return 0

    def close(self) -> None:
        self._end_segment()
        self.segments.clear()
        self.bytes = 0
        self._budget.buffers.discard(self)

    # -- output ------------------------------------------------------------------------
    def span(self) -> tuple[float, float] | None:
        """(first picture, end of last stored GOP) in wall-clock seconds."""
        first = next((s.fragments[0].start for s in self.segments if s.fragments), None)
        last = next((s.fragments[-1].end for s in reversed(self.segments) if s.fragments), None)
        return None if first is None or last is None else (first, last)

    def select(self, start: float, end: float) -> list[tuple[Segment, list[Stored]]]:
        """The fragments covering [start, end): from the one holding ``start`` (its keyframe
        is at or before it), grouped by segment."""
        out: list[tuple[Segment, list[Stored]]] = []
        for segment in self.segments:
            picked = [f for f in segment.fragments if f.end > start and f.start < end]
            if picked:
                out.append((segment, picked))
        return out

    @property
    def pending_bytes(self) -> int:
        return self._muxer.pending_bytes if self._muxer is not None else 0
