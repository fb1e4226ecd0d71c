"""The analytics tap: a camera's sub stream, sampled and decoded for the workers.

    tap = CameraTap(media, "cam1", zones, TapOptions(fps=2), router.offer, pool)
    task = asyncio.create_task(tap.run())      # cancel it to stop

The tap subscribes like any viewer (the fan-out's bounded queue: when decoding
falls behind, the tap skips to the next keyframe and the fan-out counts the
drop; live viewers never wait for it). Every access unit is decoded, since
P-frames need their references, but only ``fps`` pictures a second are
converted and JPEG-encoded; with ``keyframes_only`` only keyframes are decoded.
Decoding runs in a bounded thread pool shared by all taps. Each frame carries
its wall-clock capture time: when its last packet reached the server.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Protocol, cast

from iocwall.analytics.messages import FrameHeader, ZoneSpec
from iocwall.streams.fanout import AccessUnit, EndOfStream, Subscriber

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TapOptions:
    fps: float = 2.0
    keyframes_only: bool = False
    jpeg_quality: int = 85


class MediaLike(Protocol):
    def subscribe(self, camera_id: str, stream: str, name: str) -> tuple[Any, Subscriber]: ...
    def unsubscribe(self, channel: Any, sub: Subscriber) -> None: ...


FrameSink = Callable[[FrameHeader, bytes], None]


class _Decoder:
    """One H.264 (or other) decoder; used from one pool thread at a time."""

    def __init__(self, codec: str, extradata: bytes) -> None:
        import av
        self._av = av
        self._ctx = cast("av.VideoCodecContext", av.CodecContext.create(codec, "r"))
        if extradata:
            self._ctx.extradata = extradata

    def decode(self, unit: AccessUnit, keep: bool, quality: int) -> tuple[bytes, int, int] | None:
        """JPEG and size of the unit's picture when ``keep``; None otherwise."""
        import cv2
        try:
            frames = self._ctx.decode(self._av.Packet(unit.data))
        except self._av.FFmpegError:
            return None              # a damaged unit: the next keyframe repairs the picture
        if not keep or not frames:
            return None
        image = frames[-1].to_ndarray(format="bgr24")
        ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        return (buf.tobytes(), image.shape[1], image.shape[0]) if ok else None


class CameraTap:
    def __init__(self, media: MediaLike, camera: str, stream: str, zones: list[ZoneSpec],
                 options: TapOptions, sink: FrameSink, pool: Executor) -> None:
        self.media, self.camera, self.stream = media, camera, stream
        self.zones, self.options, self.sink, self.pool = zones, options, sink, pool
        self.sampled = 0
        self.decode_errors = 0

    async def run(self) -> None:
        channel, sub = self.media.subscribe(self.camera, self.stream, f"analytics:{self.camera}")
        try:
            await self._loop(channel, sub)
        except EndOfStream:
            pass
        finally:
            self.media.unsubscribe(channel, sub)

    async def _loop(self, channel: Any, sub: Subscriber) -> None:
        loop = asyncio.get_running_loop()
        decoder: _Decoder | None = None
        generation = None
        interval = 1.0 / self.options.fps
        next_sample = 0.0
        while True:
            unit = await sub.get()
            if decoder is None or unit.generation != generation:
                info = getattr(channel, "info", None)
                decoder = _Decoder(info.codec if info else "h264", info.extradata if info else b"")
                generation = unit.generation
            if self.options.keyframes_only and not unit.keyframe:
                continue
            keep = time.monotonic() >= next_sample
            picture = await loop.run_in_executor(self.pool, decoder.decode, unit, keep,
                                                 self.options.jpeg_quality)
            if picture is None:
                continue
            next_sample = max(next_sample + interval, time.monotonic() - interval / 2)
            jpeg, width, height = picture
            captured = time.time() - (time.monotonic() - unit.received) if unit.received \
                else time.time()
            self.sampled += 1
            self.sink(FrameHeader(self.camera, self.sampled, captured, width, height, self.zones),
                      jpeg)
