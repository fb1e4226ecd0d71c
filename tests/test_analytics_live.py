"""Live counts as a wall shows them: each with its capture time and age, stale ones never
shown as current, and a worker that cannot run here (analytics extra or weights missing)
said once, clearly, as "analytics off" instead of an endless restart loop."""
from __future__ import annotations

import asyncio
import copy
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import zmq
import zmq.asyncio

from iocwall.analytics.detectors import Detection, HogDetector
from iocwall.analytics.messages import Hello, Kind, Result, ZoneCount, encode
from iocwall.analytics.queues import CameraQueues
from iocwall.analytics.worker import Worker
from iocwall.analytics.zones import Zone
from iocwall.hardware.sim.scene import Scene
from iocwall.streams.taps.router import TapRouter
from iocwall.wall.config import Config
from iocwall.wall.worker_command import EXIT_CONFIG
from iocwall.wall.zones.demo import DemoWorker
from tests.analytics_helpers import frame
from tests.fixtures.app import start_live_server
from tests.fixtures.ports import free_port
from tests.fixtures.redis_server import RedisServer
from tests.waiting import wait_until
from tests.wall_helpers import with_cameras

REPO = Path(__file__).resolve().parents[1]


async def test_each_count_says_when_its_frame_was_captured_and_stale_ones_are_not_current(
        app_config: Config) -> None:
    app_config.analytics.max_count_age_s = 1.0
    async with start_live_server(app_config) as server, server.client() as admin:
        await server.login(admin)
        board = server.services.queues
        now = time.time()
        board.update(Result("cam-1", 1, now - 0.3, now - 0.1, "w", [
            ZoneCount("c1", 3, 40.0, 6.0, detected=2)]))
        board.update(Result("cam-2", 1, now - 5.0, now - 4.9, "w", [
            ZoneCount("c1", 4, 50.0, 6.0, detected=4)]))
        rows = {r["camera"]: r for r in (await admin.get("/api/queues")).json()}
    live, stale = rows["cam-1"], rows["cam-2"]
    assert live["state"] == "live" and live["waiting"] == 3 and live["detected"] == 2
    assert live["captured_at"].endswith("+07:00")
    assert abs(datetime.fromisoformat(live["captured_at"]).timestamp() - (now - 0.3)) < 0.01
    assert 300 <= live["age_ms"] < 1000 and live["delay_ms"] == 200
    # 5 s old with a 1 s limit: no figure shown as if it were now, its age says why
    assert stale["state"] == "stale" and stale["waiting"] is None
    assert stale["wait_estimate_s"] is None and stale["age_ms"] >= 5000
    assert stale["captured_at"].endswith("+07:00")


async def test_analytics_off_lists_every_zone_off_with_the_reason(app_config: Config) -> None:
    async with start_live_server(app_config) as server, server.client() as admin:
        await server.login(admin)
        board = server.services.queues
        board.expect("cam-1", {"c1", "c2"})
        board.set_off("analytics off: install it / tắt phân tích")
        rows = (await admin.get("/api/queues")).json()
    assert [(r["zone"], r["state"], r["waiting"]) for r in rows] == [
        ("c1", "off", None), ("c2", "off", None)]
    assert rows[0]["reason"] == "analytics off: install it / tắt phân tích"


def _without_torch(tmp_path: Path) -> dict[str, str]:
    """An environment where the analytics extra is missing: ``import torch`` fails, as
    after a plain ``pip install`` (the rest of iocwall imports as usual)."""
    fake = tmp_path / "no-extra" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        'raise ModuleNotFoundError("No module named \'torch\'", name="torch")\n')
    path = os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path)


def test_a_worker_without_the_analytics_extra_says_what_to_install(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "iocwall.wall.cli", "worker", "--connect",
                          "tcp://127.0.0.1:9", "--detector", "hog"], cwd=REPO,
                         env=_without_torch(tmp_path), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == EXIT_CONFIG, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    lines = [line for line in out.stderr.splitlines() if line.startswith("iocwall worker:")]
    assert len(lines) == 1, out.stderr
    assert "torch" in lines[0] and 'pip install -e ".[analytics]"' in lines[0]
    assert "tắt phân tích" in lines[0]


async def test_the_demo_supervisor_stops_and_says_analytics_off(tmp_path: Path) -> None:
    worker = DemoWorker("tcp://127.0.0.1:9", "hog", "", env=_without_torch(tmp_path))
    heard: list[str] = []
    worker.on_off(heard.append)
    worker.start()
    try:
        async with asyncio.timeout(120):
            while not heard:
                await asyncio.sleep(0.1)
        await asyncio.sleep(1.0)            # nothing restarts after it
    finally:
        await worker.stop()
    assert worker.restarts == 0 and len(heard) == 1
    assert heard[0].startswith("analytics off:") and "pip install" in heard[0]
    late: list[str] = []
    worker.on_off(late.append)              # the web side attaching later still hears it
    assert late == heard


def test_a_hog_worker_takes_one_frame_at_a_time() -> None:
    # HOG gains nothing from batches: a batch of 4 cameras held every count until the
    # fourth was done (seconds on a busy machine)
    assert Worker("tcp://127.0.0.1:9", HogDetector(), batch=8).batch == 1


@pytest.mark.redis
async def test_a_zone_edit_in_one_process_is_followed_at_once_by_another(
        app_config: Config, redis_server: RedisServer) -> None:
    with_cameras(app_config)
    app_config.bus.backend = "redis"
    app_config.bus.redis_url = redis_server.url
    app_config.bus.prefix = redis_server.fresh_prefix()
    square = [[0, 0], [100, 0], [100, 100], [0, 100]]
    async with start_live_server(app_config) as a, \
            start_live_server(copy.deepcopy(app_config)) as b, \
            a.client() as http_a, b.client() as http_b:        # same database, same bus
        await a.login(http_a)
        await b.login(http_b)
        heard: list[tuple[str, list[str]]] = []

        async def listener(camera: str, zones: list) -> None:
            heard.append((camera, [z.id for z in zones]))
        b.services.zones.listen(listener)              # as B's tap would follow them
        now = time.time()
        b.services.queues.update(Result("cam-1", 1, now, now, "w", [
            ZoneCount("c1", 1, None, 0.0), ZoneCount("c2", 2, None, 0.0)]))
        r = await http_a.put("/api/cameras/cam-1/zones",
                             json={"zones": [{"id": "c1", "polygon": square}]})
        assert r.status_code == 200, r.text

        async def followed() -> bool:
            rows = (await http_b.get("/api/queues", params={"camera": "cam-1"})).json()
            return [r["zone"] for r in rows] == ["c1"]
        await wait_until(followed, 2, "B drops the zone A removed")
        assert heard == [("cam-1", ["c1"])]


async def test_metrics_count_each_worker_process_frames_dropped_while_it_computed() -> None:
    """A worker busy with a frame (no credit) loses its cameras' older frames to newer ones:
    counted per worker process, beside the per-camera figures."""
    address = f"tcp://127.0.0.1:{free_port()}"
    router = TapRouter(address, lambda result: None, worker_timeout_s=30)
    await router.start()
    sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IDENTITY, b"busy-worker")
    sock.connect(address)
    try:
        await sock.send_multipart(encode(Kind.HELLO, Hello("busy-worker", 1)))  # no READY
        await wait_until(lambda: len(router.workers) == 1, 5, "the worker joins")
        scene = Scene(0, 12.0)
        for seq in range(1, 5):
            router.offer(*frame(scene, "cam1", seq, seq * 0.5, time.time() - 10))
            await asyncio.sleep(0.05)
        text = router.metrics_text()
    finally:
        sock.close(0)
        await router.stop()
    assert 'iocwall_analytics_worker_frames_total{fate="dropped",worker="busy-worker"} 3.0' \
        in text or 'iocwall_analytics_worker_frames_total{worker="busy-worker",fate="dropped"} ' \
        '3.0' in text, text


def test_a_person_is_counted_on_the_first_frame_they_are_detected() -> None:
    """The count is the frame's own detections: ByteTrack confirms a new track only on its
    second frame, and the tracked count lagged every arrival by a frame (0.5 s and more)."""
    queues = CameraQueues([Zone.rect("c1", 0, 0, 200, 200)])
    person = Detection(50, 20, 100, 150, 0.9)
    counts = []
    for t, found in ((0.0, []), (0.5, []), (1.0, [person]), (1.5, [person]), (2.0, [])):
        tracks = queues.tracker.update(found)
        counts.append(queues.update(tracks, t, found)[0].waiting)
    assert counts == [0, 0, 1, 1, 0]


async def test_a_worker_that_keeps_dying_at_start_is_not_restarted_forever(
        tmp_path: Path) -> None:
    """Not a known setup problem (a broken install: exit 1 with a traceback), but it dies
    at once every time: after three tries the supervisor stops and says so, with its last
    words, instead of restarting every 2 s forever."""
    fake = tmp_path / "broken" / "zmq"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise RuntimeError("zmq is broken here")\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(fake.parent),
                                                       os.environ.get("PYTHONPATH", "")]))
    worker = DemoWorker("tcp://127.0.0.1:9", "hog", "", env=env)
    heard: list[str] = []
    worker.on_off(heard.append)
    worker.start()
    try:
        async with asyncio.timeout(120):
            while not heard:
                await asyncio.sleep(0.1)
    finally:
        await worker.stop()
    assert worker.restarts == 2 and len(heard) == 1
    assert "keeps failing (exit 1)" in heard[0] and "zmq is broken here" in heard[0]
