"""Shared pieces of the registry tests: a live server with a media server, a recording
HTTP client (every response body is kept, to scan for secrets), and WHEP through HTTP."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from iocwall.wall.config import Config, WebRTCConfig
from tests.fixtures.app import LiveServer, make_config, start_live_server
from tests.streams_helpers import fast_streams
from tests.whep_client import Viewer


def registry_config(data_dir: Path) -> Config:
    config = make_config(data_dir)
    config.streams = fast_streams()
    config.webrtc = WebRTCConfig(ice_addresses=["127.0.0.1"])
    config.registry.test_seconds = 1.0
    config.registry.test_timeout_s = 2.0
    config.registry.discovery_timeout_s = 1.0
    return config


class Recorder:
    """Keeps every response body and header a client saw."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    async def hook(self, response: httpx.Response) -> None:
        await response.aread()
        self.seen.append(f"{response.request.method} {response.request.url} "
                         f"{response.status_code} {dict(response.headers)} {response.text}")

    def text(self) -> str:
        return "\n".join(self.seen)


@contextlib.asynccontextmanager
async def registry_server(tmp_path: Path, config: Config | None = None
                          ) -> AsyncIterator[LiveServer]:
    async with start_live_server(config or registry_config(tmp_path / "data")) as server:
        yield server


def recording_client(server: LiveServer, recorder: Recorder) -> httpx.AsyncClient:
    return server.client(event_hooks={"response": [recorder.hook]})


async def play(http: httpx.AsyncClient, camera: str, stream: str = "sub"
               ) -> tuple[Viewer, httpx.Response]:
    """Open a WHEP viewer through the HTTP API; the response tells refusals."""
    viewer = Viewer()
    holder: dict[str, httpx.Response] = {}

    async def post(sdp: str) -> str:
        response = await http.post(f"/api/cameras/{camera}/whep/{stream}", content=sdp,
                                    headers={"Content-Type": "application/sdp"})
        holder["r"] = response
        if response.status_code != 201:
            raise RuntimeError(response.text)
        return response.text

    try:
        await viewer.play(post)
    except RuntimeError:
        await viewer.close()
    return viewer, holder["r"]
