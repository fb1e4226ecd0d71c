"""Shared pieces of the streams tests: a media server on simulated cameras, a viewer."""
from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from iocwall.streams.server import MediaServer
from iocwall.wall.config import StreamsConfig, WebRTCConfig
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


def fast_streams(**over: float) -> StreamsConfig:
    values = dict(linger_s=1.0, stall_timeout_s=2.0, lost_timeout_s=4.0, open_timeout_s=4.0,
                  reconnect_min_s=0.2, reconnect_max_s=2.0, snapshot_cache_s=1.0)
    values.update(over)
    return StreamsConfig(**values)


@contextlib.asynccontextmanager
async def media_server(cams: list[Cam], **kw: object) -> AsyncIterator[MediaServer]:
    media = MediaServer(fast_streams(), WebRTCConfig(ice_addresses=["127.0.0.1"]), cams, **kw)
    await media.start()
    try:
        yield media
    finally:
        await asyncio.wait_for(media.stop(), 10)


@contextlib.asynccontextmanager
async def viewing(media: MediaServer, camera: str, stream: str,
                  read_stamps: bool = False) -> AsyncIterator[Viewer]:
    viewer = Viewer(read_stamps=read_stamps)

    async def post(sdp: str) -> str:
        session, answer = await media.whep_offer(camera, stream, sdp)
        viewer.session = session  # type: ignore[attr-defined]
        return answer

    try:
        await viewer.play(post)
        yield viewer
    finally:
        await viewer.close()


# -- a simulator process, until tests/fixtures/simulator.py provides the shared one ------------
SIM_CODE = """
import asyncio, sys
from pathlib import Path
from iocwall.hardware.sim.server import Simulator, SimOptions
async def main():
    n, rtsp, http, onvif = map(int, sys.argv[1:5])
    sim = Simulator(SimOptions(cameras=n, rtsp_port=rtsp, http_port=http, onvif_port=onvif,
                               user="admin", password="sim-pass", cache_dir=Path(sys.argv[5])))
    await sim.start()
    print("READY", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


class LocalSim:
    user, password = "admin", "sim-pass"

    def __init__(self, cameras: int, cache_dir: str) -> None:
        from tests.fixtures.ports import free_ports
        self.cameras = cameras
        self.rtsp_port, self.http_port, self.onvif_port = free_ports(3)
        self._cache = cache_dir
        self.proc = None

    def start(self) -> None:
        import subprocess
        import sys
        import time
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SIM_CODE, str(self.cameras), str(self.rtsp_port),
             str(self.http_port), str(self.onvif_port), self._cache],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if "READY" in line:
                return
            if not line and self.proc.poll() is not None:
                break
        self.stop()
        raise RuntimeError("simulator did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except Exception:
                self.proc.kill()
                self.proc.wait(5)

    def url(self, k: int, stream: str, auth: bool = True) -> str:
        cred = f"{self.user}:{self.password}@" if auth else ""
        return f"rtsp://{cred}127.0.0.1:{self.rtsp_port}/cam{k}/{stream}"

    def fault(self, camera: int, kind: str, seconds: float | None = None) -> None:
        import httpx
        body: dict = {"camera": f"cam{camera}", "fault": kind}
        if seconds is not None:
            body["seconds"] = seconds
        r = httpx.post(f"http://127.0.0.1:{self.http_port}/faults", json=body, timeout=5)
        r.raise_for_status()

    def clear_faults(self) -> None:
        for k in range(1, self.cameras + 1):
            self.fault(k, "clear")
