"""The camera simulator: CPU per served stream in loop mode, and --live latency.

1. Loop mode (default): `iocwall sim --cameras 32`, all 64 streams (main + sub)
   read at once by one light RTSP/TCP reader each (rtsp_reader.py: counts RTP
   packets, decodes nothing) for 20 s; CPU of the simulator process from
   /proc/PID/stat.
   Baseline in the same run: ONE camera of `iocwall sim --live` (render + x264
   in real time), both its streams read the same way.
2. Latency of --live frames: Debian's ffmpeg reads the live camera
   (-fflags nobuffer -flags low_delay, stamp area cropped, raw gray to a pipe);
   each frame's stamp (capture time) is decoded: receive time - stamp.
   Baseline: the same ffmpeg reading a loop-mode camera, whose stamp is the send
   time: that is ffmpeg's own delay, so live - loop = render + encode + send.
"""
from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

import numpy as np
import pytest

from iocwall.hardware import stamp
from tests.benchmarks.common import (
    CpuMeter,
    isize,
    ratio,
    simulator,
    size,
    summary,
    table,
    write_results,
)
from tests.benchmarks.rtsp_reader import RtspReader
from tests.fixtures.simulator import SimProcess

pytestmark = pytest.mark.timeout(900)   # a benchmark is bounded by its own sizes

CAMERAS = isize("sim_cameras", 32, 4)
SECONDS = size("sim_seconds", 20, 5)
LATENCY_FRAMES = isize("sim_latency_frames", 300, 60)
IDLE_S = 3.0
WARMUP_S = 2.0
FPS = {"main": 25, "sub": 15}


async def read_all(sim: SimProcess, cameras: int) -> tuple[CpuMeter, CpuMeter, list]:
    """(idle meter, loaded meter, reader stats) for every stream of ``cameras`` cameras."""
    assert sim.process is not None
    idle, loaded = CpuMeter(sim.process.pid), CpuMeter(sim.process.pid)
    idle.start()
    await asyncio.sleep(IDLE_S)
    idle.stop()
    readers = [RtspReader(sim.host, sim.rtsp_port, f"/cam{k}/{s}")
               for k in range(1, cameras + 1) for s in ("main", "sub")]
    tasks = [asyncio.create_task(r.run(WARMUP_S + SECONDS)) for r in readers]
    await asyncio.sleep(WARMUP_S)
    loaded.start()
    await asyncio.sleep(SECONDS)
    loaded.stop()
    return idle, loaded, await asyncio.gather(*tasks)


def cpu_figures(mode: str, cameras: int, idle: CpuMeter, loaded: CpuMeter, stats: list) -> dict:
    streams = len(stats)
    expected = sum(FPS[s.path.rsplit("/", 1)[1]] for s in stats) * (WARMUP_S + SECONDS)
    frames = sum(s.frames for s in stats)
    return {"mode": mode, "cameras": cameras, "streams": streams,
            "seconds": round(loaded.wall_s, 2),
            "core_pct": round(loaded.core_pct, 2), "idle_core_pct": round(idle.core_pct, 2),
            "core_pct_per_stream": round(loaded.core_pct / streams, 3),
            "core_pct_per_camera": round(loaded.core_pct / cameras, 3),
            "cpu_s_per_stream_minute": round(loaded.cpu_s / streams / (loaded.wall_s / 60), 4),
            "frames_read": frames, "frames_expected_approx": round(expected),
            "mbit_s_read": round(sum(s.bytes for s in stats) * 8 / (WARMUP_S + SECONDS) / 1e6, 2),
            "reader_errors": [f"{s.path}: {s.error}" for s in stats if s.error]}


def ffmpeg_latency(url: str, frames: int) -> list[float]:
    """receive time - stamp (ms) for ``frames`` frames read by ffmpeg, first 25 skipped."""
    args = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp",
            "-fflags", "nobuffer", "-flags", "low_delay", "-i", url,
            "-frames:v", str(frames + 25), "-vf", f"crop={stamp.WIDTH}:{stamp.HEIGHT}:0:0",
            "-pix_fmt", "gray", "-f", "rawvideo", "-flush_packets", "1", "pipe:1"]
    frame_bytes = stamp.WIDTH * stamp.HEIGHT
    out = []
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + frames / 10 + 30
        for n in range(frames + 25):
            data = process.stdout.read(frame_bytes)
            at = time.time()
            if len(data) < frame_bytes or time.monotonic() > deadline:
                break
            ms = stamp.decode(np.frombuffer(data, np.uint8).reshape(stamp.HEIGHT, stamp.WIDTH))
            if n >= 25 and ms is not None:
                out.append(float(stamp.latency_ms(ms, int(at * 1000))))
    finally:
        process.kill()
        process.wait(timeout=5)
    return out


def test_simulator_cpu_and_live_latency(tmp_path):
    assert shutil.which("ffmpeg"), "Debian ffmpeg is needed"
    results = []
    sim = simulator(tmp_path, CAMERAS)
    try:
        results.append(cpu_figures("loop", CAMERAS, *asyncio.run(read_all(sim, CAMERAS))))
        # The client's own share: in loop mode the stamp is the send time, so this is
        # ffmpeg's delay alone (network on loopback is ~0).
        loop_latency = {s: summary(ffmpeg_latency(sim.url(1, s, auth=False), LATENCY_FRAMES))
                        for s in ("sub", "main")}
    finally:
        sim.stop()
    live = simulator(tmp_path, 1, live=True)
    try:
        results.append(cpu_figures("live", 1, *asyncio.run(read_all(live, 1))))
        latency = {s: summary(ffmpeg_latency(live.url(1, s, auth=False), LATENCY_FRAMES))
                   for s in ("sub", "main")}
        stats = live.stats()
    finally:
        live.stop()
    loop_r, live_r = results
    per_cam_ratio = ratio(live_r["core_pct_per_camera"], loop_r["core_pct_per_camera"])
    table(f"Simulator CPU ({SECONDS:.0f} s, every stream read by a raw RTSP/TCP reader)",
          ["mode", "cameras", "streams", "% core", "idle % core", "% core/stream",
           "% core/camera", "cpu s/stream-min", "frames read/expected", "Mbit/s"],
          [(r["mode"], r["cameras"], r["streams"], r["core_pct"], r["idle_core_pct"],
            r["core_pct_per_stream"], r["core_pct_per_camera"], r["cpu_s_per_stream_minute"],
            f"{r['frames_read']}/{r['frames_expected_approx']}", r["mbit_s_read"])
           for r in results]
          + [("RATIO live camera / loop camera", "", "", "", "", "", per_cam_ratio, "", "", "")])
    table("Latency of --live frames read by ffmpeg (ms, receive time - stamp); baseline: "
          "the same ffmpeg on a loop-mode stream (stamp = send time) = ffmpeg's own delay",
          ["stream", "live frames", "live p50", "live p95", "loop p50", "loop p95",
           "live-loop p50", "live-loop p95"],
          [(s, v["n"], v["p50"], v["p95"], loop_latency[s]["p50"], loop_latency[s]["p95"],
            round(v["p50"] - loop_latency[s]["p50"], 1),
            round(v["p95"] - loop_latency[s]["p95"], 1)) for s, v in latency.items()])
    skipped = {k: v["frames_skipped"] for k, v in stats.get("sources", {}).items()}
    print(f"live source frames skipped (fell behind real time): {skipped}", flush=True)
    write_results("sim", {"cpu": results, "live_camera_over_loop_camera": per_cam_ratio,
                          "live_latency_ms": latency,
                          "loop_latency_ms_ffmpeg_baseline": loop_latency,
                          "live_frames_skipped": skipped})
    assert loop_r["frames_read"] > 0 and live_r["frames_read"] > 0
    assert all(v["n"] > 0 for v in latency.values()), latency
