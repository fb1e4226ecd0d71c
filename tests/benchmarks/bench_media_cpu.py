"""CPU seconds per stream-minute: iocwall's H.264 passthrough vs aiortc's ordinary path.

The server runs in its own process (tests/benchmarks/media_proc.py, a fresh one
per run) and only its CPU is measured, from /proc/PID/stat. Viewers are aiortc
WHEP clients in this process that count complete frames without decoding
(see viewer.py), so they take little of the shared CPU.
- passthrough: iocwall's MediaServer (one PyAV puller, PassthroughTrack per viewer).
- ordinary (baseline): what a plain aiortc app does with the same RTSP stream:
  MediaPlayer(decode=True) + MediaRelay, aiortc encoding H.264 for each viewer.
Same simulated camera stream, same viewer count, same duration.
Target: passthrough >= 20x cheaper.
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
FPS = {"sub": 15, "main": 25}
WARMUP_S = 3.0
IDLE_S = 3.0
TARGET_RATIO = 20
PATHS = {"passthrough": "/api/cameras/cam1/whep/{stream}",
         "ordinary": "/bench/ordinary/cam1/{stream}"}


async def run(server: ServerProc, mode: str, stream: str) -> dict:
    meter = CpuMeter(server.pid)
    meter.start()
    await asyncio.sleep(IDLE_S)
    meter.stop()
    idle_pct = meter.core_pct
    viewers = []
    async with httpx.AsyncClient(base_url=server.base, timeout=20) as http:
        try:
            for _ in range(VIEWERS):
                viewer = BenchViewer(decode=False)
                viewers.append(viewer)
                await viewer.play(http, PATHS[mode].format(stream=stream))
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
    return {"mode": mode, "stream": stream, "viewers": VIEWERS, "seconds": round(meter.wall_s, 2),
            "cpu_s": round(meter.cpu_s, 3), "core_pct": round(meter.core_pct, 2),
            "idle_core_pct": round(idle_pct, 2),
            "cpu_s_per_stream_minute": round(meter.cpu_s / (meter.wall_s / 60), 3),
            "cpu_s_per_viewer_minute": round(meter.cpu_s / (meter.wall_s / 60) / VIEWERS, 3),
            "fps_per_viewer": round(received / VIEWERS / (t1 - t0), 2),
            "frames_received": received, "frames_expected": expected}


def test_media_cpu_passthrough_vs_ordinary(tmp_path):
    sim = simulator(tmp_path, 1)
    results = []
    try:
        for stream in STREAMS:
            for mode in PATHS:
                with ServerProc(sim, 1, tmp_path) as server:
                    results.append(asyncio.run(run(server, mode, stream)))
    finally:
        sim.stop()
    rows, ratios = [], {}
    for r in results:
        rows.append((r["stream"], r["mode"], r["viewers"], r["seconds"], r["cpu_s"], r["core_pct"],
                     r["cpu_s_per_stream_minute"], r["cpu_s_per_viewer_minute"],
                     r["fps_per_viewer"], r["idle_core_pct"]))
    for stream in STREAMS:
        by = {r["mode"]: r for r in results if r["stream"] == stream}
        ratios[stream] = ratio(by["ordinary"]["cpu_s"] / by["ordinary"]["seconds"],
                               by["passthrough"]["cpu_s"] / by["passthrough"]["seconds"])
        met = "target met" if ratios[stream] >= TARGET_RATIO else "target NOT met"
        rows.append((stream, "RATIO ordinary/passthrough", "", "", "", "", ratios[stream], met, "",
                     ""))
    table(f"Server CPU, {VIEWERS} viewers per stream (target ratio >= {TARGET_RATIO}x)",
          ["stream", "path", "viewers", "s", "cpu s", "% core", "cpu s/stream-min",
           "cpu s/viewer-min", "fps/viewer", "idle % core"], rows)
    write_results("media_cpu", {"target_ratio": TARGET_RATIO, "ratios": ratios,
                                "results": results})
    for r in results:
        assert r["frames_received"] > 0, r
