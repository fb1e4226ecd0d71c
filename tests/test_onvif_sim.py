"""The ONVIF device as the simulator uses it: flat camera descriptions, a live camera list,
no-auth mode, and the real `iocwall sim` process read by the real ONVIF library and ffprobe."""
from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from onvif import ONVIFCamera

from iocwall.hardware.sim.onvif_device import OnvifDevice
from iocwall.hardware.stamp import decode
from iocwall.onvif.client import probe_device
from iocwall.onvif.discovery import probe
from tests.fixtures.ports import free_port, free_ports
from tests.fixtures.tools import require_tool
from tests.onvif_helpers import snapshot_source
from tests.waiting import wait_until_sync

REPO = Path(__file__).resolve().parents[1]
IOCWALL = str(Path(sys.executable).with_name("iocwall"))


@dataclass
class FlatCam:  # the shape hardware/sim/server.py hands over
    index: int
    name: str
    main_width: int
    main_height: int
    main_fps: int
    sub_width: int
    sub_height: int
    sub_fps: int
    main_path: str
    sub_path: str
    main_gop: int = 25


async def test_flat_cameras_from_a_function_and_no_auth_mode():
    cams = [FlatCam(1, "hall", 1920, 1080, 25, 640, 360, 15, "/cam1/main", "/cam1/sub")]
    device = OnvifDevice("127.0.0.1", free_port(), lambda: cams, "", "", snapshot_source, 8554)
    await device.start()
    try:
        report = await probe_device("127.0.0.1", device.port, "", "")
        assert [(p.width, p.height, p.gov_length) for p in report.profiles] == [
            (1920, 1080, 25), (640, 360, 30)]
        cams[0] = FlatCam(1, "hall", 1280, 720, 25, 640, 360, 15, "/cam1/main", "/cam1/sub")
        cams.append(FlatCam(2, "door", 1920, 1080, 25, 640, 360, 15, "/x/hi", "/x/lo"))
        report = await probe_device("127.0.0.1", device.port, "", "")
        assert (report.profiles[0].width, report.profiles[0].height) == (1280, 720)
        assert report.profiles[3].stream_uri == "rtsp://127.0.0.1:8554/x/lo"
        async with httpx.AsyncClient() as http:  # no credentials needed with auth off
            assert (await http.get(report.profiles[0].snapshot_uri)).status_code == 200
    finally:
        await device.stop()


@pytest.fixture(scope="module")
def sim_process(tmp_path_factory):
    """`iocwall sim` with one camera on free loopback ports (stopped at the end)."""
    rtsp, onvif_port, http = free_ports(3)
    discovery = free_port(socket.SOCK_DGRAM)
    cmd = [IOCWALL, "sim", "--cameras", "1", "--host", "127.0.0.1", "--rtsp-port", str(rtsp),
           "--onvif-port", str(onvif_port), "--http-port", str(http), "--discovery-port",
           str(discovery), "--user", "tech", "--password", "Cam-pw:9"]
    log_path = tmp_path_factory.mktemp("sim") / "sim.log"
    # Output goes to a file: a pipe nobody drains would eventually block the simulator.
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        _wait_ready(proc, log_path, 240)
        yield {"rtsp": rtsp, "onvif": onvif_port, "discovery": discovery, "user": "tech",
               "password": "Cam-pw:9"}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _wait_ready(proc: subprocess.Popen, log_path: Path, seconds: float) -> None:
    def ready() -> bool:
        seen = log_path.read_text(errors="replace")
        if "READY" not in seen and proc.poll() is not None:
            pytest.fail(f"iocwall sim exited: {seen[-500:]}")
        return "READY" in seen
    try:
        wait_until_sync(ready, seconds, "iocwall sim ready", step=0.2)
    except AssertionError as exc:
        pytest.fail(f"{exc}: {log_path.read_text()[-500:]}")


@pytest.mark.slow
async def test_real_simulator_through_the_onvif_library_discovery_and_ffprobe(sim_process):
    s = sim_process
    found = await probe("127.0.0.1", s["discovery"], timeout=1.0)
    assert [d.xaddrs for d in found] == [[f"http://127.0.0.1:{s['onvif']}/onvif/device_service"]]
    cam = ONVIFCamera("127.0.0.1", s["onvif"], s["user"], s["password"], no_cache=True)
    try:
        await cam.update_xaddrs()
        info = await (await cam.create_devicemgmt_service()).GetDeviceInformation()
        assert info.Manufacturer == "iocwall"
        media = await cam.create_media_service()
        profiles = await media.GetProfiles()
        assert [p.token for p in profiles] == ["cam1_main", "cam1_sub"]
        sub_uri = (await media.GetStreamUri({
            "StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
            "ProfileToken": "cam1_sub"})).Uri
        assert sub_uri == f"rtsp://127.0.0.1:{s['rtsp']}/cam1/sub"
        jpeg = await cam.get_snapshot("cam1_main")
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape == (1080, 1920, 3)
        stamp_ms = decode(image)  # the simulator stamps its snapshots with the current time
        assert abs(stamp_ms - (time.time() * 1000) % 2**48) < 10_000
    finally:
        await cam.close()
    require_tool("ffprobe")
    # The URI the ONVIF device handed out is what the RTSP server serves (checked independently).
    authed = sub_uri.replace("rtsp://", f"rtsp://{s['user']}:Cam-pw%3A9@")
    out = await asyncio.to_thread(subprocess.run, [
        "ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
        "stream=codec_name,width,height", "-of", "json", authed],
        capture_output=True, text=True, timeout=60)
    stream = json.loads(out.stdout)["streams"][0]
    assert (stream["codec_name"], stream["width"], stream["height"]) == ("h264", 640, 360)
