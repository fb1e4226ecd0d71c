"""Helpers for the wall tests: a server with cameras, a wall, and display WebSocket clients."""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import websockets

from iocwall.wall.config import CameraConfig, Config
from tests.waiting import wait_until

CAMERAS = ("cam-1", "cam-2", "cam-3")


def with_cameras(config: Config) -> Config:
    # Cameras are only pulled when someone watches; these tests never open video.
    config.cameras = [CameraConfig(id=c, name=c, main_url=f"rtsp://127.0.0.1:9/{c}")
                      for c in CAMERAS]
    config.wall.heartbeat_timeout_s = 1.5
    return config


def tile(tid: str, x: int, y: int, camera: str = "cam-1", **extra: Any) -> dict[str, Any]:
    return {"id": tid, "kind": "camera", "camera": camera, "x": x, "y": y, "w": 1, "h": 1,
            **extra}


def layout(*tiles: dict[str, Any], name: str = "l") -> dict[str, Any]:
    return {"name": name, "grid": {"columns": 2, "rows": 2}, "tiles": list(tiles)}


async def make_wall(http: httpx.AsyncClient, wall: str = "w1") -> None:
    r = await http.post("/api/walls", json={"id": wall, "name": "Wall", "columns": 2, "rows": 1,
                                            "monitors": ["1", "2"]})
    assert r.status_code == 201, r.text


@dataclass
class Display:
    """A simulated display node: applies every layout, acks it, beats each 0.3 s."""
    ws: Any
    layouts: list[dict[str, Any]] = field(default_factory=list)
    alarms: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    beating: bool = True
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def run(self) -> None:
        async for text in self.ws:
            message = json.loads(text)
            if message["type"] == "layout":
                self.layouts.append(message)
                version = (message["layout"] or {}).get("version", 0)
                await self.ws.send(json.dumps({"type": "ack", "push_id": message["push_id"],
                                               "version": version}))
            elif message["type"] == "alarm":
                self.alarms.append(message)
            elif message["type"] == "error":
                self.errors.append(message)

    async def beat(self) -> None:
        while True:
            if self.beating:
                await self.ws.send(json.dumps({"type": "heartbeat", "health": {
                    "tiles": {"a": {"fps": 15.0, "dropped": 1, "stream": "sub",
                                    "playing": True}}, "memory_mb": 80, "uptime_s": 3}}))
            await asyncio.sleep(0.3)        # the heartbeat period, not a wait for anything

    async def wait_layouts(self, count: int, timeout: float = 5.0) -> dict[str, Any]:
        await wait_until(lambda: len(self.layouts) >= count, timeout, f"layout message {count}",
                         step=0.02)
        return self.layouts[-1]

    async def close(self) -> None:
        for task in self._tasks:
            if task.done() and not task.cancelled():
                task.exception()        # e.g. the server closed the socket: seen, not leaked
            task.cancel()
        await self.ws.close()


async def open_display(base: str, wall: str, monitor: str, cookies: dict[str, str],
                       screen: tuple[int, int] | None = None) -> Display:
    """``screen``: the page's size in device pixels, sent as the display page sends it."""
    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    url = base.replace("http://", "ws://") + f"/ws/display/{wall}/{monitor}"
    if screen is not None:
        url += f"?w={screen[0]}&h={screen[1]}"
    ws = await websockets.connect(url, additional_headers={"Cookie": cookie})
    display = Display(ws)
    display._tasks = [asyncio.create_task(display.run()), asyncio.create_task(display.beat())]
    return display
