"""Packet fan-out: one camera stream to many subscribers, bounded, with a keyframe cache.

Every subscriber has its own small queue. When a subscriber falls behind, its
queue is emptied and it skips to the next keyframe (dropping frames of a GOP
would corrupt the picture anyway): the drops are counted, memory never grows.
"Behind" is judged by age, not length: a live unit older than ``max_age_s``
(received by the puller that long ago) is late on a wall, whatever the frame
rate; the unit count is only a memory bound. The cache holds the last keyframe
and the access units after it, so a new viewer (or one that lost a picture)
starts decoding at once.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

QUEUE_UNITS = 200          # per subscriber, a memory bound only; > cache so a GOP replay fits
CACHE_UNITS = 150          # access units after the keyframe kept for new viewers
CACHE_BYTES = 16 << 20
MAX_AGE_S = 0.5            # a live unit older than this is late: skip to the next keyframe
PLI_REPLAY_BYTES = 512 << 10   # a picture-loss answer replays at most this much of the GOP


@dataclass(frozen=True)
class AccessUnit:
    """One encoded picture as it came from the camera (Annex-B for H.264)."""
    data: bytes
    pts: int | None          # in ``time_base`` units of the source
    time_base: float         # seconds per pts tick
    keyframe: bool
    generation: int = 0      # bumps on every reconnect: pts restart with a new source
    received: float = 0.0    # time.monotonic() when the puller read it
    nals: tuple[bytes, ...] = ()   # the NAL units of ``data`` when the ingest had them split


class EndOfStream(Exception):
    """The subscription was closed."""


@dataclass(eq=False)   # identity semantics: subscribers live in a set
class Subscriber:
    """A bounded queue of access units for one consumer (a viewer, a snapshot...)."""
    name: str
    limit: int = QUEUE_UNITS
    max_age_s: float = MAX_AGE_S
    dropped: int = 0
    dropped_late: int = 0    # of ``dropped``: units thrown away for being older than max_age_s
    delivered: int = 0
    _queue: deque[AccessUnit] = field(default_factory=deque)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _need_keyframe: bool = True
    _started: bool = False
    _closed: bool = False
    replay: int = 0          # units of the last cache replay still in the queue
    _generation: int = -1    # source generation of the units offered last
    last_was_replay: bool = False

    def offer(self, unit: AccessUnit) -> None:
        if self._closed:
            return
        if unit.generation != self._generation:
            # a new source (reconnect): its pictures cannot reference the old ones, and
            # anything of the old source still queued is stale; resume at its first keyframe
            self._generation = unit.generation
            self._need_keyframe = True
            self.replay = 0
            self.dropped += len(self._queue)
            self._queue.clear()
        if self._need_keyframe and not unit.keyframe:
            self.dropped += self._started   # waiting for the very first keyframe is no drop
            return
        if len(self._queue) >= self.limit or self._head_late(unit.received):
            # too slow: everything queued is stale; restart at the next keyframe
            self._skip(extra=1)
            if not unit.keyframe:
                return
        self._need_keyframe = False
        self._started = True
        self._queue.append(unit)
        self._wakeup.set()

    def load(self, units: list[AccessUnit], *, wait_keyframe: bool = False) -> None:
        """Replace the queue by a replay of ``units`` (a cached GOP), then go on live."""
        if self._closed or not units:
            return
        self.dropped += len(self._queue)
        self._queue.clear()
        self._queue.extend(units[:self.limit])
        self._generation = units[0].generation
        self.replay = len(self._queue)
        self._need_keyframe = wait_keyframe
        self._started = True
        self._wakeup.set()

    def restart_at_keyframe(self) -> None:
        self._need_keyframe = True

    def _head_late(self, now: float | None = None) -> bool:
        """Is the oldest queued live unit older than max_age_s? (replays are old by design)"""
        if len(self._queue) <= self.replay:
            return False
        head = self._queue[self.replay]
        if head.received <= 0:
            return False          # a source without receive times: only the count bounds it
        now = time.monotonic() if not now else now
        return now - head.received > self.max_age_s

    def _skip(self, extra: int = 0) -> None:
        """Throw the queue away and wait for the next keyframe (counted as late drops)."""
        late = len(self._queue) + extra
        self.dropped += late
        self.dropped_late += late
        self._queue.clear()
        self._need_keyframe = True
        self.replay = 0

    async def get(self) -> AccessUnit:
        while True:
            while not self._queue:
                if self._closed:
                    raise EndOfStream(self.name)
                self._wakeup.clear()
                await self._wakeup.wait()
            if not self._head_late():
                break
            # the consumer fell behind: what is queued would only add delay
            self._skip()
        self.delivered += 1
        # lets the consumer retime and pace a burst of cached units differently
        self.last_was_replay = self.replay > 0
        if self.replay:
            self.replay -= 1
        return self._queue.popleft()

    def pending(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        self._closed = True
        self._queue.clear()
        self._wakeup.set()

    @property
    def closed(self) -> bool:
        return self._closed


class KeyframeCache:
    """The last keyframe and the units after it, bounded in count and bytes."""

    def __init__(self, max_units: int = CACHE_UNITS, max_bytes: int = CACHE_BYTES) -> None:
        self._units: list[AccessUnit] = []
        self._bytes = 0
        self._complete = False   # False once a bound cut the GOP short
        self.max_units, self.max_bytes = max_units, max_bytes

    def add(self, unit: AccessUnit) -> None:
        if unit.keyframe:
            self._units, self._bytes, self._complete = [unit], len(unit.data), True
            return
        if not self._units:
            return
        if len(self._units) >= self.max_units or self._bytes + len(unit.data) > self.max_bytes:
            self._complete = False   # a replay would have a hole; serve the keyframe only
            return
        if self._complete:
            self._units.append(unit)
            self._bytes += len(unit.data)

    def units(self) -> list[AccessUnit]:
        """What a new viewer should decode first (empty until a keyframe arrived)."""
        return list(self._units) if self._complete else self._units[:1]

    @property
    def complete(self) -> bool:
        return self._complete

    def keyframe(self) -> AccessUnit | None:
        return self._units[0] if self._units else None

    def clear(self) -> None:
        self._units, self._bytes, self._complete = [], 0, False


class Fanout:
    """Delivers each access unit to every subscriber without ever blocking the source."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.cache = KeyframeCache()
        self._subscribers: set[Subscriber] = set()
        self.dropped_total = 0     # drops of subscribers that already left
        self.late_total = 0        # of which for being late
        # called with every unit as it is published (the replay buffer): must be quick and
        # never raise; a listener is not a viewer and has no queue to fall behind in
        self._listeners: list[Callable[[AccessUnit], None]] = []

    def add_listener(self, listener: Callable[[AccessUnit], None]) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[AccessUnit], None]) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def subscribe(self, name: str, *, replay: bool = True) -> Subscriber:
        sub = Subscriber(name)
        if replay:
            self.replay_to(sub)
        self._subscribers.add(sub)
        return sub

    def end_subscribers(self) -> None:
        """The stream is gone for good (camera or stream removed): every subscriber left
        (analytics taps) gets EndOfStream at its next read."""
        for sub in self._subscribers:
            sub.close()

    def unsubscribe(self, sub: Subscriber) -> None:
        if sub in self._subscribers:
            self._subscribers.discard(sub)
            self.dropped_total += sub.dropped
            self.late_total += sub.dropped_late
        sub.close()

    def publish(self, unit: AccessUnit) -> None:
        self.cache.add(unit)
        for sub in self._subscribers:
            sub.offer(unit)
        for listener in self._listeners:
            listener(unit)

    def resume(self) -> None:
        """The source sends again after a stall: every subscriber restarts at a keyframe.

        A frame the demuxer held through the stall arrives first, alone and seconds
        late; Chromium then decoded nothing until the GOP after next (~2 s). Starting
        at the source's next keyframe gives the viewer a clean picture at once.
        """
        for sub in self._subscribers:
            sub.restart_at_keyframe()

    def replay_to(self, sub: Subscriber, max_bytes: int | None = None) -> bool:
        """Resend the cached GOP to one subscriber (a new viewer, or one that lost a picture).

        ``max_bytes`` bounds a picture-loss answer: a lossy link asking again and
        again must not get the whole GOP each time. Past the bound only the units
        that fit are replayed (the keyframe at least) and the viewer then waits for
        the camera's next keyframe: a short freeze instead of a burst.
        """
        units = self.cache.units()
        if not units:
            return False
        complete = self.cache.complete
        if max_bytes is not None:
            kept, total = units[:1], len(units[0].data)
            for unit in units[1:]:
                total += len(unit.data)
                if total > max_bytes:
                    complete = False
                    break
                kept.append(unit)
            units = kept
        # a GOP too long to cache leaves only its keyframe: skip to the next one after it
        sub.load(units, wait_keyframe=not complete)
        return True

    def reset(self) -> None:
        """A new source (reconnect): old units are of no use to anyone."""
        self.cache.clear()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def drops(self) -> int:
        return self.dropped_total + sum(s.dropped for s in self._subscribers)

    def late_drops(self) -> int:
        return self.late_total + sum(s.dropped_late for s in self._subscribers)
