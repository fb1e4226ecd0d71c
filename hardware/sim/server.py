"""The camera simulator in one object: loops, packet sources, RTSP, HTTP
control, ground truth, faults, the ONVIF device and its WS-Discovery responder.

    sim = Simulator(SimOptions(cameras=4, user="admin", password="sim-pass"))
    await sim.start(); ...; await sim.stop()
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2

from iocwall.hardware import stamp
from iocwall.streams.clock import iso_from_epoch

from . import onvif_model, people
from .discovery import DiscoveryResponder
from .encoder import Loop, StreamSpec, load_or_encode
from .faults import DEFAULT_SECONDS, CameraFaults, FaultKind, FaultRequest, parse_request
from .http_api import HttpApi, HttpError
from .media import StreamSource
from .onvif_device import OnvifDevice
from .rtsp_auth import Authenticator
from .rtsp_server import RtspServer
from .scene import CANVAS_H, CANVAS_W, Scene

log = logging.getLogger(__name__)
LOOP_SECONDS = 12
RESOLUTION_LOOP_SECONDS = 4
TRUTH_PAST_S = 60.0            # how far back /truth?at= answers
MAIN = StreamSpec(1920, 1080, 25, 25, 25 * LOOP_SECONDS)
SUB = StreamSpec(640, 360, 15, 15, 15 * LOOP_SECONDS)


@dataclass
class SimOptions:
    cameras: int = 4
    host: str = "127.0.0.1"
    rtsp_port: int = 8554
    onvif_port: int = 8000
    http_port: int = 8001
    discovery_port: int = 3702
    user: str = ""
    password: str = ""
    live: bool = False
    cache_dir: Path | None = None
    truth_file: Path | None = None
    faults: list[FaultRequest] = field(default_factory=list)
    session_timeout: float = 60.0
    scenes: int = 4
    # Where the first start's "encoding ... N %" lines go besides the log (the demo
    # prints them: its terminal shows warnings only, and a cold start takes a while).
    progress: Callable[[str], None] | None = None


@dataclass(frozen=True)
class CameraInfo:
    index: int
    name: str
    main_width: int
    main_height: int
    main_fps: int
    sub_width: int
    sub_height: int
    sub_fps: int
    main_path: str          # "/camK/main"
    sub_path: str           # "/camK/sub"


@dataclass
class _Camera:
    index: int
    scene: Scene
    faults: CameraFaults
    sources: dict[str, StreamSource]


class Simulator:
    def __init__(self, options: SimOptions) -> None:
        if not 1 <= options.cameras <= 64:
            raise ValueError("cameras must be between 1 and 64")
        self.options = options
        self.cameras = options.cameras
        if options.cache_dir is not None:  # the people's cut-outs live beside the loops
            people.use_cache_dir(options.cache_dir)
        self._cams: dict[int, _Camera] = {}
        self._scenes = [Scene(i, LOOP_SECONDS) for i in range(max(1, min(options.scenes, 8)))]
        self._loops: dict[tuple[int, StreamSpec], asyncio.Future[Loop]] = {}
        self.rtsp = RtspServer(options.host, options.rtsp_port, self,
                               Authenticator(options.user, options.password),
                               options.session_timeout)
        self.http = HttpApi(options.host, options.http_port, self)
        self.onvif: OnvifDevice | None = None
        self.discovery: DiscoveryResponder | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._fault_tasks: set[asyncio.Task[None]] = set()
        self._started = time.time()
        self._cancel = threading.Event()    # tells encoder threads to give up (stop())

    # --- lifecycle ---------------------------------------------------------------
    async def start(self) -> None:
        used = sorted({(i - 1) % len(self._scenes) for i in range(1, self.cameras + 1)})
        await asyncio.gather(*(self._loop(self._scenes[s], spec)
                               for s in used for spec in (MAIN, SUB)))
        origin = time.monotonic()
        for k in range(1, self.cameras + 1):
            scene = self._scenes[(k - 1) % len(self._scenes)]
            faults = CameraFaults()
            # Cameras that share a scene start at different points of the loop.
            start = origin - ((k - 1) // len(self._scenes)) * 3.7
            sources = {name: self._new_source(k, name, self._loops[(scene.seed, spec)].result(),
                                              start, faults)
                       for name, spec in (("main", MAIN), ("sub", SUB))}
            self._cams[k] = _Camera(k, scene, faults, sources)
            for source in sources.values():
                source.start()
        for request in self.options.faults:
            await self.apply_fault(request)
        await self.rtsp.start()
        await self.http.start()
        await self._start_onvif()
        if self.options.truth_file:
            self._tasks.append(asyncio.create_task(self._write_truth(), name="truth file"))

    def _new_source(self, k: int, name: str, loop: Loop, origin: float,
                    faults: CameraFaults) -> StreamSource:
        if self.options.live:
            from .live import LiveSource
            cam_scene = self._scenes[(k - 1) % len(self._scenes)]
            return LiveSource(f"cam{k}/{name}", loop, origin, faults, cam_scene)
        return StreamSource(f"cam{k}/{name}", loop, origin, faults)

    async def stop(self) -> None:
        self._cancel.set()
        tasks = self._tasks + list(self._fault_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for part in (self.discovery, self.onvif):
            if part is not None:
                await part.stop()
        await self.http.stop()
        await self.rtsp.stop()
        for cam in self._cams.values():
            for source in cam.sources.values():
                await source.stop()

    async def _loop(self, scene: Scene, spec: StreamSpec) -> Loop:
        """The loop of ``scene`` at ``spec``, made once even when asked for twice at once."""
        key = (scene.seed, spec)
        if key not in self._loops:
            future = asyncio.ensure_future(self._make_loop(scene, spec))
            # retrieved here too: after stop() nobody may be left to await a cancelled encode
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
            self._loops[key] = future
        try:
            return await asyncio.shield(self._loops[key])
        except Exception:
            self._loops.pop(key, None)   # a later request tries again
            raise

    async def _make_loop(self, scene: Scene, spec: StreamSpec) -> Loop:
        if self.options.live:
            from .live import probe_loop
            return await asyncio.to_thread(probe_loop, scene, spec)
        return await asyncio.to_thread(load_or_encode, scene, spec, self.options.cache_dir,
                                       self._label(scene, spec), self.options.progress,
                                       self._cancel)

    def _label(self, scene: Scene, spec: StreamSpec) -> str:
        """Which cameras and stream a loop is for, e.g. 'cam1, cam5 main (1920x1080)'."""
        cams = [f"cam{k}" for k in range(1, self.cameras + 1)
                if (k - 1) % len(self._scenes) == scene.seed]
        kind = {MAIN: "main", SUB: "sub"}.get(spec, "main (resolution fault)")
        return f"{', '.join(cams) or f'scene {scene.seed}'} {kind} ({spec.width}x{spec.height})"

    async def _start_onvif(self) -> None:
        o = self.options
        # The profiles are the camera's configuration: a resolution fault (the camera
        # sending another size than configured) must not change them, so a client can
        # see the mismatch.
        self.onvif = OnvifDevice(o.host, o.onvif_port, self.profile_info, o.user, o.password,
                                 self.snapshot_jpeg, o.rtsp_port)
        await self.onvif.start()
        self.discovery = self.onvif.discovery_responder(o.discovery_port, o.host)
        await self.discovery.start()

    # --- Directory protocol (used by the RTSP server) -----------------------------
    def source(self, camera: int, stream: str) -> StreamSource | None:
        cam = self._cams.get(camera)
        return cam.sources.get(stream) if cam else None

    def faults(self, camera: int) -> CameraFaults:
        return self._cams[camera].faults

    # --- public API ----------------------------------------------------------------
    def camera_info(self) -> list[CameraInfo]:
        out = []
        for k, cam in sorted(self._cams.items()):
            main, sub = cam.sources["main"].spec, cam.sources["sub"].spec
            out.append(CameraInfo(k, f"cam{k}", main.width, main.height, main.fps, sub.width,
                                  sub.height, sub.fps, f"/cam{k}/main", f"/cam{k}/sub"))
        return out

    def profile_info(self) -> list[onvif_model.CameraInfo]:
        """What each camera is configured to send (ONVIF profiles), faults aside."""
        return [onvif_model.CameraInfo(k, f"cam{k}",
                                       onvif_model.StreamInfo(MAIN.width, MAIN.height, MAIN.fps),
                                       onvif_model.StreamInfo(SUB.width, SUB.height, SUB.fps))
                for k in sorted(self._cams)]

    def snapshot_jpeg(self, camera: int, stream: str = "main") -> bytes:
        """A real JPEG of the camera's current frame (stamp = now)."""
        cam = self._cams[camera]
        source = cam.sources.get(stream) or cam.sources["main"]
        t = (source.frame_index() % source.spec.frames) / source.spec.fps
        image = cam.scene.render(t, source.spec.width, source.spec.height)
        stamp.draw(image, int(time.time() * 1000))
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        return data.tobytes()

    def truth(self, at: float | None = None) -> dict[str, Any]:
        """Who stands in each counter's zone now, or at ``at`` (Unix seconds) within the
        last minute (the frame shown then: a count is judged against its own frame)."""
        now = time.time()
        if at is not None and not now - TRUTH_PAST_S <= at <= now + 1.0:
            raise HttpError(400, f"at must be within the last {TRUTH_PAST_S:.0f} s")
        when = now if at is None else at
        mono = time.monotonic() - (now - when)
        cameras = {}
        for k, cam in sorted(self._cams.items()):
            main = cam.sources["main"]
            n = main.frame_index(mono)
            counters = cam.scene.truth((n % main.spec.frames) / main.spec.fps,
                                       main.spec.width / CANVAS_W, main.spec.height / CANVAS_H)
            cameras[f"cam{k}"] = {"time": iso_from_epoch(when), "frame": n, "counters": counters,
                                  "total": sum(c["count"] for c in counters)}
        return {"cameras": cameras}

    def faults_json(self) -> dict[str, Any]:
        return {"faults": {f"cam{k}": c.faults.to_json() for k, c in sorted(self._cams.items())
                           if c.faults.to_json()}}

    def apply_fault_json(self, body: object) -> dict[str, Any]:
        request = parse_request(body, self.cameras)
        restore = self._record(request)  # recorded now, so the answer lists it
        task = asyncio.create_task(self._act(request, restore), name="fault")
        self._fault_tasks.add(task)
        task.add_done_callback(self._fault_tasks.discard)
        return self.faults_json()

    async def apply_fault(self, request: FaultRequest) -> None:
        await self._act(request, self._record(request))

    def _record(self, request: FaultRequest) -> bool:
        """Update the camera's fault state; True if the main stream must get its size back."""
        faults = self._cams[request.camera].faults
        if request.kind is FaultKind.CLEAR:
            faults.clear()
            return self._resized(request.camera)  # also after a timed fault expired
        if request.kind is not FaultKind.DROP:
            faults.add(request)
        return False

    async def _act(self, request: FaultRequest, restore: bool) -> None:
        cam = self._cams[request.camera]
        kind = request.kind
        log.info("fault %s on cam%d", kind.value, request.camera)
        try:
            if restore:
                cam.sources["main"].switch_loop(await self._loop(cam.scene, MAIN))
            if kind in (FaultKind.DROP, FaultKind.REBOOT):
                self.rtsp.close_camera(request.camera)
            if self.onvif is not None:
                await self._tell_onvif(request)
            if kind is FaultKind.RESOLUTION:
                # A shorter loop: encoded on demand, so keep the wait short. The truth
                # follows the loop that is playing, so it stays right.
                spec = StreamSpec(request.width, request.height, MAIN.fps, MAIN.gop,
                                  MAIN.fps * RESOLUTION_LOOP_SECONDS)
                cam.sources["main"].switch_loop(await self._loop(cam.scene, spec))
                if request.seconds:
                    await self._restore_when_expired(request.camera, request.seconds)
        except Exception:
            log.exception("fault %s on cam%d failed", kind.value, request.camera)

    def _resized(self, camera: int) -> bool:
        spec = self._cams[camera].sources["main"].spec
        return (spec.width, spec.height) != (MAIN.width, MAIN.height)

    async def _restore_when_expired(self, camera: int, seconds: float) -> None:
        """A timed resolution fault gives the main stream its size back when it ends."""
        cam = self._cams[camera]
        await asyncio.sleep(seconds)
        while cam.faults.resolution() is not None:      # renewed meanwhile: wait it out
            await asyncio.sleep(0.5)
        if self._resized(camera):
            log.info("resolution fault on cam%d expired: main stream back to %dx%d",
                     camera, MAIN.width, MAIN.height)
            cam.sources["main"].switch_loop(await self._loop(cam.scene, MAIN))

    async def _tell_onvif(self, request: FaultRequest) -> None:
        assert self.onvif is not None
        if request.kind is FaultKind.REBOOT:
            seconds = request.seconds or DEFAULT_SECONDS[FaultKind.REBOOT]
            self.onvif.reboot(seconds)
        switches_auth = request.kind in (FaultKind.REJECT_AUTH, FaultKind.CLEAR)
        if switches_auth:
            # The ONVIF device is one box for all cameras: any camera's reject_auth applies to it.
            rejecting = any(c.faults.rejecting_auth() for c in self._cams.values())
            self.onvif.reject_auth(rejecting)

    def stats(self) -> dict[str, Any]:
        sources = {s.name: {"frames_sent": s.frames_sent, "frames_skipped": s.frames_skipped,
                            "viewers": len(s.viewers), "width": s.spec.width,
                            "height": s.spec.height}
                   for c in self._cams.values() for s in c.sources.values()}
        dropped = sum(s.frames_dropped for s in self.rtsp.sessions.values())
        return {"sessions": len(self.rtsp.sessions), "sessions_reaped": self.rtsp.sessions_reaped,
                "frames_dropped": dropped,  # frames a slow viewer did not get (counted, not queued)
                "sources": sources}

    async def _write_truth(self) -> None:
        path = self.options.truth_file
        assert path is not None
        while True:
            line = json.dumps(self.truth()) + "\n"
            await asyncio.to_thread(_append, path, line)
            await asyncio.sleep(1.0)


def _append(path: Path, line: str) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)

