"""Shared pieces of the streams tests: a media server on simulated cameras, a viewer."""
from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass

from iocwall.streams.server import MediaServer
from iocwall.streams.settings import StreamSettings
from iocwall.wall.config import StreamsConfig, WebRTCConfig, stream_settings
from tests.waiting import seconds_until
from tests.whep_client import Viewer


@dataclass
class Cam:
    id: str
    name: str
    main_url: str
    sub_url: str
    username: str
    password: str
    location: str = ""


def sim_cameras(sim, count: int) -> list[Cam]:  # noqa: ANN001
    """The simulator's cameras as config entries; credentials given separately, like config."""
    return [Cam(f"cam{k}", f"Camera {k}", sim.url(k, "main", auth=False),
                sim.url(k, "sub", auth=False), sim.user, sim.password, f"Quầy {k}")
            for k in range(1, count + 1)]


def fast_streams(**over: object) -> StreamsConfig:
    values: dict[str, object] = dict(
        linger_s=1.0, stall_timeout_s=2.0, lost_timeout_s=4.0, open_timeout_s=4.0,
        reconnect_min_s=0.2, reconnect_max_s=2.0, snapshot_cache_s=1.0)
    if os.environ.get("IOCWALL_TEST_INGEST"):   # pyav | rtp: the same tests on either ingest
        values["ingest"] = os.environ["IOCWALL_TEST_INGEST"]
    values.update(over)
    return StreamsConfig(**values)


def fast_settings(streams: StreamsConfig | None = None, **over: object) -> StreamSettings:
    """The media settings of ``streams`` (default: fast_streams(**over)), ICE on loopback,
    made the way the server makes them (wall.config.stream_settings)."""
    return stream_settings(streams or fast_streams(**over),
                           WebRTCConfig(ice_addresses=["127.0.0.1"]))


@contextlib.asynccontextmanager
async def media_server(cams: list[Cam], streams: StreamsConfig | None = None,
                       **kw: object) -> AsyncIterator[MediaServer]:
    media = MediaServer(fast_settings(streams), cams, **kw)  # type: ignore[arg-type]
    await media.start()
    try:
        yield media
    finally:
        await asyncio.wait_for(media.stop(), 10)


@contextlib.asynccontextmanager
async def viewing(media: MediaServer, camera: str, stream: str,
                  read_stamps: bool = False, user: str = "") -> AsyncIterator[Viewer]:
    viewer = Viewer(read_stamps=read_stamps)

    async def post(sdp: str) -> str:
        session, answer = await media.whep_offer(camera, stream, sdp, user)
        viewer.session = session  # type: ignore[attr-defined]
        return answer

    try:
        await viewer.play(post)
        yield viewer
    finally:
        await viewer.close()


async def wait_state(media: MediaServer, camera: str, stream: str, states: set,
                     timeout: float) -> float:
    """Seconds until the stream's state is one of ``states``; fails after ``timeout``."""
    return await seconds_until(lambda: media.channel(camera, stream).health.state in states,
                               timeout, f"{camera}/{stream} in {sorted(s.value for s in states)}",
                               step=0.02)
