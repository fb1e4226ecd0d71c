"""streams building blocks on real encoded H.264 (libx264 via PyAV): no network."""
from __future__ import annotations

import asyncio
import fractions
import logging
import random
from itertools import pairwise

import av
import numpy as np

from iocwall.streams import h264, metrics
from iocwall.streams.fanout import AccessUnit, Fanout, KeyframeCache
from iocwall.streams.health import Health, StreamState
from iocwall.streams.source import Puller, PullSettings, backoff_delay, demux_options
from iocwall.streams.track import CLOCK, Retimer
from iocwall.streams.urls import parse
from tests.fixtures.ports import free_port
from tests.waiting import wait_until


def encode(frames: int, *, global_header: bool, profile: str = "high", gop: int = 10):
    """Real H.264 from libx264: (extradata, [(bytes, keyframe)])."""
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = 320, 240, "yuv420p"
    ctx.time_base = fractions.Fraction(1, 25)
    ctx.profile = profile.capitalize()
    ctx.options = {"g": str(gop), "bf": "0", "tune": "zerolatency"}
    if global_header:
        ctx.flags |= av.codec.context.Flags.global_header
    out = []
    for i in range(frames):
        img = np.full((240, 320, 3), (i * 20) % 255, np.uint8)
        frame = av.VideoFrame.from_ndarray(img, format="rgb24")
        frame.pts = i
        out += [(bytes(p), p.is_keyframe) for p in ctx.encode(frame)]
    out += [(bytes(p), p.is_keyframe) for p in ctx.encode(None)]
    return bytes(ctx.extradata or b""), out


def decode_all(units: list[bytes]) -> int:
    ctx = av.CodecContext.create("h264", "r")
    count = 0
    for u in [*units, None]:
        try:
            count += len(ctx.decode(av.Packet(u) if u is not None else None))
        except av.error.InvalidDataError:
            pass
    return count


def test_parameter_sets_from_annexb_extradata_and_profile():
    extradata, units = encode(3, global_header=True)
    sets, _ = h264.parameter_sets(extradata)
    assert sets and h264.profile_level_id(sets.sps[0]).startswith("64")
    first, key = units[0]
    assert key and h264.access_unit_info(first) == (True, False)   # SPS only out of band
    fixed = h264.with_parameter_sets(first, sets)
    assert h264.access_unit_info(fixed) == (True, True)
    # a decoder that never saw the extradata decodes the fixed keyframe alone
    assert decode_all([fixed]) == 1
    assert decode_all([first]) == 0


def test_avcc_extradata_and_length_prefixed_units():
    _, units = encode(2, global_header=False, profile="main")
    sps = [n for n in h264.split_annexb(units[0][0]) if h264.nal_type(n) == h264.NAL_SPS][0]
    pps = [n for n in h264.split_annexb(units[0][0]) if h264.nal_type(n) == h264.NAL_PPS][0]
    avcc = (bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]) + len(sps).to_bytes(2, "big") + sps
            + b"\x01" + len(pps).to_bytes(2, "big") + pps)
    sets, size = h264.parameter_sets(avcc)
    assert size == 4 and sets.sps == (sps,) and sets.pps == (pps,)
    assert h264.profile_level_id(sps).startswith("4d")
    prefixed = b"".join(len(n).to_bytes(4, "big") + n for n in h264.split_annexb(units[0][0]))
    assert h264.to_annexb(prefixed) == b"".join(h264.START + n
                                                for n in h264.split_annexb(units[0][0]))
    assert decode_all([h264.to_annexb(prefixed)]) == 1


def test_garbage_is_refused_without_decoding():
    _, units = encode(2, global_header=False)
    assert h264.looks_valid(units[0][0]) and h264.looks_valid(units[1][0])
    assert not h264.looks_valid(bytes(random.Random(1).randbytes(500)).replace(b"\0\0\1", b""))
    assert not h264.looks_valid(b"\x00\x00\x00\x01\xff\xff\xff")    # forbidden bit


def unit(i: int, key: bool, size: int = 10) -> AccessUnit:
    return AccessUnit(bytes(size), pts=i * 3600, time_base=1 / CLOCK, keyframe=key)


async def test_slow_subscriber_drops_counted_and_memory_bounded():
    fan = Fanout("t")
    fast, slow = fan.subscribe("fast"), fan.subscribe("slow")
    slow.limit = 20
    got = []
    for i in range(1000):
        fan.publish(unit(i, key=i % 25 == 0))
        got.append(await fast.get())         # the fast one keeps up
        assert slow.pending() <= slow.limit  # the slow one never reads: bounded
    assert len(got) == 1000 and fast.dropped == 0
    assert slow.dropped > 900 and fan.drops() == slow.dropped
    fan.publish(unit(1000, key=True))
    # after overflow the slow one restarts at a keyframe, never mid-GOP
    first = await slow.get()
    assert first.keyframe


async def test_new_subscriber_starts_from_cached_gop():
    fan = Fanout("t")
    for i in range(37):
        fan.publish(unit(i, key=i % 25 == 0))
    sub = fan.subscribe("late")
    first = await sub.get()
    assert first.keyframe and first.pts == 25 * 3600 and sub.last_was_replay
    assert sub.pending() == 11      # units 26..36 follow at once
    fan.publish(unit(37, key=False))
    assert sub.pending() == 12


def test_keyframe_cache_bounded_serves_keyframe_only_when_gop_too_long():
    cache = KeyframeCache(max_units=5)
    for i in range(20):
        cache.add(unit(i, key=i == 0))
    assert [u.pts for u in cache.units()] == [0]
    assert not cache.complete


async def test_replay_after_picture_loss_then_live():
    fan = Fanout("t")
    sub = fan.subscribe("v")
    for i in range(5):
        fan.publish(unit(i, key=i == 0))
    for _ in range(5):
        await sub.get()
    assert fan.replay_to(sub)
    replayed = [await sub.get() for _ in range(5)]
    assert replayed[0].keyframe and all(sub.last_was_replay for _ in [0])


def test_retimer_monotonic_across_replay_and_reconnect():
    rt = Retimer()
    t = iter([0.0, 0.04, 0.08, 0.09, 0.091, 0.12, 3.12])     # send times
    out = [rt.next(unit(i, key=i == 0), replay=False, now=next(t)) for i in range(3)]
    assert out == [0, 3600, 7200]
    out.append(rt.next(unit(0, key=True), replay=True, now=next(t)))   # replayed (old) keyframe
    out.append(rt.next(unit(1, key=False), replay=True, now=next(t)))
    out.append(rt.next(unit(3, key=False), replay=False, now=next(t)))  # live again
    newgen = AccessUnit(b"", pts=999_999_999, time_base=1 / CLOCK, keyframe=True, generation=1)
    out.append(rt.next(newgen, replay=False, now=next(t)))              # a new source, 3 s later
    assert all(b > a for a, b in pairwise(out))
    # replayed units go out as a paced burst and are stamped with its real spacing
    assert out[3] - out[2] == 900 and out[4] - out[3] == 90 and out[5] - out[4] == 7200
    assert out[6] - out[5] == 3 * CLOCK        # the real time between them, not one frame


def test_retimer_follows_the_wall_clock_after_a_stall():
    """A stall must not leave RTP time behind real time (browsers would drop frames as late)."""
    rt = Retimer()
    rt.next(unit(0, key=True), replay=False, now=10.0)
    rt.next(unit(1, key=False), replay=False, now=10.04)
    # the camera resumes 5 s later with its clock jumped by 5 s (> MAX_STEP)
    jumped = rt.next(unit(126, key=True), replay=False, now=15.04)
    assert jumped - 3600 == 5 * CLOCK
    # ... or resumes with its clock not showing the gap at all
    resumed = rt.next(unit(127, key=False), replay=False, now=18.04)
    assert resumed - jumped == 3 * CLOCK
    # normal spacing afterwards comes from the camera, not from send jitter
    assert rt.next(unit(128, key=False), replay=False, now=18.05) - resumed == 3600


async def test_subscriber_resumes_at_a_keyframe_of_a_new_source():
    fan = Fanout("t")
    sub = fan.subscribe("v")
    for i in range(3):
        fan.publish(unit(i, key=i == 0))
    assert sub.pending() == 3
    fan.reset()                                   # reconnect: generation 1 starts mid-GOP
    fresh = [AccessUnit(bytes([i]), pts=i, time_base=1 / CLOCK, keyframe=i == 2, generation=1)
             for i in range(4)]
    for u in fresh:
        fan.publish(u)
    got = [await sub.get() for _ in range(sub.pending())]
    # stale units of the old source are gone, and the new one starts at its keyframe
    assert [(u.generation, u.pts) for u in got] == [(1, 2), (1, 3)] and got[0].keyframe
    assert sub.dropped == 3 + 2


def test_backoff_doubles_caps_and_jitters():
    rng = random.Random(7)
    delays = [backoff_delay(n, 0.5, 30.0, rng.random) for n in range(12)]
    assert 0.25 <= delays[0] <= 0.5 and 0.5 <= delays[1] <= 1.0
    assert all(d <= 30.0 for d in delays) and max(delays) >= 15.0
    assert len({round(d, 6) for d in delays[8:]}) > 1            # jittered, not lock step


def test_demux_options_names_are_real_ffmpeg_options():
    opts = demux_options(parse("rtsp://127.0.0.1:8554/x"), 6.0)
    assert opts["rtsp_transport"] == "tcp" and opts["timeout"] == "6000000"
    # PyAV ignores unknown option names silently: check each one against FFmpeg's own help
    import subprocess
    rtsp = subprocess.run(["ffmpeg", "-hide_banner", "-h", "demuxer=rtsp"], text=True,
                          capture_output=True, timeout=10).stdout
    full = subprocess.run(["ffmpeg", "-hide_banner", "-h", "full"], text=True,
                          capture_output=True, timeout=10).stdout
    for name in ("rtsp_transport", "timeout"):
        assert f"-{name} " in rtsp, name
    for name in ("fflags", "probesize", "analyzeduration"):
        assert f"-{name} " in full, name
    assert "low_delay" in full
    # nobuffer would throw away the probed packets: the camera's first keyframe
    assert "nobuffer" not in opts.get("fflags", "")


def test_health_states_follow_packet_age(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("iocwall.streams.health.time.monotonic", lambda: clock[0])
    h = Health("c", "sub", stall_s=2.0, lost_s=6.0)
    h.connecting()
    assert h.state is StreamState.CONNECTING
    h.opened("h264", 640, 360)
    for _ in range(30):
        clock[0] += 1 / 15
        h.packet(1000)
    assert h.tick() is StreamState.LIVE and 14 <= h.rates()[0] <= 15.1
    clock[0] += 1.9
    assert h.tick() is StreamState.LIVE
    clock[0] += 0.2
    assert h.tick() is StreamState.STALLED
    clock[0] += 4.0
    assert h.tick() is StreamState.LOST
    h.failed("x")
    assert h.reconnects == 1 and h.state is StreamState.LOST


def test_metrics_text_parses_as_prometheus():
    h = Health("cam-1", "main", 2.0, 6.0)
    h.connecting()
    h.packet(5000)
    text = metrics.render([h.snapshot(viewers=2, drops=3, transcoding=False)],
                          metrics.ServerCounters(1, 4, 1, 2, 5))
    samples = parse_prometheus(text)
    assert samples['iocwall_stream_viewers{camera="cam-1",stream="main"}'] == 2
    assert samples['iocwall_stream_dropped_units_total{camera="cam-1",stream="main"}'] == 3
    # prometheus_client writes labels in name order
    assert samples['iocwall_stream_state{camera="cam-1",state="live",stream="main"}'] == 1
    assert samples["iocwall_transcode_fallback_total"] == 2


def parse_prometheus(text: str) -> dict[str, float]:
    """A strict reader of the text format: every line is a comment or `name{labels} value`."""
    import re
    line_re = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})?)'
                         r' (-?[0-9.e+]+|NaN)$')
    out, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("# HELP "):
            continue
        m = line_re.match(line)
        assert m, f"bad metrics line: {line!r}"
        assert m.group(1).split("{")[0] in typed, f"sample before its TYPE: {line!r}"
        out[m.group(1)] = float(m.group(4))
    # ... and Prometheus's own parser reads the same samples
    from prometheus_client.parser import text_string_to_metric_families
    parsed = {}
    for fam in text_string_to_metric_families(text):
        for sample in fam.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sample.labels.items())
            parsed[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    assert parsed == out, "prometheus_client.parser reads other samples than the text has"
    return out


class _Listener:
    def __init__(self) -> None:
        self.fails: list[str] = []

    def on_open(self, info) -> None: ...  # noqa: ANN001
    def on_unit(self, unit) -> None: ...  # noqa: ANN001
    def on_invalid(self) -> None: ...
    def on_fail(self, reason: str) -> None:
        self.fails.append(reason)


async def test_pull_errors_never_show_the_password(caplog):
    caplog.set_level(logging.DEBUG)
    port = free_port()     # nothing listens: connection refused
    url = parse(f"rtsp://viewer:S3cr%40t-pw@127.0.0.1:{port}/cam1/main")
    listener = _Listener()
    puller = Puller("c1/main", url, PullSettings(1.0, 1.0, 0.05, 0.1), listener,
                    asyncio.get_running_loop())
    puller.start()
    try:
        await wait_until(lambda: len(listener.fails) >= 2, 5, "the puller keeps retrying")
    finally:
        await puller.stop()
    text = " ".join(listener.fails) + caplog.text
    assert f"127.0.0.1:{port}" in text
    assert "S3cr" not in text and "viewer:" not in text and "viewer@" not in text


async def test_after_a_stall_viewers_resume_at_the_next_keyframe():
    """A frame the demuxer held through a stall must not reach the viewer before the IDR."""
    from iocwall.streams.channel import Channel
    ch = Channel("cam", "sub", parse("rtsp://127.0.0.1:1/x"), PullSettings(), 2.0, 1.0)
    ch._puller = object()     # as if pulling; on_unit ignores units of a stopped puller
    ch._session_generation = 0   # ... and its session 0 open (units of others are ignored)
    sub = ch.fanout.subscribe("v")
    ch.on_unit(unit(0, key=True))
    ch.on_unit(unit(1, key=False))
    assert [(await sub.get()).pts for _ in range(2)] == [0, 3600]
    ch.health.state = StreamState.STALLED
    ch.on_unit(unit(2, key=False))           # the straggler, seconds late
    ch.on_unit(unit(90, key=True))           # the camera's first keyframe after the stall
    ch.on_unit(unit(91, key=False))
    assert [(await sub.get()).pts for _ in range(sub.pending())] == [90 * 3600, 91 * 3600]
    assert ch.health.state is StreamState.LIVE
