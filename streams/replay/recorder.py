"""The replay buffers of one media process: which streams are buffered, and their answers.

A buffered stream is pulled for as long as it is buffered (the recorder holds the
channel like a viewer that never leaves) and each access unit goes to its buffer
straight from the fan-out's publish, on the loop: muxing a unit is a copy and a few
header writes, cheaper than a queue and a task per camera. Clips are joined in a
thread so the loop keeps serving live video.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from iocwall.streams.fanout import AccessUnit
from iocwall.streams.limits import WhepError
from iocwall.streams.replay import clip
from iocwall.streams.replay.buffer import Budget, StreamBuffer
from iocwall.streams.replay.model import ReplayClip, ReplayRange
from iocwall.streams.settings import ReplaySettings

log = logging.getLogger(__name__)
MAX_CLIP_S = 600.0               # one request never asks for more than this
MAX_CLIP_BYTES = 64 << 20        # one answer's size (it crosses the media socket whole)
# A start this little before the buffer's first picture is taken as that picture: the
# range a client read may have lost its oldest GOP since (the window slides), and ISO
# times are rounded to the millisecond.
GRACE_S = 2.0


class ChannelLike(Protocol):
    key: str

    def acquire(self) -> None: ...
    def release(self) -> None: ...
    def add_listener(self, listener: Callable[[AccessUnit], None]) -> None: ...
    def remove_listener(self, listener: Callable[[AccessUnit], None]) -> None: ...


class _Binding:
    """One buffered stream: the buffer, and the listener it gave the channel."""

    def __init__(self, channel: ChannelLike, buffer: StreamBuffer) -> None:
        self.channel, self.buffer = channel, buffer
        self.failures = 0

    def __call__(self, unit: AccessUnit) -> None:
        if unit.pts is None:
            return
        wall = time.time() - (time.monotonic() - unit.received) if unit.received else None
        try:
            self.buffer.add(unit.data, unit.pts * unit.time_base, unit.keyframe,
                            unit.generation, wall)
        except Exception:            # a buffer must never break live video
            self.failures += 1
            if self.failures <= 3:
                log.exception("%s: replay buffer failed", self.channel.key)


class ReplayRecorder:
    def __init__(self, settings: ReplaySettings) -> None:
        self.settings = settings
        self.budget = Budget(settings.max_bytes_total)
        self._bound: dict[tuple[str, str], _Binding] = {}

    def seconds(self, stream: str) -> float:
        return {"sub": self.settings.sub_seconds, "main": self.settings.main_seconds}.get(
            stream, 0.0)

    def start(self, camera: str, stream: str, channel: ChannelLike) -> None:
        """Buffer this stream (no-op when it is, or when its stream keeps 0 seconds)."""
        key = (camera, stream)
        if key in self._bound or self.seconds(stream) <= 0:
            return
        buffer = StreamBuffer(channel.key, self.seconds(stream),
                              self.settings.max_bytes_per_camera, self.budget)
        binding = _Binding(channel, buffer)
        self._bound[key] = binding
        channel.add_listener(binding)
        channel.acquire()
        log.info("%s: buffering %.0f s for replay", channel.key, self.seconds(stream))

    def stop(self, camera: str, stream: str) -> None:
        binding = self._bound.pop((camera, stream), None)
        if binding is None:
            return
        binding.channel.remove_listener(binding)
        binding.channel.release()
        binding.buffer.close()

    def stop_camera(self, camera: str) -> None:
        for cam, stream in [k for k in self._bound if k[0] == camera]:
            self.stop(cam, stream)

    def stop_all(self) -> None:
        for cam, stream in list(self._bound):
            self.stop(cam, stream)

    def buffered(self, camera: str) -> bool:
        return any(k[0] == camera for k in self._bound)

    def ranges(self, camera: str) -> dict[str, ReplayRange]:
        out = {}
        for (cam, stream), binding in self._bound.items():
            span = binding.buffer.span() if cam == camera else None
            if span is not None:
                out[stream] = ReplayRange(*span)
        return out

    async def clip(self, camera: str, stream: str, start: float, duration: float) -> ReplayClip:
        """The span [start, start + duration) as one MP4; 404 outside the buffer."""
        binding = self._bound.get((camera, stream))
        span = binding.buffer.span() if binding is not None else None
        if binding is None or span is None:
            raise WhepError(404, "not_buffered", f"'{camera}' {stream} is not buffered / "
                            "camera này không có đoạn ghi để xem lại")
        if span[0] - GRACE_S <= start < span[0]:
            start = span[0]
        if not span[0] <= start < span[1]:
            raise WhepError(404, "outside_buffer", "that time is not in the replay buffer / "
                            "thời điểm này không còn trong bộ đệm xem lại")
        duration = max(0.1, min(duration, MAX_CLIP_S))
        picked = binding.buffer.select(start, start + duration)
        parts = [(segment.init, [f.data for f in fragments]) for segment, fragments in picked]
        if sum(len(d) for _, frags in parts for d in frags) > MAX_CLIP_BYTES:
            raise WhepError(413, "clip_too_large", "ask for a shorter span / hãy chọn đoạn "
                            "ngắn hơn")
        data = await asyncio.to_thread(clip.join, parts)
        first, last = picked[0][1][0], picked[-1][1][-1]
        segment = picked[0][0]
        return ReplayClip(data, first.start, last.end, segment.width, segment.height)

    def stats(self) -> dict[str, int]:
        buffers = [b.buffer for b in self._bound.values()]
        return {"streams": len(buffers), "bytes": sum(b.bytes + b.pending_bytes for b in buffers),
                "dropped_gops": sum(b.dropped_gops for b in buffers),
                "evicted": self.budget.evicted}
