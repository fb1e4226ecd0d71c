"""WebRTC tracks fed from a fan-out subscription.

``PassthroughTrack`` hands aiortc already-encoded frames whose RTP payloads
were made once for the whole stream (``streams/sendpath.py``): RTCRtpSender
only numbers, encrypts and sends them (no encoder, no per-viewer packing),
which is what makes a viewer cost microseconds per frame. In that mode aiortc drops
picture-loss requests (there is no encoder to force a keyframe), so
``attach_keyframe_requests`` routes them here and they are answered from the
fan-out's keyframe cache.

``TranscodeTrack`` is the fallback for sources a browser cannot take as they
are (H.265, MJPEG...): it decodes in a worker thread and returns frames, so
aiortc's own encoder runs. It costs a CPU core-fraction per viewer; it is
counted in the metrics and logged.
"""
from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections.abc import Callable
from typing import cast

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from iocwall.streams import pools
from iocwall.streams.fanout import PLI_REPLAY_BYTES, AccessUnit, EndOfStream, Fanout, Subscriber
from iocwall.streams.sendpath import PayloadCache, PreparedFrame, prepare

log = logging.getLogger(__name__)

CLOCK = 90_000
TIME_BASE = fractions.Fraction(1, CLOCK)
MAX_STEP = 2 * CLOCK              # a bigger source step means a new source, not a real delay
RESUME_GAP = CLOCK                # sent this much later than the camera's step: a stall ended
REPLAY_BPS = 60_000_000           # pace cached GOP bursts so UDP buffers do not overflow
KEYFRAME_ANSWER_MIN_S = 0.5       # browsers repeat PLIs; one replay per half second is plenty


class Retimer:
    """Continuous 90 kHz timestamps across reconnects, stalls and cache replays.

    Replayed units are stamped with the time they actually go out (a paced
    burst of a few ms), so the receiver decodes them at once and shows the
    newest picture instead of re-playing the cached seconds in real time; live
    units keep the camera's own spacing.

    After a discontinuity (a new source, a stall, unusable timestamps) the
    step is the wall-clock time since the previous unit went out. A browser
    maps RTP time to its own clock and schedules rendering by it: had a 5 s
    stall advanced the timestamp by one frame, every later frame would look
    5 s late, and Chromium dropped all but the keyframes (~1 fps) for many
    seconds until its clock estimate caught up.
    """

    def __init__(self) -> None:
        self._out: int | None = None
        self._last_in: int | None = None
        self._last_wall = 0.0
        self._generation = -1

    def next(self, unit: AccessUnit, replay: bool, now: float | None = None) -> int:
        """The RTP timestamp of ``unit``, sent at ``now`` (time.monotonic())."""
        now = time.monotonic() if now is None else now
        ticks = None if unit.pts is None else int(unit.pts * unit.time_base * CLOCK)
        if self._out is None:
            self._out = 0
        else:
            self._out += self._step(ticks, unit.generation, replay, now)
        self._last_in, self._generation, self._last_wall = ticks, unit.generation, now
        return self._out

    def _step(self, ticks: int | None, generation: int, replay: bool, now: float) -> int:
        wall = max(1, round((now - self._last_wall) * CLOCK))
        if replay:
            # the burst's real (paced) spacing: decoded at once, and the receiver's
            # RTP-to-clock estimate is not skewed by many frames in no time
            return wall
        if ticks is None or self._last_in is None or generation != self._generation:
            return wall
        step = ticks - self._last_in
        if not 0 < step <= MAX_STEP:
            return wall
        # delivery resumed after a gap the camera's clock does not show
        return wall if wall - step > RESUME_GAP else step


class FanoutTrack(MediaStreamTrack):
    """A video track reading one fan-out subscription; stops the subscription on stop()."""
    kind = "video"

    def __init__(self, fanout: Fanout, name: str) -> None:
        super().__init__()
        self._fanout = fanout
        self._sub: Subscriber = fanout.subscribe(name)
        self._ended_callbacks: list[Callable[[], None]] = []
        self.source_ended = False    # True when the stream closed the subscription

    async def _next_unit(self) -> AccessUnit:
        if self.readyState != "live":
            raise MediaStreamError
        try:
            return await self._sub.get()
        except EndOfStream:
            self.source_ended = True
            self.stop()
            raise MediaStreamError from None

    def on_stop(self, callback: Callable[[], None]) -> None:
        self._ended_callbacks.append(callback)

    def stop(self) -> None:
        if self.readyState == "live":
            self._fanout.unsubscribe(self._sub)
            for callback in self._ended_callbacks:
                callback()
        super().stop()

    @property
    def subscriber(self) -> Subscriber:
        return self._sub


class PassthroughTrack(FanoutTrack):
    """Forwards H.264 access units untouched (Annex-B, SPS/PPS before keyframes)."""

    def __init__(self, fanout: Fanout, name: str, payloads: PayloadCache | None = None) -> None:
        super().__init__(fanout, name)
        self._retimer = Retimer()
        self._payloads = payloads if payloads is not None else PayloadCache()
        self._last_answer = 0.0
        self.keyframe_requests = 0
        self.keyframe_answers = 0
        self.units_sent = 0

    # Returns frames packed once per stream (not av frames): our send loop
    # (rtploop.py) takes them, aiortc's encoder never sees them.
    async def recv(self) -> PreparedFrame:  # type: ignore[override]
        unit = await self._next_unit()
        replay = self._sub.last_was_replay
        frame = prepare(unit, self._payloads, self._retimer.next(unit, replay))
        self.units_sent += 1
        if replay:
            await asyncio.sleep(len(unit.data) * 8 / REPLAY_BPS)
        return frame

    def request_keyframe(self) -> None:
        """A viewer lost a picture (PLI/FIR): replay a bounded part of the cached GOP to it.

        At most one answer per KEYFRAME_ANSWER_MIN_S, at most PLI_REPLAY_BYTES,
        paced at REPLAY_BPS: a lossy link that keeps asking gets a keyframe now
        and then, never a whole GOP burst each time.
        """
        self.keyframe_requests += 1
        now = time.monotonic()
        if now - self._last_answer < KEYFRAME_ANSWER_MIN_S or self._sub.replay:
            return
        self._last_answer = now
        if self._fanout.replay_to(self._sub, PLI_REPLAY_BYTES):
            self.keyframe_answers += 1


class TranscodeTrack(FanoutTrack):
    """Decodes the source in a thread and returns frames for aiortc to encode."""

    def __init__(self, fanout: Fanout, name: str, codec: str, extradata: bytes) -> None:
        super().__init__(fanout, name)
        self._decoder = cast(av.VideoCodecContext, av.CodecContext.create(codec, "r"))
        if extradata:
            self._decoder.extradata = extradata
        self._retimer = Retimer()

    async def recv(self) -> av.VideoFrame:
        while True:
            unit = await self._next_unit()
            try:
                frames = await pools.TRANSCODE.run(self._decode, unit)
            except pools.PoolBusy:     # every transcode thread is busy: this frame is late,
                self._sub.restart_at_keyframe()   # and the ones after it need it
                continue
            if frames:
                frame = frames[-1]
                frame.pts = self._retimer.next(unit, self._sub.last_was_replay)
                frame.time_base = TIME_BASE
                return frame

    def _decode(self, unit: AccessUnit) -> list[av.VideoFrame]:
        try:
            return list(self._decoder.decode(av.Packet(unit.data)))
        except av.FFmpegError as exc:   # a damaged unit costs one picture, not the track
            log.debug("transcode: undecodable unit: %s", exc)
            return []


def attach_keyframe_requests(sender: object, track: PassthroughTrack) -> None:
    """Route an RTCRtpSender's PLI/FIR handling to ``track``.

    aiortc 1.16 calls ``sender._send_keyframe()`` for every PLI/FIR but only an
    encoder honours it; in passthrough we replace that method on this one
    sender instance (a documented patch point, covered by a test).
    """
    if not hasattr(sender, "_send_keyframe"):
        raise RuntimeError("aiortc changed: RTCRtpSender._send_keyframe is gone")
    sender._send_keyframe = track.request_keyframe  # type: ignore[attr-defined]
