"""CPU seconds per stream-minute: iocwall's H.264 passthrough vs aiortc's ordinary path.

The server runs in its own process (tests/benchmarks/media_proc.py, a fresh one
per run) and only its CPU is measured, from /proc/PID/stat. Viewers are aiortc
WHEP clients in this process that count complete frames without decoding
(see viewer.py), so they take little of the shared CPU.
- passthrough: iocwall's MediaServer (one PyAV puller, PassthroughTrack per viewer).
- ordinary (baseline): what a plain aiortc app does with the same RTSP stream:
  MediaPlayer(decode=True) + MediaRelay, aiortc encoding H.264 for each viewer.
Same simulated camera streams, same viewer count, same duration.
Target: passthrough >= 20x cheaper.

Two figures per stream count N (N cameras, each with VIEWERS viewers):
- total: the server process's whole CPU, idle loop included, divided by N;
- marginal: (CPU with N streams - the same server's CPU idle, measured for IDLE_S
  before any viewer) / N: what each stream adds. The idle cost (Uvicorn's tick,
  timers) is the same in both modes and is not a per-stream cost; on one
  stream it is a large share of the passthrough total, so both are shown.
Sub is measured at 1 and 4 streams in both modes (4 is the most re-encoding streams
this 2-core machine carries beside the simulator and the viewers), and passthrough
alone at 16: its per-stream cost falls as streams share the event loop's wake-ups,
while the baseline's is flat (one decode and two encodes per stream), so the
16-stream row is compared with the baseline's per-stream cost at 4, and says so.
Main is measured at 1 (one 1080p re-encode pair already takes most of a core).
"""
from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.benchmarks.common import (
    CpuMeter,
    ServerProc,
    isize,
    ratio,
    simulator,
    size,
    table,
    write_results,
)
from tests.benchmarks.viewer import BenchViewer, loss

pytestmark = pytest.mark.timeout(900)   # a benchmark is bounded by its own sizes

SECONDS = size("cpu_seconds", 20, 5)
VIEWERS = isize("cpu_viewers", 2, 2)
STREAMS = ("sub", "main")[:isize("cpu_streams", 2, 1)]
COUNTS = {"sub": (1, isize("cpu_sub_cameras", 4, 2), isize("cpu_sub_cameras_passthrough", 16, 4)),
          "main": (1,)}
ORDINARY_MAX = {"sub": isize("cpu_sub_cameras", 4, 2), "main": 1}   # what the baseline carries
FPS = {"sub": 15, "main": 25}
WARMUP_S = 3.0
IDLE_S = size("cpu_idle_seconds", 10, 3)   # at 100 ticks/s, long enough to resolve ~0.1 %
TARGET_RATIO = 20
PATHS = {"passthrough": "/api/cameras/cam{cam}/whep/{stream}",
         "ordinary": "/bench/ordinary/cam{cam}/{stream}"}


async def run(server: ServerProc, mode: str, stream: str, cameras: int) -> dict:
    meter = CpuMeter(server.pid)
    meter.start()
    await asyncio.sleep(IDLE_S)
    meter.stop()
    idle_pct = meter.core_pct
    viewers = []
    async with httpx.AsyncClient(base_url=server.base, timeout=20) as http:
        try:
            for cam in range(1, cameras + 1):
                for _ in range(VIEWERS):
                    viewer = BenchViewer(decode=False)
                    viewers.append(viewer)
                    await viewer.play(http, PATHS[mode].format(cam=cam, stream=stream))
            await asyncio.gather(*(v.first_frame_s(20) for v in viewers))
            await asyncio.sleep(WARMUP_S)
            t0 = time.time()
            meter.start()
            await asyncio.sleep(SECONDS)
            meter.stop()
            t1 = time.time()
        finally:
            for viewer in viewers:
                await viewer.close(http)
    got = [loss(v.frames, t0, t1, FPS[stream]) for v in viewers]
    received, expected = sum(g[0] for g in got), sum(g[1] for g in got)
    minutes = meter.wall_s / 60
    marginal_s = max(0.0, meter.cpu_s - idle_pct / 100 * meter.wall_s)
    return {"mode": mode, "stream": stream, "cameras": cameras, "viewers": VIEWERS,
            "seconds": round(meter.wall_s, 2), "cpu_s": round(meter.cpu_s, 3),
            "core_pct": round(meter.core_pct, 2), "idle_core_pct": round(idle_pct, 2),
            "cpu_s_per_stream_minute": round(meter.cpu_s / minutes / cameras, 3),
            "marginal_cpu_s_per_stream_minute": round(marginal_s / minutes / cameras, 3),
            "cpu_s_per_viewer_minute": round(meter.cpu_s / minutes / cameras / VIEWERS, 3),
            "fps_per_viewer": round(received / len(viewers) / (t1 - t0), 2),
            "frames_received": received, "frames_expected": expected}


def test_media_cpu_passthrough_vs_ordinary(tmp_path):
    most = max(max(COUNTS[s]) for s in STREAMS)
    sim = simulator(tmp_path, most)
    results = []
    try:
        for stream in STREAMS:
            for cameras in COUNTS[stream]:
                for mode in PATHS:
                    if mode == "ordinary" and cameras > ORDINARY_MAX[stream]:
                        continue
                    with ServerProc(sim, most, tmp_path) as server:
                        results.append(asyncio.run(run(server, mode, stream, cameras)))
    finally:
        sim.stop()
    rows, ratios = [], {}
    for r in results:
        rows.append((r["stream"], r["mode"], r["cameras"], r["viewers"], r["cpu_s"],
                     r["core_pct"], r["idle_core_pct"], r["cpu_s_per_stream_minute"],
                     r["marginal_cpu_s_per_stream_minute"], r["fps_per_viewer"]))
    for stream in STREAMS:
        for cameras in COUNTS[stream]:
            base = min(cameras, ORDINARY_MAX[stream])
            o = next(r for r in results if r["stream"] == stream and r["cameras"] == base
                     and r["mode"] == "ordinary")
            p = next(r for r in results if r["stream"] == stream and r["cameras"] == cameras
                     and r["mode"] == "passthrough")
            total = ratio(o["cpu_s_per_stream_minute"], p["cpu_s_per_stream_minute"])
            marginal = ratio(o["marginal_cpu_s_per_stream_minute"],
                             p["marginal_cpu_s_per_stream_minute"])
            ratios[f"{stream}x{cameras}"] = {"total": total, "marginal": marginal,
                                              "baseline_streams": base}
            met = "met" if marginal >= TARGET_RATIO else "NOT met"
            label = "RATIO ordinary/passthrough" + (f" (ordinary at {base})" if base != cameras
                                                    else "")
            rows.append((stream, label, cameras, "", "", "", "", total, marginal,
                         f"target {met}"))
    table(f"Server CPU, {VIEWERS} viewers per stream (target ratio >= {TARGET_RATIO}x)",
          ["stream", "path", "streams", "viewers/stream", "cpu s", "% core", "idle % core",
           "cpu s/stream-min (total)", "cpu s/stream-min (marginal)", "fps/viewer"], rows)
    write_results("media_cpu", {"target_ratio": TARGET_RATIO, "ratios": ratios,
                                "results": results})
    for r in results:
        assert r["frames_received"] > 0, r
