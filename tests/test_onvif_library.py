"""The real ONVIF client library (onvif-zeep-async) against our simulated device."""
from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
import zeep.exceptions
from onvif import ONVIFCamera

from tests.onvif_helpers import PASSWORD, USER, running_device

REPO = Path(__file__).resolve().parents[1]
WSDL_DIR = str(Path(sys.modules["onvif"].__file__).parent / "wsdl")
STREAM_SETUP = {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}}


async def _camera(device, password: str = PASSWORD, **kw) -> ONVIFCamera:
    # no_cache: the library would otherwise keep a SQLite WSDL cache in the home directory.
    return ONVIFCamera("127.0.0.1", device.port, USER, password, wsdl_dir=WSDL_DIR,
                       no_cache=True, **kw)


def test_import_onvif_finds_the_library_not_our_folder():
    out = subprocess.run([sys.executable, "-c", "import onvif; print(onvif.__file__)"],
                         cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    assert "site-packages" in out.stdout and str(REPO / "onvif") not in out.stdout


async def test_device_information_profiles_and_stream_uris():
    async with running_device(cameras=1, rtsp_port=18554) as device:
        cam = await _camera(device)
        try:
            await cam.update_xaddrs()
            info = await (await cam.create_devicemgmt_service()).GetDeviceInformation()
            assert (info.Manufacturer, info.Model) == ("iocwall", "SIM-NVR")
            assert info.SerialNumber == device.serial and info.FirmwareVersion
            media = await cam.create_media_service()
            profiles = await media.GetProfiles()
            assert [p.token for p in profiles] == ["cam1_main", "cam1_sub"]
            shapes = [(p.VideoEncoderConfiguration.Encoding,
                       p.VideoEncoderConfiguration.Resolution.Width,
                       p.VideoEncoderConfiguration.Resolution.Height,
                       p.VideoEncoderConfiguration.RateControl.FrameRateLimit) for p in profiles]
            assert shapes == [("H264", 1920, 1080, 25), ("H264", 640, 360, 15)]
            assert profiles[0].VideoEncoderConfiguration.H264.GovLength == 50
            assert profiles[0].VideoSourceConfiguration.Bounds.width == 1920
            uris = []
            for p in profiles:
                answer = await media.GetStreamUri({"StreamSetup": STREAM_SETUP,
                                                   "ProfileToken": p.token})
                uris.append(answer.Uri)
            assert uris == ["rtsp://127.0.0.1:18554/cam1/main", "rtsp://127.0.0.1:18554/cam1/sub"]
            one = await media.GetProfile({"ProfileToken": "cam1_sub"})
            assert one.VideoEncoderConfiguration.Resolution.Width == 640
        finally:
            await cam.close()


async def test_capabilities_scopes_clock_and_network_interfaces():
    async with running_device() as device:
        cam = await _camera(device)
        try:
            dm = await cam.create_devicemgmt_service()
            caps = await dm.GetCapabilities({"Category": "All"})
            assert caps.Media.XAddr == f"http://127.0.0.1:{device.port}/onvif/media_service"
            assert caps.Device.XAddr == device.xaddr
            scopes = [s.ScopeItem for s in await dm.GetScopes()]
            assert "onvif://www.onvif.org/Profile/Streaming" in scopes
            clock = await dm.authless_GetSystemDateAndTime()
            u = clock.UTCDateTime
            theirs = datetime(u.Date.Year, u.Date.Month, u.Date.Day, u.Time.Hour, u.Time.Minute,
                              u.Time.Second, tzinfo=UTC)
            assert abs((theirs - datetime.now(UTC)).total_seconds()) < 3
            nics = await dm.GetNetworkInterfaces()
            assert nics[0].IPv4.Config.Manual[0].Address == "127.0.0.1"
            services = await dm.GetServices({"IncludeCapability": False})
            assert {s.Namespace for s in services} == {
                "http://www.onvif.org/ver10/device/wsdl", "http://www.onvif.org/ver10/media/wsdl"}
        finally:
            await cam.close()


async def test_snapshot_uri_serves_a_real_jpeg_behind_digest_and_basic():
    async with running_device() as device:
        cam = await _camera(device)
        try:
            await cam.update_xaddrs()
            uri = await cam.get_snapshot_uri("cam1_sub")
            assert uri.startswith(f"http://127.0.0.1:{device.port}/") and "@" not in uri
            for basic in (False, True):
                jpeg = await cam.get_snapshot("cam1_sub", basic_auth=basic)
                image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
                assert image.shape == (360, 640, 3) and image.std() > 10  # a real picture
            async with httpx.AsyncClient() as http:
                anonymous = await http.get(uri)
                wrong = await http.get(uri, auth=httpx.DigestAuth(USER, "nope"))
                right = await http.get(uri.replace("cam1_sub", "cam1_main"),
                                       auth=httpx.DigestAuth(USER, PASSWORD))
            assert anonymous.status_code == 401
            assert "Digest" in anonymous.headers["www-authenticate"]
            assert wrong.status_code == 401
            main = cv2.imdecode(np.frombuffer(right.content, np.uint8), cv2.IMREAD_COLOR)
            assert main.shape == (1080, 1920, 3)
        finally:
            await cam.close()


async def test_wrong_password_is_a_not_authorized_fault_through_the_library():
    async with running_device() as device:
        cam = await _camera(device, password="wrong")
        try:
            dm = await cam.create_devicemgmt_service()
            with pytest.raises(zeep.exceptions.Fault) as err:
                await dm.GetDeviceInformation()
            assert [q.localname for q in err.value.subcodes] == ["NotAuthorized"]
            # The clock stays readable without credentials (clients need it to sign requests).
            assert (await dm.GetSystemDateAndTime()).UTCDateTime.Date.Year >= 2024
        finally:
            await cam.close()


async def test_password_text_tokens_work_too():
    async with running_device() as device:
        cam = await _camera(device, encrypt=False)
        try:
            info = await (await cam.create_devicemgmt_service()).GetDeviceInformation()
            assert info.Manufacturer == "iocwall"
        finally:
            await cam.close()


async def test_nvr_with_two_cameras_has_four_profiles_and_live_resolution_changes():
    async with running_device(cameras=2) as device:
        cam = await _camera(device)
        try:
            await cam.update_xaddrs()
            media = await cam.create_media_service()
            tokens = [p.token for p in await media.GetProfiles()]
            assert tokens == ["cam1_main", "cam1_sub", "cam2_main", "cam2_sub"]
            device.cameras[1].main.width, device.cameras[1].main.height = 1280, 720
            p = await media.GetProfile({"ProfileToken": "cam2_main"})
            assert (p.VideoEncoderConfiguration.Resolution.Width,
                    p.VideoEncoderConfiguration.Resolution.Height) == (1280, 720)
            with pytest.raises(zeep.exceptions.Fault) as err:
                await media.GetProfile({"ProfileToken": "cam9_main"})
            assert [q.localname for q in err.value.subcodes] == ["InvalidArgVal", "NoProfile"]
        finally:
            await cam.close()


async def test_reject_auth_and_reboot_faults():
    async with running_device() as device:
        cam = await _camera(device)
        try:
            dm = await cam.create_devicemgmt_service()
            device.reject_auth(True)
            with pytest.raises(zeep.exceptions.Fault):
                await dm.GetDeviceInformation()
            device.reject_auth(False)
            assert (await dm.GetDeviceInformation()).Model == "SIM-NVR"
            device.set_unreachable(1.0)
            await asyncio.sleep(0.1)
            with pytest.raises(OSError):  # refused: nothing listens during the "reboot"
                await asyncio.open_connection("127.0.0.1", device.port)
            await asyncio.sleep(1.3)
            assert device.reachable
            assert (await dm.GetDeviceInformation()).Model == "SIM-NVR"
        finally:
            await cam.close()

