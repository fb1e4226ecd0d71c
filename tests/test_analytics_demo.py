"""`iocwall demo` counts the simulator's queues: /api/queues against the simulator's /truth."""
from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime

import httpx
import pytest

from tests.fixtures.browser import ADMIN_PASSWORD
from tests.waiting import wait_until_sync

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _truth(port: int, at: float) -> tuple[float, dict[tuple[str, str], int]]:
    """The simulator's ground truth at ``at`` (Unix seconds), with its time."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/truth?at={at:.3f}",
                                timeout=5) as reply:
        data = json.load(reply)
    out, when = {}, 0.0
    for camera, cam in data["cameras"].items():
        when = datetime.fromisoformat(cam["time"]).timestamp()
        for counter in cam["counters"]:
            out[(camera, counter["id"])] = counter["count"]
    return when, out


def test_demo_counts_every_counter_close_to_the_truth(demo) -> None:
    with httpx.Client(base_url=demo.base_url, timeout=10) as client:
        assert client.post("/api/login", json={"username": "admin",
                                                "password": ADMIN_PASSWORD}).status_code == 200
        sim = client.get("/api/demo").json()["sim"]
        assert set(sim) == {"rtsp", "onvif", "http"}
        def all_counted() -> list:
            rows = client.get("/api/queues").json()
            return rows if len({(r["camera"], r["zone"]) for r in rows}) == 16 else []
        rows = wait_until_sync(all_counted, 90, "16 zones counted", step=0.5)
        keys = {(r["camera"], r["zone"]) for r in rows}
        assert keys == {(f"cam{k}", f"c{i}") for k in range(1, 5) for i in range(1, 5)}
        for row in rows:
            assert set(row) >= {"camera", "zone", "waiting", "wait_estimate_s", "updated_at"}
            assert row["updated_at"].endswith("+07:00")
        # each live count against the truth at its frame's capture time (/truth?at=)
        errors, stale, end = [], 0, time.monotonic() + 10
        while time.monotonic() < end:
            for r in client.get("/api/queues").json():
                if r["state"] != "live":
                    stale += 1
                    continue
                at = datetime.fromisoformat(r["captured_at"]).timestamp()
                truth = _truth(sim["http"], at)[1]
                errors.append(abs(r["waiting"] - truth[(r["camera"], r["zone"])]))
            time.sleep(0.5)
        metrics = client.get("/metrics").text
    assert len(errors) >= 40, "too few counts during 10 s"
    mae = sum(errors) / len(errors)
    print(f"demo: /api/queues vs /truth at the frame's time: MAE {mae:.2f}, {len(errors)} "
          f"samples, {stale} stale")
    assert mae <= 1.0
    assert 'iocwall_analytics_frames_total{camera="cam1",fate="counted"}' in metrics
    assert "iocwall_analytics_workers 1" in metrics


def test_api_demo_is_for_admins_only(demo) -> None:
    with httpx.Client(base_url=demo.base_url, timeout=10) as client:
        assert client.get("/api/demo").status_code == 401
