"""The display-node agent: pair once, then keep one kiosk window per monitor running.

State (node id, poll secret, token, wall, monitors) lives in a JSON file readable by
the agent's user only, so a restarted PC comes back on its monitors without pairing.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from iocwall.hardware.display.kiosk import Kiosks, Window
from iocwall.hardware.display.xrandr import Output

log = logging.getLogger(__name__)
POLL_S = 2.0


def _retry_after(response: httpx.Response) -> float:
    try:
        return min(300.0, max(1.0, float(response.headers.get("Retry-After", "10"))))
    except ValueError:
        return 10.0


@dataclass
class AgentState:
    node: str = ""
    secret: str = ""
    token: str = ""
    wall: str = ""
    monitors: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> AgentState:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except (OSError, ValueError, TypeError):
            return cls()

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(vars(self), out)
        tmp.replace(path)


class Agent:
    def __init__(self, controller: str, outputs: list[Output], state_file: Path,
                 kiosks: Kiosks, profiles: Path) -> None:
        self.controller = controller.rstrip("/")
        self.outputs = outputs
        self.state_file = state_file
        self.state = AgentState.load(state_file)
        self.kiosks = kiosks
        self.profiles = profiles
        self.started = time.monotonic()
        self.code = ""

    async def pair(self, http: httpx.AsyncClient) -> None:
        """Until approved: show a code on the first monitor, poll for the token. A pairing
        the controller forgets (expired, revoked: 404) starts over with a new code."""
        while not await self._pair_once(http):
            self.state = AgentState()
            self.state.save(self.state_file)
            log.warning("the controller forgot this pairing (expired?); pairing again")

    async def _pair_once(self, http: httpx.AsyncClient) -> bool:
        if not self.state.node:
            while (r := await http.post("/api/display/pair", json={
                    "name": socket.gethostname()})).status_code in (429, 503):
                await asyncio.sleep(_retry_after(r))        # rate-limited or full: as asked
            r.raise_for_status()
            data = r.json()
            self.state = AgentState(node=data["node"], secret=data["secret"])
            self.state.save(self.state_file)
            self.code = data["code"]
        log.info("pairing code / mã ghép nối: %s", self.code or "(shown before)")
        first = self.outputs[0]
        self.kiosks.start([Window(first, f"{self.controller}/pair#code={self.code}",
                                  self.profiles / "pair")])
        try:
            while True:
                r = await http.post(f"/api/display/pair/{self.state.node}/poll",
                                    json={"secret": self.state.secret})
                if r.status_code == 404:          # forgotten, expired or revoked
                    return False
                answer = r.json()
                if answer["token"]:
                    self.state.token, self.state.wall = answer["token"], answer["wall"]
                    self.state.monitors = answer["monitors"]
                    self.state.save(self.state_file)
                    return True
                await asyncio.sleep(POLL_S)
        finally:
            await self.kiosks.stop()

    def windows(self) -> list[Window]:
        """One window per bound monitor, on the output named at approval (else in order)."""
        by_name = {o.name: o for o in self.outputs}
        windows = []
        for i, monitor in enumerate(self.state.monitors):
            output = by_name.get(monitor.get("output", "")) or self.outputs[i % len(self.outputs)]
            to = f"/display/{quote(self.state.wall)}/{quote(monitor['id'])}"
            url = f"{self.controller}/pair#token={self.state.token}&to={to}"
            windows.append(Window(output, url, self.profiles / f"monitor-{monitor['id']}"))
        return windows

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self.controller, timeout=10) as http:
            if not self.state.token:
                await self.pair(http)
        self.kiosks.start(self.windows())
        await stop.wait()
        await self.kiosks.stop()

    async def health(self) -> dict[str, Any]:
        controller_ok = False
        try:
            async with httpx.AsyncClient(timeout=3) as http:
                controller_ok = (await http.get(f"{self.controller}/healthz")).status_code == 200
        except httpx.HTTPError:
            pass
        return {"agent": "iocwall-display-agent", "node": self.state.node,
                "paired": bool(self.state.token), "wall": self.state.wall,
                "controller": self.controller, "controller_ok": controller_ok,
                "uptime_s": round(time.monotonic() - self.started, 1),
                "outputs": [vars(o) for o in self.outputs],
                "windows": [w.health() for w in self.kiosks.windows]}


async def serve_health(agent: Agent, host: str, port: int) -> asyncio.Server:
    """A tiny HTTP endpoint (GET /health) for ``iocwall smoke display://host:port``."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                request = await reader.readline()
            while True:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a
                # cancellation that lands as a line arrives, and this loop would read on
                async with asyncio.timeout(5):
                    line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
            if request.split(b" ")[:2] == [b"GET", b"/health"]:
                body, status = json.dumps(await agent.health()).encode(), "200 OK"
            else:
                body, status = b'{"error": "not found"}', "404 Not Found"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                         + body)
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()
    return await asyncio.start_server(handle, host, port)
