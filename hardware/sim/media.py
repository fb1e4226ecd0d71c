"""One packet source per camera stream, shared by all of that stream's viewers.

The source walks its pre-encoded loop at the stream's frame rate, writes the
send time into each frame (stamp_patch), cuts RTP payloads once and hands the
same frame to every viewer. It sleeps while nobody watches. Faults (stall,
corrupt) are asked of a small ``FaultView`` so this module knows no HTTP.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import Protocol

from iocwall.streams.rtsp.rtp import packetize

from . import h264
from .encoder import Loop
from .stamp_patch import StampPatcher

log = logging.getLogger(__name__)
MAX_LATE_FRAMES = 5


@dataclass(frozen=True)
class Frame:
    payloads: list[bytes]
    ts90k: int          # source timestamp, continuous across loop wrap-around
    wall: float         # epoch seconds when sent (also written in the stamp)
    keyframe: bool


class Viewer(Protocol):
    def deliver(self, frame: Frame) -> None: ...
    def resync(self) -> None: ...


class FaultView(Protocol):
    def stalled(self) -> bool: ...
    def corrupting(self) -> bool: ...


class StreamSource:
    """Frames of one stream (camK/main or camK/sub) on a shared clock origin."""

    def __init__(self, name: str, loop: Loop, origin: float, faults: FaultView) -> None:
        self.name = name
        self.origin = origin          # time.monotonic() of frame 0, shared by main and sub
        self.faults = faults
        self.viewers: set[Viewer] = set()
        self.frames_sent = 0
        self.frames_skipped = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._pending: Loop | None = None
        self._use(loop)

    def _use(self, loop: Loop) -> None:
        self.loop = loop
        self.spec = loop.spec
        self.patcher = StampPatcher(h264.parse_sps(loop.sps), h264.parse_pps(loop.pps))
        self._nals = [h264.split_annexb(f) for f in loop.frames]

    # --- control ------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"source {self.name}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def attach(self, viewer: Viewer) -> None:
        self.viewers.add(viewer)
        self._wake.set()

    def detach(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)

    def switch_loop(self, loop: Loop) -> None:
        """Change resolution at the next keyframe boundary (viewers get new SPS in-band)."""
        self._pending = loop

    def frame_index(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        return int((now - self.origin) * self.spec.fps)

    def next_keyframe_ts(self) -> int:
        """Source timestamp of the next IDR (what a new viewer will see first)."""
        n = self.frame_index() + 1
        n += -n % self.spec.gop
        return n * 90000 // self.spec.fps

    # --- the loop -------------------------------------------------------------
    async def _run(self) -> None:
        n = self.frame_index()
        while True:
            if not self.viewers:
                self.patcher.reset()
                self._wake.clear()
                await self._wake.wait()
                n = self.frame_index()
            delay = self.origin + n / self.spec.fps - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif -delay * self.spec.fps > MAX_LATE_FRAMES:
                # Fell behind (busy machine): jump to now; viewers resync at the next IDR.
                late = self.frame_index()
                self.frames_skipped += late - n
                n = late
                self._resync()
            try:
                await self._step(n)
            except Exception:  # one bad frame must not end the stream
                log.exception("%s: frame %d failed", self.name, n)
            n += 1

    async def _step(self, n: int) -> None:
        """Make and send frame ``n`` (the live source renders and encodes instead)."""
        self._produce(n)

    def _send(self, n: int, nals: list[bytes], wall: float, keyframe: bool) -> None:
        # the one H.264 packetizer (aiortc's, as the media server sends), once per frame;
        # access unit delimiters are not sent (the encoder makes none: aud=0)
        payloads = packetize(n for n in nals if n[0] & 0x1F != h264.NAL_AUD)
        if self.faults.corrupting():
            payloads = _corrupt(payloads)
        frame = Frame(payloads, n * 90000 // self.spec.fps, wall, keyframe)
        for viewer in list(self.viewers):
            try:
                viewer.deliver(frame)
            except Exception:  # one broken viewer must not starve the others
                log.exception("%s: a viewer failed; it is dropped", self.name)
                self.viewers.discard(viewer)
        self.frames_sent += 1

    def _resync(self) -> None:
        self.patcher.reset()
        for viewer in list(self.viewers):
            viewer.resync()

    def _produce(self, n: int) -> None:
        index = n % len(self._nals)
        if self._pending is not None and index % self.spec.gop == 0:
            self._use(self._pending)
            self._pending = None
        if self.faults.stalled():
            self.patcher.reset()
            for viewer in list(self.viewers):
                viewer.resync()
            return
        wall = time.time()
        keyframe = self.loop.keyframes[index]
        self._send(n, self.patcher.patch(self._nals[index], int(wall * 1000)), wall, keyframe)


def _corrupt(payloads: list[bytes]) -> list[bytes]:
    """A burst of damage: garbage slice data, and the frame cut short.

    The garbage is typed as slices (never parameter sets), like bit errors on a
    link: decoders report errors and recover at the next IDR.
    """
    garbage = [bytes([0x41]) + os.urandom(200), bytes([0x7C, 0x81]) + os.urandom(600),
               bytes([0x61]) + os.urandom(300)]
    return garbage + payloads[: max(1, len(payloads) // 3)]
