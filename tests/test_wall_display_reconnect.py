"""The display page outlives its controller: it keeps its last layout while the server is
down and, once the server is back, reconnects and follows pushes again within 3 s."""
from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.ports import free_port
from tests.waiting import wait_until_sync

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(180)]
PASSWORD = "Reconnect-Admin-1!"
RECONNECT_S = 3.0


def _config(data: Path, port: int) -> Path:
    path = data / "config.toml"
    path.write_text(f'[server]\nhost = "127.0.0.1"\nport = {port}\ndata_dir = "{data}"\n'
                    f'[logging]\nfile = ""\nlevel = "WARNING"\n'
                    f'[auth]\nadmin_password = "{PASSWORD}"\n')
    return path


@contextlib.contextmanager
def serve(config: Path, port: int) -> Iterator[None]:
    proc = subprocess.Popen([sys.executable, "-m", "iocwall.wall.cli", "serve", "--config",
                             str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def healthy() -> bool:
            with contextlib.suppress(httpx.HTTPError):
                return httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
            return False
        wait_until_sync(healthy, 30, "iocwall serve healthy", step=0.05)
        yield
    finally:
        proc.terminate()
        proc.wait(30)


def text_layout(text: str) -> dict:
    return {"name": "r", "grid": {"columns": 2, "rows": 1}, "tiles": [
        {"id": "t", "kind": "text", "text": text, "x": 0, "y": 0},
        {"id": "c", "kind": "clock", "x": 1, "y": 0}]}


def test_display_keeps_layout_while_away_and_reconnects(chromium, tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = _config(tmp_path, port)
    context = chromium.new_context(viewport={"width": 800, "height": 400})
    try:
        page = context.new_page()
        with serve(config, port):
            http = httpx.Client(base_url=base, timeout=10)
            http.post("/api/login", json={"username": "admin", "password": PASSWORD})
            http.post("/api/walls", json={"id": "r", "name": "R", "columns": 1, "rows": 1,
                                          "monitors": ["1"]}).raise_for_status()
            http.put("/api/walls/r/monitors/1/layout", json=text_layout("trước / before"))
            page.request.post(base + "/api/login",
                              data={"username": "admin", "password": PASSWORD})
            page.goto(base + "/display/r/1")
            page.wait_for_selector("body[data-ready='1'][data-connected='1']")
            assert page.inner_text("[data-tile='t']") == "trước / before"
        # the controller is gone: the page keeps its layout and says it is retrying
        page.wait_for_selector("body[data-connected='0']")
        time.sleep(1.0)            # time passing is the test: the layout stays meanwhile
        assert page.inner_text("[data-tile='t']") == "trước / before"
        assert page.is_visible("#status")
        assert page.inner_text("#status").endswith(
            "Mất kết nối máy chủ — đang kết nối lại / Server connection lost — reconnecting")
        with serve(config, port):
            back = time.monotonic()
            page.wait_for_selector("body[data-connected='1']", timeout=RECONNECT_S * 1000)
            reconnect_s = time.monotonic() - back
            http = httpx.Client(base_url=base, timeout=10)
            http.post("/api/login", json={"username": "admin", "password": PASSWORD})
            r = http.put("/api/walls/r/monitors/1/layout?wait=3", json=text_layout("sau / after"))
            assert r.json()["complete"], r.text
            page.wait_for_function("() => document.querySelector(\"[data-tile='t']\")"
                                   ".textContent === 'sau / after'", timeout=3000)
        assert reconnect_s < RECONNECT_S
        print(f"display reconnected {reconnect_s:.2f} s after the controller came back")
    finally:
        context.close()
