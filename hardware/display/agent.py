"""The display-node agent: pair once, then keep one kiosk window per monitor running.

State (node id, poll secret, token, wall, monitors) lives in a JSON file readable by
the agent's user only, so a restarted PC comes back on its monitors without pairing.

It knows one or more controller URLs (a site with several controllers and no load
balancer in front lists them all). It watches the one its windows use (GET /healthz every
second; 503 "degraded" still counts as alive, as HAProxy counts it); after two failed
checks (the second 0.25 s after the first) it moves to the next controller that answers
and reopens its windows there (the display token is in the shared store, so any
controller swaps it for a session). Until then the pages keep their layout and playing
video and show their "server connection lost" mark.
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
WATCH_S = 1.0             # how often the current controller is checked
RECHECK_S = 0.25          # ... and again this soon after a failed check
WATCH_FAILS = 2           # failed checks in a row before moving to another controller
CHECK_TIMEOUT_S = 1.0


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


async def _alive(http: httpx.AsyncClient, base: str) -> bool:
    """The controller at ``base`` answers /healthz (200, or 503 while its store or bus
    is degraded: it still serves pages and layouts)."""
    try:
        r = await http.get(f"{base}/healthz", timeout=CHECK_TIMEOUT_S)
    except httpx.HTTPError:
        return False
    return r.status_code in (200, 503)


class Agent:
    def __init__(self, controllers: list[str] | str, outputs: list[Output], state_file: Path,
                 kiosks: Kiosks, profiles: Path) -> None:
        """controllers: the controller URLs to use, first one first (a single URL is a list
        of one); the others are tried in order when the current one fails."""
        listed = [controllers] if isinstance(controllers, str) else list(controllers)
        self.controllers = [c.rstrip("/") for c in listed if c.strip()]
        if not self.controllers:
            raise ValueError("at least one controller URL is needed")
        self.current = 0
        self.failovers = 0
        self.outputs = outputs
        self.state_file = state_file
        self.state = AgentState.load(state_file)
        self.kiosks = kiosks
        self.profiles = profiles
        self.started = time.monotonic()
        self.code = ""

    @property
    def controller(self) -> str:
        """The controller URL the windows use now."""
        return self.controllers[self.current]

    async def next_alive(self, http: httpx.AsyncClient) -> int | None:
        """The index of the first controller after the current one (wrapping round,
        the current one last) that answers; None when none does."""
        n = len(self.controllers)
        for step in range(1, n + 1):
            k = (self.current + step) % n
            if await _alive(http, self.controllers[k]):
                return k
        return None

    async def pair(self, http: httpx.AsyncClient) -> None:
        """Until approved: show a code on the first monitor, poll for the token. A pairing
        the controller forgets (expired, revoked: 404) starts over with a new code."""
        while not await self._pair_once(http):
            self.state = AgentState()
            self.state.save(self.state_file)
            log.warning("the controller forgot this pairing (expired?); pairing again")

    async def _post(self, http: httpx.AsyncClient, path: str, body: dict[str, Any]
                    ) -> httpx.Response:
        """POST to the current controller; one that cannot be reached is left for the next
        that answers (a pairing lives in the shared store: any controller goes on with it)."""
        while True:
            try:
                return await http.post(f"{self.controller}{path}", json=body)
            except httpx.TransportError as exc:
                log.warning("controller %s unreachable (%s)", self.controller, exc)
                k = await self.next_alive(http)
                if k is None:
                    await asyncio.sleep(WATCH_S)
                else:
                    self.current = k

    async def _pair_once(self, http: httpx.AsyncClient) -> bool:
        if not self.state.node:
            while (r := await self._post(http, "/api/display/pair", {
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
                r = await self._post(http, f"/api/display/pair/{self.state.node}/poll",
                                     {"secret": self.state.secret})
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
        async with httpx.AsyncClient(timeout=10) as http:
            if not self.state.token:
                await self.pair(http)
            self.kiosks.start(self.windows())
            watch = asyncio.create_task(self._watch(http), name="controller-watch")
            try:
                await stop.wait()
            finally:
                watch.cancel()
                await asyncio.wait({watch})
                await self.kiosks.stop()

    async def _watch(self, http: httpx.AsyncClient) -> None:
        """Move the windows to another controller when the current one stops answering."""
        fails = 0
        while True:
            await asyncio.sleep(RECHECK_S if fails else WATCH_S)
            if await _alive(http, self.controller):
                fails = 0
                continue
            fails += 1
            if fails < WATCH_FAILS or len(self.controllers) == 1:
                continue                  # alone: the pages reconnect by themselves
            k = await self.next_alive(http)
            if k is None or k == self.current:
                continue
            log.warning("controller %s is not answering; moving to %s",
                        self.controller, self.controllers[k])
            self.current, fails = k, 0
            self.failovers += 1
            await self.kiosks.stop()
            self.kiosks.start(self.windows())

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
                "controllers": self.controllers, "failovers": self.failovers,
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
