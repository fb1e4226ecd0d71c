"""The replay buffer on real H.264 (FFmpeg's encoder) and real remuxing (PyAV): fragments
per GOP with wall-clock spans, byte bounds that hold under huge frames, and a span across
a new segment (camera restart or new picture size) that FFmpeg plays as one file."""
from __future__ import annotations

import subprocess

import pytest

from iocwall.streams.replay import clip
from iocwall.streams.replay.buffer import Budget, StreamBuffer
from tests.fixtures.tools import require_tool
from tests.replay_helpers import FPS, decoded, encode

T0 = 1_800_000_000.0          # wall clock of the first picture (seconds)


def fill(buffer: StreamBuffer, units, generation: int = 1, wall0: float = T0,
         watch: list[int] | None = None) -> None:
    for data, key, seconds, _ms in units:
        buffer.add(data, seconds, key, generation, wall0 + seconds)
        if watch is not None:
            watch.append(buffer.bytes + buffer.pending_bytes)


def joined(buffer: StreamBuffer, start: float, end: float) -> bytes:
    return clip.join([(seg.init, [f.data for f in frags])
                      for seg, frags in buffer.select(start, end)])


def test_one_fragment_per_gop_with_its_wall_clock_span_and_the_picture_of_that_time() -> None:
    buffer = StreamBuffer("t", 60, 8 << 20, Budget(0))
    fill(buffer, encode(384, 224, 5 * FPS, gop=FPS))      # 5 GOPs of 1 s
    fragments = buffer.segments[0].fragments
    assert [round(f.start - T0, 2) for f in fragments] == [0.0, 1.0, 2.0, 3.0]   # 5th still open
    assert all(round(f.end - f.start, 2) == 1.0 for f in fragments)
    assert buffer.span() == (T0, T0 + 4.0)
    pictures = decoded(joined(buffer, T0 + 1.5, T0 + 3.2))
    # from the keyframe at or before 1.5 s (1.0 s) to the end of the GOP holding 3.2 s
    assert len(pictures) == 3 * FPS
    assert pictures[0][1] == 1_000_000 + 1000 and pictures[-1][1] == 1_000_000 + 3960
    assert [p[0] for p in pictures[:3]] == [0.0, 0.04, 0.08]      # the file starts at 0


def test_history_is_trimmed_to_its_seconds() -> None:
    buffer = StreamBuffer("t", 2.0, 8 << 20, Budget(0))
    fill(buffer, encode(384, 224, 6 * FPS, gop=FPS))
    first, last = buffer.span() or (0.0, 0.0)
    assert (round(first - T0), round(last - T0)) == (3, 5)


def test_huge_frames_never_take_a_buffer_past_its_bound() -> None:
    units = encode(1280, 720, 40, gop=10, noise=True)     # noise: ~1 MB a picture
    assert max(len(u[0]) for u in units) > 500_000
    bound = 3 << 20
    watch: list[int] = []
    buffer = StreamBuffer("huge", 60, bound, Budget(0))
    fill(buffer, units, watch=watch)
    assert max(watch) <= bound
    assert buffer.dropped_gops > 0          # a GOP (10 pictures, ~10 MB) alone is over it
    small = StreamBuffer("small-gops", 60, bound, Budget(0))
    watch.clear()
    fill(small, encode(1280, 720, 20, gop=2, noise=True), watch=watch)
    assert max(watch) <= bound and small.span() is not None   # 2-picture GOPs fit: kept


def test_the_process_budget_evicts_the_oldest_fragment_of_any_buffer() -> None:
    units = encode(640, 360, 30, gop=5, noise=True)
    total = int(2.5 * sum(len(u[0]) for u in units[:5]))     # room for 2.5 GOPs in all
    budget = Budget(total)
    a = StreamBuffer("a", 60, 8 << 20, budget)
    b = StreamBuffer("b", 60, 8 << 20, budget)
    for unit in units:
        a.add(unit[0], unit[2], unit[1], 1, T0 + unit[2])
        b.add(unit[0], unit[2], unit[1], 1, T0 + 0.5 + unit[2])
        assert budget.used <= total
    assert budget.evicted > 0 and a.span() is not None and b.span() is not None


@pytest.mark.parametrize("sizes", [((384, 224), (384, 224)), ((384, 224), (640, 352))],
                         ids=["restart", "new-size"])
def test_a_span_across_a_new_segment_plays_as_one_file(sizes) -> None:  # noqa: ANN001
    require_tool("ffmpeg")
    buffer = StreamBuffer("t", 60, 8 << 20, Budget(0))
    fill(buffer, encode(*sizes[0], 3 * FPS, gop=FPS), generation=1)
    # the camera restarts: its clock starts again at 0, pictures from 3.3 s of wall time
    fill(buffer, encode(*sizes[1], 3 * FPS, gop=FPS, first_ms=1_003_300), generation=2,
         wall0=T0 + 3.3)
    assert len(buffer.segments) == 2
    data = joined(buffer, T0 + 0.5, T0 + 5.0)
    pictures = decoded(data)
    assert {(w, h) for _t, _s, w, h in pictures} == set(sizes)
    stamps = [s for _t, s, _w, _h in pictures]
    assert stamps[0] == 1_000_000 and stamps[-1] == 1_003_300 + 1960
    assert stamps == sorted(stamps)
    times = [t for t, *_ in pictures]
    assert times == sorted(times) and len(set(times)) == len(times)
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-f", "null", "-"],
                         input=data, capture_output=True, timeout=60)
    assert out.returncode == 0 and not out.stderr, out.stderr.decode()
