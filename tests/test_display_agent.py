"""The display-node agent: xrandr parsing, and a real run that pairs, opens one headless
chromium per monitor, restarts a killed one, and passes ``iocwall smoke display://``."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from iocwall.hardware.display.xrandr import Output, parse
from iocwall.wall.config import Config
from tests.fixtures.app import start_live_server
from tests.fixtures.browser import CHROMIUM
from tests.fixtures.ports import free_port
from tests.fixtures.tools import require_file
from tests.waiting import wait_until
from tests.wall_helpers import layout, make_wall, with_cameras

# xrandr --query output as xrandr prints it (written by us)
DATA = Path(__file__).parent / "captured"


def test_xrandr_two_monitors_skips_off_and_disconnected() -> None:
    outputs = parse((DATA / "xrandr_two_monitors.txt").read_text())
    assert outputs == [Output("HDMI-1", 1920, 1080, 0, 0, primary=True),
                       Output("DP-1", 1920, 1080, 1920, 0)]


def test_xrandr_rotated_monitor_in_screen_order() -> None:
    outputs = parse((DATA / "xrandr_rotated.txt").read_text())
    assert [(o.name, o.width, o.height, o.x, o.y, o.primary) for o in outputs] == [
        ("DP-3", 1080, 1920, 0, 0, False), ("DVI-D-0", 1920, 1080, 1080, 420, True)]
    assert parse("") == [] and parse("garbage\nmore garbage") == []


def _smoke(port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iocwall.wall.cli", "smoke", "--json",
                           f"display://127.0.0.1:{port}"], capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_agent_pairs_opens_a_window_per_monitor_and_restarts_a_crash(
        app_config: Config, tmp_path: Path) -> None:
    require_file("chromium", CHROMIUM)        # missing: a failure, as everywhere in the suite
    async with start_live_server(with_cameras(app_config)) as server, server.client() as http:
        await server.login(http)
        await make_wall(http)
        clock = {"id": "c", "kind": "clock", "x": 0, "y": 0, "w": 2, "h": 2}
        for monitor in ("1", "2"):
            await http.put(f"/api/walls/w1/monitors/{monitor}/layout", json=layout(clock))
        health_port = free_port()
        agent = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "iocwall.wall.cli", "display-agent", "--controller", server.url,
            "--xrandr-file", str(DATA / "xrandr_two_monitors.txt"),
            "--state-dir", str(tmp_path / "agent"), "--browser", CHROMIUM,
            "--browser-arg=--headless=new", "--browser-arg=--no-sandbox",
            "--browser-arg=--disable-gpu", "--health-host", "127.0.0.1",
            "--health-port", str(health_port),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            async def pending():  # type: ignore[no-untyped-def]
                return (await http.get("/api/display/pairings")).json()
            code = (await wait_until(pending, 30, "the agent asks to pair", step=0.2))[0]["code"]
            r = await http.post(f"/api/display/pairings/{code}/approve",
                                json={"wall": "w1", "monitors": {"1": "HDMI-1", "2": "DP-1"}})
            assert r.status_code == 200

            async def both_up():  # type: ignore[no-untyped-def]
                nodes = (await http.get("/api/walls/w1")).json()["nodes"]
                up = {n["monitor"] for n in nodes if n["status"] == "up"}
                return up == {"1", "2"} and nodes
            nodes = await wait_until(both_up, 60, "both monitors up", step=0.2)
            assert {n["node"] for n in nodes} == {r.json()["node"]}      # its display session
            state = json.loads((tmp_path / "agent" / "agent.json").read_text())
            assert state["token"].startswith("iwt_")
            assert oct((tmp_path / "agent" / "agent.json").stat().st_mode & 0o777) == "0o600"

            async with httpx.AsyncClient() as probe:
                health = (await probe.get(f"http://127.0.0.1:{health_port}/health")).json()
            assert [w["output"] for w in health["windows"]] == ["HDMI-1", "DP-1"]
            assert all(w["alive"] for w in health["windows"]) and health["controller_ok"]
            run = await asyncio.to_thread(_smoke, health_port)
            assert run.returncode == 0, run.stdout + run.stderr
            assert json.loads(run.stdout)["summary"]["result"] == "PASS"

            os.kill(health["windows"][1]["pid"], signal.SIGKILL)            # the window crashes

            async def restarted():  # type: ignore[no-untyped-def]
                async with httpx.AsyncClient() as probe:
                    h = (await probe.get(f"http://127.0.0.1:{health_port}/health")).json()
                return h["windows"][1]["restarts"] == 1 and h["windows"][1]["alive"] and h
            await wait_until(restarted, 20, "the crashed window restarted", step=0.2)
            await wait_until(both_up, 30, "monitor 2 back", step=0.2)   # its page is back
            run = await asyncio.to_thread(_smoke, health_port)
            assert json.loads(run.stdout)["summary"]["result"] == "WARN"   # restarted once
        finally:
            agent.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(agent.wait(), 20)
            except TimeoutError:
                os.killpg(agent.pid, signal.SIGKILL)
                await asyncio.wait_for(agent.wait(), 5)


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_agent_pairs_again_when_its_pairing_expires(
        app_config: Config, tmp_path: Path) -> None:
    """Pairings expire (15 min unapproved): the agent asks for a new code, it does not quit."""
    require_file("chromium", CHROMIUM)        # missing: a failure, as everywhere in the suite
    async with start_live_server(with_cameras(app_config)) as server, server.client() as http:
        await server.login(http)
        agent = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "iocwall.wall.cli", "display-agent", "--controller", server.url,
            "--xrandr-file", str(DATA / "xrandr_two_monitors.txt"),
            "--state-dir", str(tmp_path / "agent"), "--browser", CHROMIUM,
            "--browser-arg=--headless=new", "--browser-arg=--no-sandbox",
            "--browser-arg=--disable-gpu", "--health-host", "127.0.0.1",
            "--health-port", str(free_port()),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            async def pending():  # type: ignore[no-untyped-def]
                return (await http.get("/api/display/pairings")).json()
            first = (await wait_until(pending, 30, "the agent asks to pair", step=0.2))[0]
            await server.services.store.execute(
                "UPDATE display_nodes SET expires = 0 WHERE id = ?", (first["node"],))

            async def another():  # type: ignore[no-untyped-def]
                return [p for p in await pending() if p["node"] != first["node"]]
            second = (await wait_until(another, 30, "a new pairing after expiry", step=0.2))[0]
            assert second["code"] != first["code"] and agent.returncode is None
        finally:
            agent.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(agent.wait(), 20)
            except TimeoutError:
                os.killpg(agent.pid, signal.SIGKILL)
                await asyncio.wait_for(agent.wait(), 5)
