"""Time to first decoded frame for a new WHEP viewer (keyframe cache) vs a cold stream.

Media server in its own process (tests/benchmarks/media_proc.py), simulated
cameras in loop mode (GOP: 1 s on both streams). Each viewer is an aiortc WHEP
client that decodes, like a browser; the time runs from POSTing the offer to
the first decoded frame.
- warm: camera 1's stream is already pulled (one viewer keeps it playing); new
  viewers join one after another and start from the cached keyframe.
- cold (baseline): the first viewer of a stream nobody pulls (cameras 2..N in
  turn, each idle again after the server's 1 s linger): RTSP connect, DESCRIBE,
  then wait for the camera's next keyframe.
- direct (context): PyAV opening the camera's RTSP URL itself (same options
  as the server's puller) until its first decoded frame.
Target: warm p95 <= 300 ms.
"""
from __future__ import annotations

import asyncio
import time

import av
import httpx
import pytest

from tests.benchmarks.common import (
    ServerProc,
    isize,
    ratio,
    simulator,
    summary,
    table,
    write_results,
)
from tests.benchmarks.viewer import BenchViewer

pytestmark = pytest.mark.timeout(900)   # a benchmark is bounded by its own sizes

WARM_VIEWERS = isize("ttff_viewers", 20, 5)
COLD_VIEWERS = isize("ttff_cold_viewers", 8, 3)
STREAMS = ("sub", "main")[:isize("ttff_streams", 2, 1)]
CAMERAS = 4
TARGET_P95_MS = 300


async def one_viewer(http: httpx.AsyncClient, camera: str, stream: str) -> float:
    viewer = BenchViewer(decode=True)
    try:
        await viewer.play(http, f"/api/cameras/{camera}/whep/{stream}")
        return await viewer.first_frame_s(15) * 1000
    finally:
        await viewer.close(http)


def direct_first_frame_ms(url: str) -> float:
    start = time.time()
    options = {"rtsp_transport": "tcp", "fflags": "nobuffer", "flags": "low_delay",
               "probesize": "32768", "analyzeduration": "0", "timeout": "5000000"}
    with av.open(url, options=options, timeout=10) as container:
        for _ in container.decode(container.streams.video[0]):
            return (time.time() - start) * 1000
    raise RuntimeError(f"no frame from {url}")


async def wait_idle(http: httpx.AsyncClient, camera: str, stream: str, timeout: float = 8) -> None:
    """Until the server pulls nothing for this stream (its linger is over)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        health = (await http.get("/bench/stats")).json()["health"]
        mine = next(h for h in health if (h["camera"], h["stream"]) == (camera, stream))
        if mine["state"] == "idle":
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{camera}/{stream} still pulled after {timeout} s")


async def measure(server: ServerProc, sim, stream: str,  # noqa: ANN001
                  warm_viewers: int = WARM_VIEWERS, cold_viewers: int = COLD_VIEWERS) -> dict:
    direct = [await asyncio.to_thread(direct_first_frame_ms, sim.url(1 + i % CAMERAS, stream))
              for i in range(cold_viewers)]
    async with httpx.AsyncClient(base_url=server.base, timeout=15) as http:
        cold = []
        for i in range(cold_viewers):
            camera = f"cam{2 + i % (CAMERAS - 1)}"
            await wait_idle(http, camera, stream)
            cold.append(await one_viewer(http, camera, stream))
        holder = BenchViewer(decode=False)
        try:
            await holder.play(http, f"/api/cameras/cam1/whep/{stream}")
            await holder.first_frame_s(15)
            await asyncio.sleep(1.5)
            warm = []
            for _ in range(warm_viewers):
                warm.append(await one_viewer(http, "cam1", stream))
                await asyncio.sleep(0.1)
        finally:
            await holder.close(http)
    return {"stream": stream, "warm_ms": summary(warm), "cold_ms": summary(cold),
            "direct_rtsp_ms": summary(direct),
            "warm_all_ms": [round(w, 1) for w in warm], "cold_all_ms": [round(c, 1) for c in cold]}


def test_media_time_to_first_frame(tmp_path):
    sim = simulator(tmp_path, CAMERAS)
    results = []
    try:
        with ServerProc(sim, CAMERAS, tmp_path) as server:
            for stream in STREAMS:
                results.append(asyncio.run(measure(server, sim, stream)))
    finally:
        sim.stop()
    rows = [(r["stream"], r["warm_ms"]["n"], r["warm_ms"]["p50"], r["warm_ms"]["p95"],
             r["cold_ms"]["n"], r["cold_ms"]["p50"], r["cold_ms"]["p95"],
             ratio(r["cold_ms"]["p95"], r["warm_ms"]["p95"]), r["direct_rtsp_ms"]["p50"],
             r["direct_rtsp_ms"]["p95"], "yes" if r["warm_ms"]["p95"] <= TARGET_P95_MS else "NO")
            for r in results]
    table(f"Time to first decoded frame, new WHEP viewer (ms; target warm p95 <= {TARGET_P95_MS})",
          ["stream", "warm n", "warm p50", "warm p95", "cold n", "cold p50", "cold p95",
           "cold/warm p95", "direct RTSP p50", "direct RTSP p95", "target met"], rows)
    write_results("media_ttff", {"target_warm_p95_ms": TARGET_P95_MS, "results": results})
    for r in results:
        assert r["warm_ms"]["n"] == WARM_VIEWERS and r["cold_ms"]["n"] == COLD_VIEWERS
