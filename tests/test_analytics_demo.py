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


def _truth(port: int) -> tuple[float, dict[tuple[str, str], int]]:
    """The simulator's ground truth now, with its time."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/truth", timeout=5) as reply:
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
        # sample the truth often, and pair each count with the truth of its frame's time
        truths, counts = [], {}
        end = time.monotonic() + 10
        while time.monotonic() < end:
            truths.append(_truth(sim["http"]))
            for r in client.get("/api/queues").json():
                counts[(r["camera"], r["zone"], r["updated_at"])] = r["waiting"]
            time.sleep(0.2)
        metrics = client.get("/metrics").text
    errors = []
    for (camera, zone, updated), waiting in counts.items():
        at = datetime.fromisoformat(updated).timestamp()
        when, truth = min(truths, key=lambda tr: abs(tr[0] - at))
        if abs(when - at) < 0.3:
            errors.append(abs(waiting - truth[(camera, zone)]))
    assert len(errors) >= 40, "too few counts during 10 s"
    mae = sum(errors) / len(errors)
    print(f"demo: /api/queues vs /truth at the frame's time: MAE {mae:.2f}, {len(errors)} samples")
    assert mae <= 1.0
    assert 'iocwall_analytics_frames_total{camera="cam1",fate="counted"}' in metrics
    assert "iocwall_analytics_workers 1" in metrics


def test_api_demo_is_for_admins_only(demo) -> None:
    with httpx.Client(base_url=demo.base_url, timeout=10) as client:
        assert client.get("/api/demo").status_code == 401
