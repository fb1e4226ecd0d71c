"""A display page in headless Chromium playing an N x N layout of simulated sub streams.

Real parts: ``iocwall sim`` (N*N cameras), ``iocwall serve`` (its media server pulls
them), Debian's chromium through Playwright on /display/bench/1 (an admin previewing).
For each case the layout is pushed (PUT ...?wait), then:
- push to playing: from the push request to every tile's ``data-playing="1"``;
- fps per tile: decoded frames (getVideoPlaybackQuality) over the measuring window;
- CPU: chromium's processes and the server's (media included), share of one core.
Baseline, same run: the same page with one tile. Target: every tile >= 14 fps at 4x4.
Sizes: BENCH_WALL_DISPLAY_GRID (4; quick 2), BENCH_WALL_DISPLAY_S (20; quick 6).
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.benchmarks.common import (
    CpuMeter,
    descendants,
    isize,
    proc_cpu_s,
    ratio,
    simulator,
    size,
    table,
    write_results,
)
from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.ports import free_port

pytestmark = pytest.mark.timeout(900)

GRID = isize("wall_display_grid", 4, 2)
SECONDS = size("wall_display_s", 20, 6)
TARGET_FPS = 14
PASSWORD = "Bench-Display-Pw-1!"
TILES = """() => [...document.querySelectorAll('.dtile')].map(t => {
  const v = t.querySelector('video');
  return {id: t.dataset.tile, playing: t.dataset.playing === '1',
          frames: v ? v.getVideoPlaybackQuality().totalVideoFrames : 0,
          dropped: v ? v.getVideoPlaybackQuality().droppedVideoFrames : 0}; })"""


def _config(data: Path, port: int, sim, cameras: int) -> Path:
    cams = "\n".join(f'[[cameras]]\nid = "cam{k}"\nname = "cam{k}"\n'
                     f'main_url = "{sim.url(k, "main")}"\nsub_url = "{sim.url(k, "sub")}"'
                     for k in range(1, cameras + 1))
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)                         # serve refuses a data folder others can read
    path = data / "config.toml"
    path.write_text(f'[server]\nhost = "127.0.0.1"\nport = {port}\ndata_dir = "{data}"\n'
                    f'[logging]\nfile = ""\nlevel = "WARNING"\n'
                    f'[auth]\nadmin_password = "{PASSWORD}"\n{cams}\n')
    return path


def layout(n: int, tag: str) -> dict:
    return {"name": tag, "grid": {"columns": n, "rows": n},
            "tiles": [{"id": f"{tag}{i}", "kind": "camera", "camera": f"cam{i + 1}",
                       "stream": "sub", "x": i % n, "y": i // n} for i in range(n * n)]}


def chromium_cpu_s() -> float:
    """CPU seconds of the chromium processes Playwright started under this process."""
    total = 0.0
    for pid in descendants(os.getpid()):
        try:
            if "chrom" in Path(f"/proc/{pid}/comm").read_text():
                total += proc_cpu_s(pid)
        except OSError:
            pass
    return total


def run_case(http: httpx.Client, page, server_pid: int, n: int, tag: str) -> dict:
    start = time.perf_counter()
    r = http.put("/api/walls/bench/monitors/1/layout?wait=10", json=layout(n, tag))
    assert r.status_code == 200 and r.json()["complete"], r.text
    page.wait_for_function(f"() => {{ const t = ({TILES})();"
                           f" return t.length === {n * n} && t.every(x => x.playing); }}",
                           timeout=60_000, polling=50)
    to_playing_ms = (time.perf_counter() - start) * 1000
    server = CpuMeter(server_pid, tree=True)
    server.start()
    c0, t0, f0 = chromium_cpu_s(), time.monotonic(), {t["id"]: t for t in page.evaluate(TILES)}
    time.sleep(SECONDS)
    c1, t1, f1 = chromium_cpu_s(), time.monotonic(), {t["id"]: t for t in page.evaluate(TILES)}
    server.stop()
    fps = {i: round((f1[i]["frames"] - f0[i]["frames"]) / (t1 - t0), 2) for i in f1}
    dropped = sum(f1[i]["dropped"] - f0[i]["dropped"] for i in f1)
    return {"tiles": n * n, "push_to_playing_ms": round(to_playing_ms, 1),
            "fps_min": min(fps.values()), "fps_mean": round(sum(fps.values()) / len(fps), 2),
            "fps_per_tile": fps, "dropped": dropped,
            "chromium_core_pct": round(100 * (c1 - c0) / (t1 - t0), 1),
            "server_core_pct": round(server.core_pct, 1)}


def test_display_page_grid(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright
    cameras = GRID * GRID
    sim = simulator(tmp_path, cameras)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "iocwall.wall.cli", "serve", "--config",
                             str(_config(tmp_path / "data", port, sim, cameras))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    figures: dict[str, dict] = {}
    try:
        http = httpx.Client(base_url=base, timeout=30)
        for _ in range(300):
            try:
                if http.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        http.post("/api/login", json={"username": "admin", "password": PASSWORD}
                  ).raise_for_status()
        http.post("/api/walls", json={"id": "bench", "name": "Bench", "columns": 1, "rows": 1,
                                      "monitors": ["1"]}).raise_for_status()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS, timeout=60_000)
            try:
                context = browser.new_context(viewport={"width": 1920, "height": 1080})
                context.request.post(base + "/api/login", data={"username": "admin",
                                                                "password": PASSWORD})
                page = context.new_page()
                page.goto(base + "/display/bench/1")
                page.wait_for_function("() => document.body.dataset.connected === '1'",
                                       timeout=30_000)
                figures["one_tile"] = run_case(http, page, proc.pid, 1, "a")
                figures[f"grid_{GRID}x{GRID}"] = run_case(http, page, proc.pid, GRID, "b")
            finally:
                browser.close()
        http.close()
    finally:
        proc.terminate()
        proc.wait(30)
        sim.stop()
    base_case = figures["one_tile"]
    rows = [(k, v["tiles"], v["push_to_playing_ms"], v["fps_min"], v["fps_mean"], v["dropped"],
             v["chromium_core_pct"], v["server_core_pct"],
             ratio(v["push_to_playing_ms"], base_case["push_to_playing_ms"]))
            for k, v in figures.items()]
    grid = figures[f"grid_{GRID}x{GRID}"]
    table(f"display page, {GRID}x{GRID} sub streams, {SECONDS:.0f} s (target every tile >= "
          f"{TARGET_FPS} fps: {'met' if grid['fps_min'] >= TARGET_FPS else 'MISSED'})",
          ["case", "tiles", "push→playing ms", "fps min", "fps mean", "dropped",
           "chromium %core", "server %core", "push→playing / 1 tile"], rows)
    write_results("wall_display", {"grid": GRID, "seconds": SECONDS, **figures})
    assert all(v["fps_min"] > 0 for v in figures.values())
