"""HTTPS: served by `iocwall serve` itself, and by the shipped HAProxy configuration
(deploy/haproxy/iocwall.cfg, Debian's haproxy) in front of two real controllers that share
one store: TLS ends at the proxy, a session made through one controller works on the other,
a display's WebSocket passes through, and a controller that stops is taken out while
requests keep succeeding."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import websockets

from iocwall.wall.config import Config
from iocwall.wall.tls import TlsError, load_tls
from tests.fixtures.app import ADMIN_PASSWORD, LiveServer, make_config, start_live_server
from tests.fixtures.ports import free_port
from tests.fixtures.tls import SelfSigned, self_signed
from tests.waiting import wait_until
from tests.wall_helpers import make_wall

ROOT = Path(__file__).resolve().parents[1]
HAPROXY_CFG = ROOT / "deploy" / "haproxy" / "iocwall.cfg"



@pytest.fixture(autouse=True)
def _haproxy_installed() -> None:
    assert shutil.which("haproxy"), "haproxy is missing: apt-get install haproxy " \
        "(make setup installs it)"


def test_the_shipped_configuration_is_valid(tmp_path: Path) -> None:
    certs = self_signed(tmp_path)
    env = {**os.environ, "IOCWALL_LB_BIND": "127.0.0.1:1", "IOCWALL_LB_PEM": str(certs.pem),
           "IOCWALL_CONTROLLER_1": "127.0.0.1:2", "IOCWALL_CONTROLLER_2": "127.0.0.1:3"}
    done = subprocess.run(["haproxy", "-c", "-f", str(HAPROXY_CFG)], env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


async def test_serve_answers_https_from_its_own_certificate(tmp_path: Path) -> None:
    certs = self_signed(tmp_path / "tls")
    config = make_config(tmp_path / "data")
    config.server.tls_cert, config.server.tls_key = str(certs.cert), str(certs.key)
    async with start_live_server(config) as server:
        assert server.info.url.startswith("https://")
        base = f"https://127.0.0.1:{server.info.port}"
        async with httpx.AsyncClient(base_url=base, verify=certs.client_context()) as http:
            assert (await http.get("/healthz")).status_code == 200
            r = await http.post("/api/login", json={"username": "admin",
                                                    "password": ADMIN_PASSWORD})
            assert r.status_code == 200
            assert "secure" in r.headers["set-cookie"].lower()
            assert "max-age=" in r.headers["strict-transport-security"]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.info.port}") as plain:
            with pytest.raises(httpx.HTTPError):      # no plain HTTP on the TLS port
                await plain.get("/healthz")


def test_a_bad_certificate_setting_is_one_clear_line(tmp_path: Path) -> None:
    certs, other = self_signed(tmp_path / "a"), self_signed(tmp_path / "b")
    with pytest.raises(TlsError, match="set both or neither"):
        load_tls(str(certs.cert), "", tmp_path)
    with pytest.raises(TlsError, match="no such file"):
        load_tls("missing.pem", str(certs.key), tmp_path)
    with pytest.raises(TlsError, match="not a usable certificate and key pair"):
        load_tls(str(certs.cert), str(other.key), tmp_path)
    loaded = load_tls("a/cert.pem", "a/key.pem", tmp_path)       # relative to data_dir
    assert loaded is not None and loaded.not_after.utcoffset().total_seconds() == 7 * 3600
    assert abs((loaded.not_after - certs.not_after).total_seconds()) < 1
    assert load_tls("", "", tmp_path) is None


@contextlib.contextmanager
def _haproxy(certs: SelfSigned, port: int, controllers: list[int]) -> Iterator[None]:
    env = {**os.environ, "IOCWALL_LB_BIND": f"127.0.0.1:{port}", "IOCWALL_LB_PEM": str(certs.pem),
           "IOCWALL_CONTROLLER_1": f"127.0.0.1:{controllers[0]}",
           "IOCWALL_CONTROLLER_2": f"127.0.0.1:{controllers[1]}"}
    proc = subprocess.Popen(["haproxy", "-db", "-f", str(HAPROXY_CFG)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _controller_config(data: Path, lb_port: int) -> Config:
    config = make_config(data)
    config.server.trusted_proxies = ["127.0.0.1"]
    config.server.public_url = f"https://127.0.0.1:{lb_port}/"
    return config


async def _display_controller(servers: list[LiveServer]) -> int:
    """Which controller holds the one open display socket."""
    holding = [i for i, s in enumerate(servers) if s.services.wall.controller.links()]
    assert len(holding) == 1, holding
    return holding[0]


async def test_haproxy_terminates_tls_and_survives_a_controller(tmp_path: Path) -> None:
    certs, lb_port = self_signed(tmp_path / "tls"), free_port()
    starters = [start_live_server(_controller_config(tmp_path / "data", lb_port))
                for _ in range(2)]
    running: list[int] = []
    try:
        servers = []
        for k, starter in enumerate(starters):
            servers.append(await starter.__aenter__())
            running.append(k)
        with _haproxy(certs, lb_port, [s.info.port for s in servers]):
            async with httpx.AsyncClient(base_url=f"https://127.0.0.1:{lb_port}",
                                         verify=certs.client_context(), timeout=10) as http:
                await _through_the_proxy(http, certs, lb_port, servers, starters, running)
    finally:
        for k in reversed(running):
            await starters[k].__aexit__(None, None, None)


async def _through_the_proxy(http: httpx.AsyncClient, certs: SelfSigned, lb_port: int,
                             servers: list[LiveServer], starters: list, running: list[int]) -> None:  # type: ignore[type-arg]
    async def up() -> str | bool:
        try:
            r = await http.get("/healthz")
        except httpx.HTTPError as exc:
            return f"not yet: {exc!r}" and False
        return r.status_code == 200 or (f"{r.status_code} {r.text[:200]}" and False)
    await wait_until(up, 15, "HAProxy answering over TLS")
    r = await http.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 200, r.text
    assert "secure" in r.headers["set-cookie"].lower()
    await make_wall(http)
    # The session lives in the shared store: every request succeeds, whichever controller.
    for _ in range(10):
        assert (await http.get("/api/me")).status_code == 200

    cookie = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    ws_url = f"wss://127.0.0.1:{lb_port}/ws/display/w1/1"
    tls = certs.client_context()
    async with websockets.connect(ws_url, ssl=tls, additional_headers={"Cookie": cookie}) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "layout"
        holder = await _display_controller(servers)
        running.remove(holder)                     # stop the controller holding the display
        await starters[holder].__aexit__(None, None, None)
        with pytest.raises(websockets.ConnectionClosed):
            while True:                            # drains anything sent before the close
                await asyncio.wait_for(ws.recv(), 10)
    # Every following request succeeds: HAProxy retries on the survivor, then marks it down.
    for _ in range(20):
        r = await http.get("/api/me")
        assert r.status_code == 200, r.text
    async with websockets.connect(ws_url, ssl=tls, additional_headers={"Cookie": cookie}) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "layout"
        assert servers[running[0]].services.wall.controller.links()    # on the survivor
