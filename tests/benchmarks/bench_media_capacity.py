"""Capacity: how many sub streams (640x360, 15 fps), 2 viewers each, with < 1% frame loss.

The media server runs in its own process (tests/benchmarks/media_proc.py), with
its media in 1, then 2 media processes (BENCH_MEDIA_PROCESSES=1,2: the scaling
over cores); the simulator in another; the viewers in this one. Viewers are
light receivers (aiortc receives and decrypts, then packets and frames are only
counted: see viewer.py); one viewer in BENCH_CAPACITY_SAMPLE (8) decodes every
frame to show the pictures decode. So the load generator takes as little as it
can of the same cores; its CPU is reported too. N goes up in steps (more cameras join,
earlier ones keep
playing); each step is measured over a fixed window. It stops at the first N
with more than 1% frames lost or the server over 85% of a core, measured
twice in a row (the machine is shared: one noisy window is measured again,
and both windows are reported).
Loss at a viewer: complete frames received vs expected from the RTP timestamps
(one 90 kHz step of 6000 per frame at 15 fps) over the window, less the frames
the simulator itself skipped in that window (it jumps ahead when it falls
behind real time: those frames never existed, and the pass-through keeps
their timestamp gap). Both the server's loss and the raw loss are reported; a
raw loss over 10% means the machine, not the server, is the limit.
"""
from __future__ import annotations

import asyncio
import os
import time

import httpx
import pytest

from tests.benchmarks.common import (
    QUICK,
    CpuMeter,
    ServerProc,
    simulator,
    size,
    table,
    write_results,
)
from tests.benchmarks.viewer import BenchViewer, loss
from tests.fixtures.simulator import SimProcess

pytestmark = pytest.mark.timeout(900)   # a benchmark is bounded by its own sizes

STEPS = [int(n) for n in os.environ.get("BENCH_CAPACITY_STEPS",
                                        "2,4" if QUICK
                                        else "2,4,8,12,16,20,24,28,32,40,48,56,64").split(",")]
SECONDS = size("capacity_seconds", 15, 5)
VIEWERS_PER_STREAM = 2
PROCESSES = [int(n) for n in os.environ.get("BENCH_MEDIA_PROCESSES", "1,2").split(",")]
SAMPLE_EVERY = int(os.environ.get("BENCH_CAPACITY_SAMPLE", "8"))
FPS = 15
WARMUP_S = 3.0
MAX_LOSS = 0.01
MAX_CORE_PCT = 85.0
RIG_LIMIT_PCT = 10.0    # the simulator itself skipping this much: the machine is the limit


def sim_skipped(sim: SimProcess) -> dict[int, int]:
    """Frames each camera's sub stream skipped so far (the simulator fell behind real time)."""
    sources = sim.stats().get("sources", {})
    return {int(name[3:].split("/")[0]): v["frames_skipped"] for name, v in sources.items()
            if name.endswith("/sub")}


async def step(http: httpx.AsyncClient, server: ServerProc, sim: SimProcess, viewers: dict,
               n: int) -> dict:
    for k in range(1, n + 1):
        while len(viewers.setdefault(k, [])) < VIEWERS_PER_STREAM:
            index = sum(len(v) for v in viewers.values())
            sample = SAMPLE_EVERY > 0 and index % SAMPLE_EVERY == 0
            viewer = BenchViewer(decode=sample, light=not sample)
            viewers[k].append(viewer)
            await viewer.play(http, f"/api/cameras/cam{k}/whep/sub")
    active = [(k, v) for k in range(1, n + 1) for v in viewers[k]]
    await asyncio.gather(*(v.first_frame_s(20) for _, v in active))
    await asyncio.sleep(WARMUP_S)
    assert sim.process is not None
    meters = [CpuMeter(server.pid, tree=True), CpuMeter(sim.process.pid),
              CpuMeter(os.getpid())]
    skipped0 = await asyncio.to_thread(sim_skipped, sim)
    for m in meters:
        m.start()
    t0 = time.time()
    await asyncio.sleep(SECONDS)
    t1 = time.time()
    for m in meters:
        m.stop()
    skipped1 = await asyncio.to_thread(sim_skipped, sim)
    skipped = {k: skipped1.get(k, 0) - skipped0.get(k, 0) for k in range(1, n + 1)}
    counts = [(k, *loss(v.frames, t0, t1, FPS)) for k, v in active]
    for _, v in active:       # keep memory flat across steps
        del v.frames[:-10]
    stats = (await http.get("/bench/stats")).json()
    pulled = [h for h in stats["health"] if h["stream"] == "sub" and h["state"] != "idle"]
    received, expected = sum(c[1] for c in counts), sum(c[2] for c in counts)
    # Frames the camera never sent are not the server's loss (the rig is overloaded then).
    never_sent = sum(skipped[k] for k, _, _ in counts)
    server_lost = max(0, expected - never_sent - received)
    worst = max(max(0.0, 1 - r / max(1, e - skipped[k])) for k, r, e in counts)
    busiest = max(meters[0].per_process.values(), default=0.0)
    packets_lost = sum(v.counter.lost for _, v in active if v.counter is not None)
    return {"streams": n, "viewers": len(active), "seconds": round(t1 - t0, 2),
            "processes": server.processes,
            "server_core_pct": round(meters[0].core_pct, 1),
            "server_busiest_process_pct": round(100 * busiest / max(meters[0].wall_s, 1e-9), 1),
            "rtp_packets_lost": packets_lost,
            "sim_core_pct": round(meters[1].core_pct, 1),
            "viewers_core_pct": round(meters[2].core_pct, 1),
            "loss_pct": round(100 * server_lost / max(1, expected - never_sent), 3),
            "raw_loss_pct": round(100 * max(0.0, 1 - received / expected), 3),
            "sim_skipped_frames": sum(skipped.values()),
            "worst_viewer_loss_pct": round(100 * worst, 3),
            "frames_received": received, "frames_expected": expected,
            "server_fanout_drops": sum(stats["fanout_drops"].values()),
            "server_pulled_fps_min": min((h["fps"] for h in pulled), default=0.0),
            "server_reconnects": sum(h["reconnects"] for h in pulled),
            "server_sessions": len(stats["sessions"]),
            "lossy_viewers": [f"cam{k}: {r}/{e} (sim skipped {skipped[k]})"
                              for k, r, e in counts if r < (e - skipped[k]) * (1 - MAX_LOSS)]}


def over(r: dict) -> bool:
    """Past the limits: loss, or one server process (web or media) near a full core."""
    return (r["loss_pct"] > 100 * MAX_LOSS or r["server_busiest_process_pct"] > MAX_CORE_PCT
            or r["raw_loss_pct"] > RIG_LIMIT_PCT)


async def climb(server: ServerProc, sim: SimProcess) -> list[dict]:
    results: list[dict] = []
    viewers: dict[int, list[BenchViewer]] = {}
    async with httpx.AsyncClient(base_url=server.base, timeout=20) as http:
        try:
            for n in STEPS:
                for attempt in (1, 2):
                    r = await step(http, server, sim, viewers, n)
                    r["attempt"] = attempt
                    results.append(r)
                    print(f"  N={n}: loss {r['loss_pct']}%  server {r['server_core_pct']}% core"
                          f"  (attempt {attempt})", flush=True)
                    if not over(r):
                        break
                if over(r):     # over the limits twice in a row: this N is too many
                    break
        finally:
            for vs in viewers.values():
                for v in vs:
                    await v.close(http)
    return results


def test_media_capacity(tmp_path):
    top = max(STEPS)
    sim = simulator(tmp_path, top)
    runs: dict[int, list[dict]] = {}
    try:
        for processes in PROCESSES:
            with ServerProc(sim, top, tmp_path, processes=processes) as server:
                runs[processes] = asyncio.run(climb(server, sim))
    finally:
        sim.stop()
    summary = {}
    for processes, results in runs.items():
        ok = [r for r in results if not over(r)]
        best = ok[-1] if ok else None
        table(f"Capacity, {processes} media process(es): sub streams x {VIEWERS_PER_STREAM} "
              f"viewers ({SECONDS:.0f} s per step; limit {100 * MAX_LOSS:.0f}% loss, "
              f"{MAX_CORE_PCT:.0f}% of a core in any server process)",
              ["streams", "try", "viewers", "server loss %", "worst viewer %", "raw loss %",
               "rtp lost", "sim skipped", "server % core", "busiest proc %", "sim % core",
               "viewers % core", "fanout drops", "reconnects"],
              [(r["streams"], r["attempt"], r["viewers"], r["loss_pct"],
                r["worst_viewer_loss_pct"], r["raw_loss_pct"], r["rtp_packets_lost"],
                r["sim_skipped_frames"], r["server_core_pct"], r["server_busiest_process_pct"],
                r["sim_core_pct"], r["viewers_core_pct"], r["server_fanout_drops"],
                r["server_reconnects"])
               for r in results])
        limit = "stopped by loss/CPU" if over(results[-1]) else f"all steps up to {top} passed"
        print(f"{processes} media process(es): largest N under the limits: "
              f"{best['streams'] if best else 0} "
              f"(server {best['server_core_pct'] if best else 'n/a'}"
              f"% of a core; {limit})", flush=True)
        summary[processes] = {"max_streams": best["streams"] if best else 0,
                              "max_streams_server_core_pct":
                                  best["server_core_pct"] if best else None,
                              "steps_exhausted": not over(results[-1]), "steps": results}
    if len(summary) > 1:
        first, last = min(summary), max(summary)
        print(f"scaling: {summary[last]['max_streams']} streams with {last} media processes, "
              f"{summary[first]['max_streams']} with {first}", flush=True)
    write_results("media_capacity", {"cpus": os.cpu_count(),
                                     "by_processes": {str(k): v for k, v in summary.items()}})
    assert all(results and results[0]["frames_received"] > 0 for results in runs.values())
