"""JPEG snapshots: decode the cached GOP on demand, in a worker thread, reuse briefly.

Nothing is decoded unless someone asks: the cache already holds the last
keyframe and the units after it, which decode to the newest picture.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import cast

from iocwall.streams import pools
from iocwall.streams.fanout import AccessUnit

log = logging.getLogger(__name__)

JPEG_QUALITY = 85


class SnapshotError(Exception):
    """No picture could be made (no keyframe yet, or undecodable data)."""


@dataclass(frozen=True)
class Snapshot:
    jpeg: bytes
    width: int
    height: int
    taken: float     # time.time() of the decode


def decode_last(codec: str, extradata: bytes, units: list[AccessUnit]) -> tuple[bytes, int, int]:
    """JPEG bytes and size of the last picture the units decode to (blocking)."""
    import av
    import cv2

    ctx = cast("av.VideoCodecContext", av.CodecContext.create(codec, "r"))  # a video decoder
    if extradata:
        ctx.extradata = extradata
    last = None
    for unit in units:
        try:
            for frame in ctx.decode(av.Packet(unit.data)):
                last = frame
        except av.FFmpegError:
            continue          # a damaged unit: keep the last good picture
    try:
        for frame in ctx.decode(None):   # flush the decoder's delayed pictures
            last = frame
    except av.FFmpegError:
        pass
    if last is None:
        raise SnapshotError("no decodable picture")
    image = last.to_ndarray(format="bgr24")
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise SnapshotError("JPEG encoding failed")
    return buf.tobytes(), last.width, last.height


class SnapshotCache:
    """Per-stream snapshots, reused for ``max_age_s``; one decode at a time per stream."""

    def __init__(self, max_age_s: float) -> None:
        self._max_age = max_age_s
        self._cache: dict[str, Snapshot] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, key: str, codec: str, extradata: bytes,
                  units: list[AccessUnit]) -> Snapshot:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:      # concurrent requests share one decode
            cached = self._cache.get(key)
            if cached is not None and time.time() - cached.taken <= self._max_age:
                return cached
            if not units:
                raise SnapshotError("no keyframe received yet")
            try:
                jpeg, width, height = await pools.SNAPSHOTS.run(decode_last, codec, extradata,
                                                                units)
            except pools.PoolBusy:
                raise SnapshotError("too many snapshots at once; try again") from None
            snap = Snapshot(jpeg, width, height, time.time())
            self._cache[key] = snap
            return snap
