"""Instant replay through the real media path: simulated RTSP cameras, the media server's
puller and fan-out, the buffer, and the replayed MP4 decoded by FFmpeg (PyAV). The
simulator stamps every picture with its time, so what was live can be compared with
what is replayed."""
from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator

import pytest

from iocwall.streams.replay.model import ReplayRange
from iocwall.streams.server import MediaError, MediaServer
from iocwall.streams.settings import ReplaySettings
from tests.replay_helpers import decoded
from tests.streams_helpers import fast_settings, sim_cameras, viewing
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@contextlib.asynccontextmanager
async def buffering(sim, count: int, **replay: object) -> AsyncIterator[MediaServer]:  # noqa: ANN001
    values: dict[str, object] = {"cameras": "all", "sub_seconds": 60.0}
    values.update(replay)
    settings = dataclasses.replace(fast_settings(), replay=ReplaySettings(**values))  # type: ignore[arg-type]
    media = MediaServer(settings, sim_cameras(sim, count))
    await media.start()
    try:
        yield media
    finally:
        await media.stop()


async def buffered(media: MediaServer, camera: str, stream: str, seconds: float,
                   timeout: float = 40) -> ReplayRange:
    async def enough() -> ReplayRange | None:
        found = (await media.replay_ranges(camera)).get(stream)
        return found if found and found.end - found.start >= seconds else None
    return await wait_until(enough, timeout, f"{seconds} s of {camera}/{stream} buffered", 0.2)


async def test_the_replayed_pictures_are_the_ones_that_were_live_then(simulator) -> None:  # noqa: ANN001
    async with buffering(simulator, 1) as media:
        async with viewing(media, "cam1", "sub", read_stamps=True) as live:
            await live.first_frame(15)
            span = await buffered(media, "cam1", "sub", 5.0)
            seen_live = {f.stamp_ms for f in live.frames if f.stamp_ms is not None}
        start = span.start + 1.0
        replay = await media.replay_clip("cam1", "sub", start, 3.0)
        pictures = decoded(replay.data)
    stamps = [s for _t, s, _w, _h in pictures]
    assert None not in stamps and len(stamps) >= 3 * 10
    # it starts at the keyframe at or before the asked time, whose stamp is its start time
    assert replay.start <= start < replay.start + 3.0
    assert abs(stamps[0] / 1000 - replay.start) < 0.3, (stamps[0], replay.start)
    # each picture sits in the file at its distance from the first: the stamps say so
    for t, ms, _w, _h in pictures:
        assert abs((ms - stamps[0]) / 1000 - t) < 0.1
    # and they are the very pictures live viewers were shown (the live viewer may have
    # skipped some; the replay none of those it saw)
    window = {s for s in seen_live if stamps[0] <= s <= stamps[-1]}
    assert len(window) >= 0.8 * len(stamps)
    assert window <= set(stamps)


async def test_a_camera_that_restarts_mid_buffer_replays_across_the_restart(simulator) -> None:  # noqa: ANN001
    async with buffering(simulator, 2) as media:
        before = await buffered(media, "cam2", "sub", 3.0)
        generation = media.channel("cam2", "sub").generation
        simulator.fault(2, "drop")                  # the camera closes its sessions
        await wait_until(lambda: media.channel("cam2", "sub").generation > generation, 20,
                         "cam2/sub reconnected")
        await wait_until(lambda: len(media.replay._bound[("cam2", "sub")].buffer.segments) > 1
                         and media.replay._bound[("cam2", "sub")].buffer.segments[-1].fragments,
                         30, "a second segment with a GOP", 0.2)
        after = (await media.replay_ranges("cam2"))["sub"]
        assert after.start == before.start          # one range: history kept across it
        replay = await media.replay_clip("cam2", "sub", before.start, after.end - before.start)
    pictures = decoded(replay.data)
    stamps = [s for _t, s, _w, _h in pictures if s is not None]
    assert len(stamps) == len(pictures)
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert max(gaps) > 150               # the restart's hole ...
    assert min(gaps) > 0                 # ... and time runs on across it, in one file
    assert stamps[-1] / 1000 > replay.end - 3.0


async def test_a_huge_gop_cannot_take_a_stream_past_its_bound(simulator) -> None:  # noqa: ANN001
    bound = 200_000                      # smaller than one GOP of the 1080p main stream
    async with buffering(simulator, 1, main_seconds=30.0, max_bytes_per_camera=bound) as media:
        binding = media.replay._bound[("cam1", "main")]
        sub = media.replay._bound[("cam1", "sub")]
        peak = 0

        def watch() -> bool:
            nonlocal peak
            peak = max(peak, binding.buffer.bytes + binding.buffer.pending_bytes)
            return binding.buffer.dropped_gops >= 2 and sub.buffer.span() is not None

        await wait_until(watch, 40, "main's GOPs dropped, sub buffered", 0.01)
        assert peak <= bound
        with pytest.raises(MediaError) as refused:
            await media.replay_clip("cam1", "main", 0.0, 5.0)
        assert refused.value.status == 404
