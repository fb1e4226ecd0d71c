"""A real aiortc WHEP viewer plays simulated RTSP cameras through the media server."""
from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import pytest

from iocwall.hardware import stamp
from iocwall.streams.health import StreamState
from iocwall.streams.track import PassthroughTrack
from tests.streams_helpers import media_server, sim_cameras, viewing, wait_state
from tests.waiting import wait_until
from tests.whep_client import Viewer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture
def sim(simulator):  # noqa: ANN001, ANN201 - the shared simulator (tests/fixtures/simulator.py)
    return simulator


@pytest.mark.parametrize("stream,size", [("sub", (640, 360)), ("main", (1920, 1080))])
async def test_viewer_plays_stream_at_its_size_with_readable_stamp(sim, stream, size):
    async with media_server(sim_cameras(sim, 1)) as media:
        async with viewing(media, "cam1", stream, read_stamps=True) as viewer:
            await viewer.first_frame(15)
            await asyncio.sleep(1.5)
            frames = list(viewer.frames)
            assert len(frames) >= 10
            assert {(f.width, f.height) for f in frames} == {size}
            stamps = [f for f in frames if f.stamp_ms is not None]
            assert len(stamps) >= len(frames) // 2
            # the stamp is the camera's send time: seen here within a second of it
            age = stamp.latency_ms(stamps[-1].stamp_ms, int(time.time() * 1000))
            assert age < 1000, age
            assert isinstance(viewer.session.track, PassthroughTrack)
        assert media.channel("cam1", stream).health.codec == "h264"


async def test_second_viewer_starts_at_once_from_keyframe_cache(sim):
    async with media_server(sim_cameras(sim, 1)) as media:
        async with viewing(media, "cam1", "sub") as first:
            await first.first_frame(15)
            await asyncio.sleep(1.0)
            times = []
            for _ in range(3):
                async with viewing(media, "cam1", "sub") as late:
                    times.append(await late.first_frame(5))
            print(f"time to first frame, warm stream: {[round(t * 1000) for t in times]} ms")
            assert max(times) < 1.0


async def test_picture_loss_answered_from_cache(sim):
    async with media_server(sim_cameras(sim, 1)) as media:
        async with viewing(media, "cam1", "sub") as viewer:
            await viewer.first_frame(15)
            track = viewer.session.track
            sent = track.units_sent
            await viewer.send_pli()
            await asyncio.sleep(0.5)
            assert track.keyframe_requests >= 1
            # the replayed GOP went out on top of the live frames
            assert track.units_sent - sent > 0.5 * 15 + 1
            before = len(viewer.frames)
            await asyncio.sleep(1.0)
            assert len(viewer.frames) - before >= 10


async def test_stall_detected_within_two_seconds_then_recovers(sim):
    async with media_server(sim_cameras(sim, 2)) as media:
        async with viewing(media, "cam2", "sub") as viewer:
            await viewer.first_frame(15)
            await wait_state(media, "cam2", "sub", {StreamState.LIVE}, 5)
            sim.fault(2, "stall", seconds=3)
            took = await wait_state(media, "cam2", "sub", {StreamState.STALLED}, 4)
            print(f"stall detected after {took:.2f} s")
            assert took <= 2.5
            await wait_state(media, "cam2", "sub", {StreamState.LIVE}, 10)
            assert any(e.get("state") == "stalled" for e in viewer.events)


async def test_dropped_camera_is_lost_then_reconnected(sim):
    async with media_server(sim_cameras(sim, 2)) as media:
        async with viewing(media, "cam2", "sub") as viewer:
            await viewer.first_frame(15)
            sim.fault(2, "drop")
            took = await wait_state(media, "cam2", "sub",
                                    {StreamState.LOST, StreamState.STALLED}, 4)
            assert took <= 2.0
            await wait_state(media, "cam2", "sub", {StreamState.LIVE}, 10)
            assert media.channel("cam2", "sub").health.reconnects >= 1
            before = len(viewer.frames)
            await asyncio.sleep(1.0)
            assert len(viewer.frames) - before >= 8, "the same viewer plays after reconnect"


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return float(ordered[int(q * (len(ordered) - 1))])


class Probe:
    """Reads a good camera's stream inside the server, beside its viewer: for each access unit,
    when the fanout handed it over, against when the camera says it was taken (its pts).
    A bad camera that stalls the shared event loop delays these; the viewers' own decoding
    (heavy, and the first thing a loaded machine slows) does not."""

    def __init__(self, media, camera: str) -> None:  # noqa: ANN001
        self._fanout = media.channel(camera, "sub").fanout
        self._sub = self._fanout.subscribe(f"probe-{camera}", replay=False)
        self.seen: list[tuple[float, float]] = []     # (monotonic at delivery, pts seconds)
        self._reference: float | None = None
        self._task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        from iocwall.streams.fanout import EndOfStream
        with contextlib.suppress(EndOfStream):
            while True:
                unit = await self._sub.get()
                if unit.pts is not None:
                    self.seen.append((time.monotonic(), unit.pts * unit.time_base))

    def delays_ms(self, start: float, end: float) -> list[float]:
        """Delivery delays of the window's units, relative to the median of the first window
        asked for (the camera's pts clock runs on; only a good camera's reconnect moves it),
        so a delay added to every unit counts as well as a spike does."""
        raw = [at - pts for at, pts in self.seen if start <= at < end]
        if self._reference is None:
            self._reference = _p(raw, 0.5)
        return [(d - self._reference) * 1000 for d in raw]

    async def close(self) -> None:
        self._task.cancel()
        self._fanout.unsubscribe(self._sub)


@dataclass
class Window:
    """One window of the good cameras: decoded frames, units sent, delivery jitter, loop lag."""
    seconds: float
    frames: list[list]        # per good camera, the frames its viewer decoded in the window
    sent: list[int]           # per good camera, units the server handed to its viewer
    jitter_ms: list[float]    # pooled delivery delays, against each camera's baseline median
    lags_ms: list[float]      # how late each 10 ms timer of the shared event loop fired

    @property
    def fps(self) -> float:   # decoded, pooled over the good cameras
        return sum(len(f) for f in self.frames) / len(self.frames) / self.seconds

    def latency_ms(self, q: float) -> float:
        values = [f.latency_ms for fs in self.frames for f in fs if f.latency_ms is not None]
        return _p(values, q) if values else -1.0


async def _window(viewers, probes, good: tuple[int, ...], seconds: float) -> Window:  # noqa: ANN001
    """Record ``seconds`` of the good cameras and of event-loop lag (a 10 ms timer's lateness)."""
    subs = [viewers[k - 1].session.track.subscriber for k in good]
    sent0 = [s.delivered for s in subs]
    start = time.monotonic()
    lags: list[float] = []
    while (now := time.monotonic()) < start + seconds:
        await asyncio.sleep(0.01)
        lags.append((time.monotonic() - now - 0.01) * 1000)
    frames = [[f for f in viewers[k - 1].frames if start <= f.at < now] for k in good]
    sent = [s.delivered - s0 for s, s0 in zip(subs, sent0, strict=True)]
    jitter = [d for p in probes for d in p.delays_ms(start, now)]
    return Window(now - start, frames, sent, jitter, lags)


GOOD = (1, 3, 4)


def _report(name: str, w: Window) -> str:
    return (f"{name}: sent {[round(n / w.seconds, 2) for n in w.sent]} fps, delivery jitter "
            f"p95 {_p(w.jitter_ms, 0.95):.0f} p99 {_p(w.jitter_ms, 0.99):.0f} ms, loop lag p99 "
            f"{_p(w.lags_ms, 0.99):.0f} max {max(w.lags_ms):.0f} ms; viewers decoded "
            f"{w.fps:.1f} fps, stamp latency p50 {w.latency_ms(0.5):.0f} "
            f"p95 {w.latency_ms(0.95):.0f} ms")


@pytest.mark.parametrize("fault", ["stall", "drop", "corrupt"])
async def test_one_bad_camera_does_not_slow_the_others(sim, fault):
    """cam2 misbehaves; cams 1, 3, 4 are judged against themselves just before the fault, on
    the same machine in the same run: the server goes on handing their viewers every unit
    (fps within 7 %), and hands them over as promptly: the delay from the camera's clock to
    the hand-over, p95 and p99, at most twice the baseline's + 40 / 60 ms (a blocked event
    loop shows there at once). The viewers' own decoding is only reported: on a loaded
    machine it falls behind in every window alike, and its latency grows without bound."""
    async with media_server(sim_cameras(sim, 4)) as media:
        async with contextlib_viewers(media, 4, read_stamps=True) as viewers:
            await asyncio.gather(*(v.first_frame(20) for v in viewers))
            probes = [Probe(media, f"cam{k}") for k in GOOD]
            await asyncio.sleep(1.0)
            before = await _window(viewers, probes, GOOD, 5.0)
            sim.fault(2, fault, seconds=6)
            during = await _window(viewers, probes, GOOD, 5.0)
            sim.fault(2, "clear")
            for p in probes:
                await p.close()
    print(f"\n{fault} {_report('before', before)}\n{fault} {_report('during', during)}")
    for k, n0, n1 in zip(GOOD, before.sent, during.sent, strict=True):
        fps0, fps1 = n0 / before.seconds, n1 / during.seconds
        assert fps1 >= 0.93 * fps0, (f"cam{k}", fps0, fps1)
    assert all(len(f) >= 5 for f in during.frames), "a good camera's viewer stopped playing"
    for q, slack in ((0.95, 40), (0.99, 60)):
        was, now = _p(before.jitter_ms, q), _p(during.jitter_ms, q)
        assert now <= 2 * was + slack, (f"delivery delay p{q * 100:.0f}", was, now)


class contextlib_viewers:  # noqa: N801 - reads like the context manager it is
    def __init__(self, media, count: int, read_stamps: bool = False) -> None:  # noqa: ANN001
        self._media, self._count, self._stack = media, count, None
        self._read_stamps = read_stamps

    async def __aenter__(self):  # noqa: ANN204
        import contextlib
        self._stack = contextlib.AsyncExitStack()
        return [await self._stack.enter_async_context(
                    viewing(self._media, f"cam{k}", "sub", read_stamps=self._read_stamps))
                for k in range(1, self._count + 1)]

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()


async def test_viewer_without_h264_gets_transcoded_and_counted(sim):
    from aiortc import RTCRtpReceiver
    async with media_server(sim_cameras(sim, 1)) as media:
        viewer = Viewer()
        vp8 = [c for c in RTCRtpReceiver.getCapabilities("video").codecs if c.name == "VP8"]
        viewer.pc.getTransceivers()[0].setCodecPreferences(vp8)

        async def post(sdp: str) -> str:
            viewer.session, answer = await media.whep_offer("cam1", "sub", sdp)
            return answer

        try:
            answer = await viewer.play(post)
            assert "VP8" in answer and "H264" not in answer
            await viewer.first_frame(20)
            await asyncio.sleep(1.0)
            assert {(f.width, f.height) for f in viewer.frames} == {(640, 360)}
            assert not viewer.session.passthrough
            assert "iocwall_transcode_fallback_total 1" in await media.metrics_text()
            assert media.channel("cam1", "sub").snapshot().transcoding
        finally:
            await viewer.close()


async def test_session_ends_when_the_viewer_goes_away(sim):
    async with media_server(sim_cameras(sim, 1)) as media:
        async with viewing(media, "cam1", "sub") as viewer:
            await viewer.first_frame(15)
            assert len(media.sessions) == 1 and media.channel("cam1", "sub").users == 1
        # the peer's DTLS close reaches the server
        await wait_until(lambda: len(media.sessions) == 0, 10, "the session closed", step=0.1)
        assert media.channel("cam1", "sub").users == 0
        await wait_until(lambda: media.channel("cam1", "sub").health.state is StreamState.IDLE,
                         5, "pulling stopped after linger_s (1 s in these tests)")
