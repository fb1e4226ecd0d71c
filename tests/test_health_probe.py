"""Cameras nobody watches are probed (wall/health/probe.py): RTSP OPTIONS + DESCRIBE with their
stored credentials, against the real simulator, through the real server and its HTTP API.

No camera here is ever pulled. An idle camera that answers counts as online for its province;
one whose simulator stops raises camera_lost within camera_lost_s + probe_s and resolves when
it is back; a stored wrong password gives the reason "wrong_password"; no password is logged.
"""
from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from iocwall.wall.config import CameraConfig
from tests.fixtures.app import start_live_server
from tests.fixtures.simulator import SimProcess
from tests.test_health_alerts import health_config
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
LOST_S, PROBE_S = 2.0, 1.0
WRONG = "not-the-password-7Q"


async def board(http: httpx.AsyncClient) -> dict[str, Any]:
    r = await http.get("/api/health")
    assert r.status_code == 200, r.text
    return r.json()


async def probed(http: httpx.AsyncClient, camera: str, reason: str) -> dict[str, Any] | None:
    cams = (await board(http))["cameras"]
    cam = next((c for c in cams if c["id"] == camera), None)
    probe = (cam or {}).get("detail", {}).get("probe")
    return cam if probe and probe["reason"] == reason else None


async def alerts(http: httpx.AsyncClient, rule: str, subject: str) -> list[dict[str, Any]]:
    found = (await http.get("/api/alerts")).json()["alerts"]
    return [a for a in found if a["rule"] == rule and a["subject"] == subject]


async def resolved(http: httpx.AsyncClient, rule: str, subject: str) -> bool:
    found = await alerts(http, rule, subject)
    return bool(found) and found[0]["state"] == "resolved"


@pytest.mark.usefixtures("both_stores")      # alerts and availability on SQLite and PostgreSQL
async def test_unwatched_cameras_are_probed(simulator: SimProcess, tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    config = health_config(tmp_path / "data", None)
    config.cameras = [
        CameraConfig(id=f"cam{k}", name=f"Quầy {k}", main_url=simulator.url(k, "main", auth=False),
                     username=simulator.user, password=password, province=province)
        for k, province, password in ((1, "Hà Nội", simulator.password),
                                      (2, "Hà Nội", simulator.password),
                                      (3, "Đà Nẵng", WRONG))]
    config.alerts.probe_s, config.alerts.probe_timeout_s = PROBE_S, 1.0
    async with start_live_server(config) as server, server.client() as http:
        await server.login(http)
        try:
            # idle and reachable: ok on the board, online in its province's figure
            cam1 = await wait_until(lambda: probed(http, "cam1", "ok"), 15, "cam1 probed")
            await wait_until(lambda: probed(http, "cam2", "ok"), 5, "cam2 probed")
            assert (cam1["state"], cam1["detail"]["stream_state"]) == ("ok", "idle")
            assert cam1["detail"]["probe"]["at"].endswith("+07:00")
            [hanoi] = [p for p in (await board(http))["provinces"] if p["province"] == "HA-NOI"]
            assert hanoi["cameras"]["online"] == 2 and hanoi["cameras"]["observed"] == 2
            # a stored wrong password: down, with its reason, and camera_lost says it
            cam3 = await wait_until(lambda: probed(http, "cam3", "wrong_password"), 10,
                                    "cam3's wrong password")
            assert cam3["state"] == "down"
            [lost3] = await wait_until(lambda: alerts(http, "camera_lost", "cam3"), LOST_S + 10,
                                       "camera_lost for cam3")
            assert "wrong_password" in lost3["detail_en"] and lost3["province"] == "DA-NANG"

            stopped = time.monotonic()
            simulator.fault(1, "reboot", seconds=60)
            [lost] = await wait_until(lambda: alerts(http, "camera_lost", "cam1"),
                                      LOST_S + PROBE_S + 10, "camera_lost for unwatched cam1")
            took = time.monotonic() - stopped
            assert took >= LOST_S and lost["state"] == "raised"
            assert "unreachable" in lost["detail_en"]
            # 1 of Hà Nội's 2 cameras online (50% < 80%): the province rule sees it too
            await wait_until(lambda: alerts(http, "province_cameras_low", "HA-NOI"), 10,
                             "province_cameras_low for Hà Nội")
            simulator.fault(1, "clear")
            await wait_until(lambda: resolved(http, "camera_lost", "cam1"), 20,
                             "camera_lost resolved")
            await wait_until(lambda: resolved(http, "province_cameras_low", "HA-NOI"), 20,
                             "province_cameras_low resolved")
            assert not await alerts(http, "camera_lost", "cam2")
            # idle reachable time counts as available
            avail = (await http.get("/api/health/availability", params={"days": 1})).json()
            [cam2] = [c for c in avail["cameras"] if c["camera"] == "cam2"]
            assert cam2["days"][0]["up_s"] > 0
        finally:
            simulator.fault(1, "clear")
    assert WRONG not in caplog.text and simulator.password not in caplog.text


async def test_probes_are_spread_and_bounded(tmp_path: Path) -> None:
    """Six idle cameras at a real listener that accepts and never answers: probes start a gap
    apart (probe_s / 6), never more than probe_concurrency at once, each ends at its timeout."""
    opened: list[float] = []
    open_now, most = 0, 0

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, most
        opened.append(time.monotonic())
        open_now += 1
        most = max(most, open_now)
        try:
            await reader.read()                    # until the prober gives up and closes
        finally:
            open_now -= 1
            writer.close()

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    config = health_config(tmp_path / "data", None)
    config.cameras = [CameraConfig(id=f"c{k}", name=f"C{k}", province="Huế",
                                   main_url=f"rtsp://127.0.0.1:{port}/c{k}")
                      for k in range(6)]
    a = config.alerts
    a.probe_s, a.probe_timeout_s, a.probe_concurrency = 1.2, 1.0, 2
    try:
        async with start_live_server(config) as server, server.client() as http:
            await server.login(http)
            await wait_until(lambda: len(opened) >= 4, 15, "four probes")
            await wait_until(lambda: probed(http, "c0", "unreachable"), 10, "c0 unreachable")
        assert most == 2, f"{most} probes at once"
        assert opened[1] - opened[0] >= 0.1, "the first two probes started together"
    finally:
        listener.close()
        await listener.wait_closed()
