"""Frames in over ZeroMQ, counts out on the bus: real worker processes (HOG), simulator
scenes with exact ground truth, the tap's router as in the server."""
from __future__ import annotations

import asyncio
import os
import signal
import time

import numpy as np
import pytest

from iocwall.analytics.messages import Result
from iocwall.hardware.sim.scene import Scene
from iocwall.streams.taps.router import TapRouter
from iocwall.wall.bus import MemoryBus
from iocwall.wall.bus.queue import QueueReading
from iocwall.wall.worker_command import EXIT_CONFIG
from iocwall.wall.zones.queues import QueueBoard
from tests.analytics_helpers import frame, start_worker, stop_worker, truth
from tests.fixtures.ports import free_port
from tests.waiting import wait_until

# The error the README reports for HOG on the simulator's sub stream; the test holds it.
HOG_MAE_LIMIT = 1.0



@pytest.mark.slow
async def test_counts_match_ground_truth_and_reach_the_bus() -> None:
    bus = MemoryBus(node_id="test")
    board = QueueBoard(bus, alert_waiting=1)
    results: list[Result] = []

    def on_result(result: Result) -> None:
        results.append(result)
        board.update(result)

    address = f"tcp://127.0.0.1:{free_port()}"
    router = TapRouter(address, on_result)
    await router.start()
    events = await bus.subscribe("analytics.*")
    worker = start_worker(address, "w-accuracy")
    scene, epoch = Scene(1, 12.0), time.time() - 100
    errors: list[int] = []
    try:
        # 2 frames a second of scene time, each counted before the next is offered
        for seq, t in enumerate(np.arange(0.0, 24.0, 0.5), start=1):
            header, jpeg = frame(scene, "cam1", seq, float(t), epoch)
            router.offer(header, jpeg)
            try:
                await wait_until(lambda n=seq: len(results) >= n, 30, f"result {seq}", step=0.02)
            except AssertionError as exc:          # with what the worker said
                raise AssertionError(f"{exc}\n{stop_worker(worker)}") from None
            got = {z.zone: z.waiting for z in results[-1].zones}
            want = truth(scene, float(t))
            assert set(got) == set(want)
            errors += [abs(got[k] - want[k]) for k in want]
    finally:
        out = stop_worker(worker)
        await router.stop()
    mae = float(np.mean(errors))
    exact = float(np.mean(np.array(errors) == 0))
    print(f"HOG on sub stream: MAE {mae:.2f} people/zone, exact {exact:.0%}, {len(errors)} samples")
    assert mae <= HOG_MAE_LIMIT, out
    assert router.counters["cam1"].results == 48
    # the board published per-zone states and alerts on the bus
    seen = []
    while (event := await events.get(timeout=0.2)) is not None:
        seen.append(event)
    readings = [QueueReading.from_event(e) for e in seen if e.topic == "analytics.queue.cam1"]
    assert {r.counter for r in readings} == {"c1", "c2", "c3", "c4"}
    assert all(r.time.endswith("+07:00") for r in readings)
    assert any(e.topic == "analytics.alert.cam1" and e.payload["over"] for e in seen)
    rows = board.rows("cam1")
    assert [r["zone"] for r in rows] == ["c1", "c2", "c3", "c4"]
    assert rows[0]["updated_at"].endswith("+07:00")
    await bus.close()


@pytest.mark.slow
async def test_a_killed_worker_loses_its_camera_for_under_5_s() -> None:
    results: list[Result] = []
    address = f"tcp://127.0.0.1:{free_port()}"
    router = TapRouter(address, results.append)
    await router.start()
    workers = [start_worker(address, "w-a"), start_worker(address, "w-b")]
    scene, epoch = Scene(2, 12.0), time.time()
    stop = asyncio.Event()

    async def camera_feed(camera: str) -> None:    # 2 fps, real time, like the tap
        seq = 0
        while not stop.is_set():
            seq += 1
            router.offer(*frame(scene, camera, seq, (seq * 0.5) % 12.0, epoch + seq * 0.5))
            await asyncio.sleep(0.5)

    feeds = [asyncio.create_task(camera_feed(c)) for c in ("cam1", "cam2")]
    try:
        await wait_until(lambda: len(router.workers) == 2
                         and {r.camera for r in results} == {"cam1", "cam2"}, 60,
                         "two workers counting both cameras")
        victim_name = next(r.worker for r in reversed(results) if r.camera == "cam1")
        victim = workers[0] if victim_name == "w-a" else workers[1]
        os.kill(victim.pid, signal.SIGKILL)
        killed_at = time.time()
        await wait_until(lambda: any(r.camera == "cam1" and r.worker != victim_name
                                     and r.counted_ts > killed_at for r in results), 10,
                         "cam1 counted by the surviving worker")
        gaps = [r.counted_ts for r in results if r.camera == "cam1"]
        before = max(t for t in gaps if t <= killed_at)
        after = min(t for t in gaps if t > killed_at)
        print(f"cam1 without counts for {after - before:.2f} s after its worker was killed")
        assert after - before < 5.0
    finally:
        stop.set()
        await asyncio.gather(*feeds)
        for w in workers:
            stop_worker(w)
        await router.stop()


def test_missing_weights_say_which_file_and_where(tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = tmp_path / "models" / "yolo11n.pt"
    proc = start_worker("tcp://127.0.0.1:9", "w-none", "--detector", "yolo",
                        "--weights", str(missing))
    out = stop_worker(proc) if proc.wait(60) is None else proc.stdout.read()  # type: ignore[union-attr]
    assert proc.returncode == EXIT_CONFIG        # a setup problem: supervisors stop restarting
    assert f"YOLO weights not found: {missing}" in out
    assert "Traceback" not in out
