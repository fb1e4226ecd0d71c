"""Decode access units on a thread of their own, so the network loop never waits on the codec.

For each decoded picture it keeps what the checks need: when it came out (time
to first frame), its size (resolution), whether FFmpeg flagged it corrupt, and
the frame stamp if there is one (glass-to-glass latency). The queue is bounded:
if decoding falls behind, access units are dropped and counted, never hoarded.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from iocwall.hardware import stamp

log = logging.getLogger(__name__)
_STOP = object()
_PLANAR_LUMA = ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "gray")
PLAUSIBLE_MS = 600_000  # a stamp more than 10 min off is a misread, not a latency


@dataclass
class DecodeStats:
    frames: int = 0
    corrupt_frames: int = 0
    decode_errors: int = 0        # packets the decoder rejected outright
    dropped: int = 0              # access units dropped because decoding fell behind
    first_frame_at: float | None = None  # time.monotonic()
    sizes: list[tuple[int, int]] = field(default_factory=list)  # distinct, in order seen
    latencies_ms: list[float] = field(default_factory=list)
    b_frames: int = 0
    bad_stamps: int = 0           # stamps read as something absurd (damaged pictures)


class FrameDecoder:
    def __init__(self, max_queue: int = 150) -> None:
        self.stats = DecodeStats()
        self._queue: queue.Queue[object] = queue.Queue(max_queue)
        self._thread = threading.Thread(target=self._run, name="smoke-decoder", daemon=True)
        self._thread.start()

    def submit(self, annexb: bytes) -> None:
        try:
            self._queue.put_nowait(annexb)
        except queue.Full:
            self.stats.dropped += 1

    def finish(self, wait_s: float) -> None:
        """Let queued pictures decode for up to ``wait_s``, then stop the thread."""
        deadline = time.monotonic() + wait_s
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.02)
        while True:  # make room for the stop marker: what is left is dropped, counted
            try:
                self._queue.put_nowait(_STOP)
                break
            except queue.Full:
                try:
                    self._queue.get_nowait()
                    self.stats.dropped += 1
                except queue.Empty:
                    pass
        self._thread.join(timeout=2.0)

    def _run(self) -> None:
        import av  # heavy: imported where used

        ctx = av.CodecContext.create("h264", "r")
        ctx.thread_type = "SLICE"  # frame threads would add latency and delay the first frame
        while (item := self._queue.get()) is not _STOP:
            assert isinstance(item, bytes)
            try:
                frames = ctx.decode(av.Packet(item))
            except (av.error.FFmpegError, ValueError) as exc:
                self.stats.decode_errors += 1
                log.debug("decoder rejected a picture: %s", exc)
                continue
            for frame in frames:
                self._account(frame)

    def _account(self, frame: Any) -> None:
        now_ms = time.time() * 1000.0
        s = self.stats
        s.frames += 1
        if s.first_frame_at is None:
            s.first_frame_at = time.monotonic()
        size = (frame.width, frame.height)
        if not s.sizes or s.sizes[-1] != size:
            s.sizes.append(size)
        if str(frame.pict_type).endswith("B"):
            s.b_frames += 1
        if frame.is_corrupt:
            s.corrupt_frames += 1
            return  # a concealed picture may carry a garbled stamp
        value = stamp.decode(_stamp_region(frame))
        if value is None:
            return
        latency = _signed_latency(value, now_ms)
        if abs(latency) <= PLAUSIBLE_MS:
            s.latencies_ms.append(latency)
        else:
            s.bad_stamps += 1  # damaged in a way FFmpeg did not flag


def _stamp_region(frame: Any) -> np.ndarray:
    """The top-left 384x32 luma pixels, without converting the whole picture."""
    if frame.format.name in _PLANAR_LUMA:
        plane = frame.planes[0]
        rows = min(stamp.HEIGHT, frame.height)
        luma = np.frombuffer(memoryview(plane), np.uint8)
        luma = luma[: rows * plane.line_size].reshape(rows, plane.line_size)
        return luma[:, : min(stamp.WIDTH, frame.width)]
    return frame.to_ndarray(format="gray")[: stamp.HEIGHT, : stamp.WIDTH]


def _signed_latency(stamp_ms: int, now_ms: float) -> float:
    """now - stamp in ms; negative when the stamp is ahead of our clock."""
    diff = (now_ms - stamp_ms) % stamp.MODULUS
    return diff - stamp.MODULUS if diff > stamp.MODULUS / 2 else diff
