"""Push latency: operator action to acknowledgement from every display node.

Server(s): ``iocwall serve`` subprocesses (their own event loops and CPUs). Display
nodes: WebSocket clients in this process that apply each layout message and ack it
at once (tests/wall_helpers.Display), one per monitor of a wall of N monitors.
- one monitor (baseline): PUT one monitor's layout ?wait=..., 1 ack.
- whole wall: recall a preset covering every monitor ?wait=..., N acks. The time is
  from the HTTP request to the answer that says every node acked (``complete``).
- two controllers through Redis: half of the nodes on controller A, half on B;
  the preset is recalled on B, so A's nodes hear it through Redis.
Target: whole wall p95 <= 100 ms on loopback with 32 nodes.
"""
from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.benchmarks.common import isize, ratio, summary, table, write_results
from tests.fixtures.ports import free_port
from tests.fixtures.redis_server import start_redis
from tests.wall_helpers import CAMERAS, Display, open_display

pytestmark = pytest.mark.timeout(900)

NODES = isize("wall_nodes", 32, 4)
PUSHES = isize("wall_pushes", 60, 5)
TARGET_P95_MS = 100
PASSWORD = "Bench-Admin-Pw-1!"


def _config(data: Path, port: int, redis_url: str = "") -> Path:
    cams = "\n".join(f'[[cameras]]\nid = "{c}"\nname = "{c}"\nmain_url = "rtsp://127.0.0.1:9/{c}"'
                     for c in CAMERAS)
    bus = f'[bus]\nbackend = "redis"\nredis_url = "{redis_url}"\n' if redis_url else ""
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)                         # serve refuses a data folder others can read
    path = data / f"config-{port}.toml"
    path.write_text(f'[server]\nhost = "127.0.0.1"\nport = {port}\ndata_dir = "{data}"\n'
                    f'[logging]\nfile = ""\nlevel = "WARNING"\n'
                    f'[auth]\nadmin_password = "{PASSWORD}"\n'
                    f"{bus}{cams}\n")
    return path


@contextlib.asynccontextmanager
async def server(data: Path, redis_url: str = "") -> AsyncIterator[str]:
    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "iocwall.wall.cli", "serve", "--config",
        str(_config(data, port, redis_url)),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(url + "/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)


async def login(url: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=url, timeout=30)
    r = await http.post("/api/login", json={"username": "admin", "password": PASSWORD})
    r.raise_for_status()
    return http


def layout(camera: str) -> dict:
    return {"name": "b", "grid": {"columns": 2, "rows": 2},
            "tiles": [{"id": "a", "kind": "camera", "camera": camera, "x": 0, "y": 0}]}


async def setup_wall(http: httpx.AsyncClient) -> list[str]:
    monitors = [str(i + 1) for i in range(NODES)]
    columns = 8 if NODES % 8 == 0 else NODES          # a wall is at most 16 monitors wide
    r = await http.post("/api/walls", json={"id": "bench", "name": "Bench", "columns": columns,
                                            "rows": NODES // columns, "monitors": monitors})
    r.raise_for_status()
    for n, cam in enumerate(CAMERAS[:2]):
        preset = {"monitors": {m: layout(cam) for m in monitors}}
        (await http.put(f"/api/walls/bench/presets/p{n}", json=preset)).raise_for_status()
    return monitors


async def measure(http: httpx.AsyncClient, path: str, method: str, body: object,
                  expected: int) -> list[float]:
    times = []
    for i in range(PUSHES):
        start = time.perf_counter()
        kwargs = {"json": body(i)} if callable(body) else {}
        r = await http.request(method, path.format(i=i % 2), **kwargs)
        elapsed = (time.perf_counter() - start) * 1000
        answer = r.json()
        assert answer["complete"] and answer["expected"] == expected, answer
        times.append(elapsed)
    return times


async def open_nodes(urls: list[str], monitors: list[str], cookies: list[dict]) -> list[Display]:
    nodes = [await open_display(urls[i % len(urls)], "bench", m, cookies[i % len(urls)])
             for i, m in enumerate(monitors)]
    for node in nodes:
        node.beating = False                 # heartbeats are not what is measured
        await node.wait_layouts(1)
    return nodes


async def wait_seen(http: httpx.AsyncClient, count: int) -> None:
    for _ in range(100):
        nodes = (await http.get("/api/walls/bench")).json()["nodes"]
        if sum(1 for n in nodes if n["status"] == "up") >= count:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("the controller never saw every node")


async def test_push_latency(tmp_path: Path) -> None:
    figures: dict[str, dict] = {}
    async with server(tmp_path / "one") as url:
        http = await login(url)
        monitors = await setup_wall(http)
        nodes = await open_nodes([url], monitors, [dict(http.cookies)])
        await wait_seen(http, NODES)
        figures["one_monitor"] = summary(await measure(
            http, "/api/walls/bench/monitors/1/layout?wait=5", "PUT",
            lambda i: layout(CAMERAS[i % 2]), 1))
        figures["whole_wall"] = summary(await measure(
            http, "/api/walls/bench/presets/p{i}/recall?wait=5", "POST", None, NODES))
        for node in nodes:
            await node.close()
        await http.aclose()
    with start_redis() as redis:
        data = tmp_path / "two"
        data.mkdir()
        redis_url = redis.url
        async with server(data, redis_url) as url_a:
            http_a = await login(url_a)
            monitors = await setup_wall(http_a)
            async with server(data, redis_url) as url_b:
                http_b = await login(url_b)
                nodes = await open_nodes([url_a, url_b], monitors,
                                         [dict(http_a.cookies), dict(http_b.cookies)])
                await wait_seen(http_b, NODES)
                figures["two_controllers_redis"] = summary(await measure(
                    http_b, "/api/walls/bench/presets/p{i}/recall?wait=5", "POST", None, NODES))
                for node in nodes:
                    await node.close()
                await http_b.aclose()
            await http_a.aclose()
    base = figures["one_monitor"]["p95"]
    rows = [(k, v["n"], v["p50"], v["p95"], ratio(v["p95"], base)) for k, v in figures.items()]
    table(f"wall push latency, {NODES} display nodes, ms (target whole wall p95 <= "
          f"{TARGET_P95_MS} ms: "
          f"{'met' if figures['whole_wall']['p95'] <= TARGET_P95_MS else 'MISSED'})",
          ["case", "pushes", "p50", "p95", "p95 / one monitor"], rows)
    write_results("wall_push", {"nodes": NODES, "pushes": PUSHES, **figures})
    assert all(v["n"] == PUSHES for v in figures.values())
