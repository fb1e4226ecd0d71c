"""The display page's fence (streams/leadership.py, Fence): an alarm from a leader older than
one it already heard (a leader paused while another took over) is refused.

A real `iocwall serve` on a real Redis bus relays to a display page in Debian's chromium what
leaders publish on the bus; the test publishes as two leaders would: epoch 3, then a paused
old leader with epoch 2.
"""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from iocwall.wall.bus import Event, EventKind, open_bus
from iocwall.wall.config import BusConfig
from iocwall.wall.walls.protocol import TOPIC_ALARM
from tests.fixtures.ports import free_port
from tests.fixtures.redis_server import RedisServer
from tests.test_wall_display_reconnect import serve as serve_config

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.redis,
              pytest.mark.timeout(120)]
PASSWORD = "Fence-Admin-Pass-1!"


@contextlib.contextmanager
def serve(data: Path, port: int, bus: BusConfig) -> Iterator[None]:
    config = data.parent / "config.toml"
    config.write_text(f'[server]\nhost = "127.0.0.1"\nport = {port}\ndata_dir = "{data}"\n'
                      '[logging]\nfile = ""\nlevel = "WARNING"\n[streams]\nprocesses = 1\n'
                      f'[auth]\nadmin_password = "{PASSWORD}"\n'
                      f'[bus]\nbackend = "redis"\nredis_url = "{bus.redis_url}"\n'
                      f'prefix = "{bus.prefix}"\n')
    with serve_config(config, port):
        yield


def publish(bus: BusConfig, epoch: int, alarm: int, name: str) -> None:
    """What a leader's alarm rule publishes when it raises an alarm."""
    async def send() -> None:
        sender = await open_bus(bus, f"leader-{epoch}")
        try:
            await sender.publish(TOPIC_ALARM, Event(TOPIC_ALARM, EventKind.ALERT, {
                "wall": "r", "state": "raised", "alarm": alarm, "rule": alarm, "name": name,
                "count": 9, "camera": "", "monitor": "1", "epoch": epoch}))
        finally:
            await sender.close()
    # the sync browser API runs an event loop in this thread: publish from another one
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, send()).result(10)


def test_display_page_refuses_an_older_leaders_alarm(chromium, tmp_path: Path,
                                                     redis_server: RedisServer) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    bus = BusConfig(backend="redis", redis_url=redis_server.url,
                    prefix=redis_server.fresh_prefix())
    context = chromium.new_context(viewport={"width": 800, "height": 400})
    try:
        with serve(tmp_path / "data", port, bus):
            http = httpx.Client(base_url=base, timeout=10)
            http.post("/api/login", json={"username": "admin", "password": PASSWORD})
            http.post("/api/walls", json={"id": "r", "name": "R", "columns": 1, "rows": 1,
                                          "monitors": ["1"]}).raise_for_status()
            http.put("/api/walls/r/monitors/1/layout", json={
                "name": "r", "grid": {"columns": 1, "rows": 1},
                "tiles": [{"id": "al", "kind": "alarms", "x": 0, "y": 0}]}).raise_for_status()
            page = context.new_page()
            page.request.post(base + "/api/login",
                              data={"username": "admin", "password": PASSWORD})
            page.goto(base + "/display/r/1")
            page.wait_for_selector("body[data-ready='1'][data-connected='1']")
            tile = "[data-tile='al']"

            def shows(text: str) -> None:
                page.wait_for_function("([sel, text]) => document.querySelector(sel)"
                                       ".textContent.includes(text)", arg=[tile, text],
                                       timeout=5000)

            publish(bus, 3, 1, "Mới / new")                     # the leader now: epoch 3
            shows("Mới / new: 9")
            publish(bus, 2, 2, "Cũ / stale")                    # a paused old leader wakes
            publish(bus, 3, 3, "Sau / later")                   # the leader again
            shows("Sau / later: 9")
            # two open alarms (1 and 3); the stale one was never shown or counted
            assert page.inner_text(tile).endswith("(+1)"), page.inner_text(tile)
            seen = page.evaluate("() => ({...document.body.dataset})")
            assert seen["epoch"] == "3" and seen["staleRefused"] == "1", seen
            publish(bus, 4, 4, "Mới hơn / newer")               # a newer leader is heard
            shows("Mới hơn / newer: 9")
            assert page.evaluate("() => document.body.dataset.epoch") == "4"
    finally:
        context.close()
