"""probe_device(): the report against the simulator, and one clear error per bad target."""
from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from iocwall.onvif.client import (
    OnvifAuthError,
    OnvifNotOnvif,
    OnvifTimeout,
    OnvifUnreachable,
    probe_device,
)
from tests.fixtures.ports import free_port
from tests.onvif_helpers import PASSWORD, USER, running_device


async def test_report_of_the_simulator():
    async with running_device(cameras=2, rtsp_port=18554) as device:
        report = await probe_device("127.0.0.1", device.port, USER, PASSWORD)
    assert (report.manufacturer, report.model, report.serial) == ("iocwall", "SIM-NVR",
                                                                   device.serial)
    assert report.hardware_id == "SIM-NVR-2CH" and report.firmware
    assert report.device_time is not None and report.device_time.tzinfo is not None
    assert abs((report.device_time - datetime.now(UTC)).total_seconds()) < 3
    assert report.clock_skew_s is not None and abs(report.clock_skew_s) < 1.5
    assert [p.token for p in report.profiles] == ["cam1_main", "cam1_sub", "cam2_main", "cam2_sub"]
    main, sub = report.profiles[0], report.profiles[1]
    assert (main.encoding, main.width, main.height, main.fps) == ("H264", 1920, 1080, 25.0)
    assert (sub.width, sub.height, sub.fps, sub.gov_length) == (640, 360, 15.0, 30)
    assert main.stream_uri == "rtsp://127.0.0.1:18554/cam1/main"
    assert report.profiles[3].stream_uri == "rtsp://127.0.0.1:18554/cam2/sub"
    assert main.snapshot_uri.startswith(f"http://127.0.0.1:{device.port}/onvif/snapshot")
    assert "onvif://www.onvif.org/Profile/Streaming" in report.scopes
    assert PASSWORD not in repr(report)


async def test_wrong_password_is_one_clear_line_without_the_password():
    async with running_device() as device:
        with pytest.raises(OnvifAuthError) as err:
            await probe_device("127.0.0.1", device.port, USER, "Wr0ng-secret")
    assert str(err.value) == "wrong user or password (the device answered NotAuthorized)"
    assert "Wr0ng-secret" not in str(err.value) and err.value.hint and err.value.message_vi


async def test_changed_credentials_fault_reads_as_auth_error():
    async with running_device() as device:
        device.reject_auth(True)
        with pytest.raises(OnvifAuthError):
            await probe_device("127.0.0.1", device.port, USER, PASSWORD)


async def test_closed_port_is_unreachable():
    port = free_port()
    with pytest.raises(OnvifUnreachable) as err:
        await probe_device("127.0.0.1", port, USER, PASSWORD, timeout=2)
    assert str(err.value).startswith(f"nothing listens on 127.0.0.1:{port}")


async def test_rebooting_device_is_unreachable_then_back():
    async with running_device() as device:
        device.set_unreachable(1.0)
        await asyncio.sleep(0.1)
        with pytest.raises(OnvifUnreachable):
            await probe_device("127.0.0.1", device.port, USER, PASSWORD, timeout=2)
        await asyncio.sleep(1.2)
        assert (await probe_device("127.0.0.1", device.port, USER, PASSWORD)).model == "SIM-NVR"


async def _serve(reply: bytes | None):
    """A TCP server that answers every connection with ``reply`` (None: stays silent)."""
    async def handle(reader, writer):
        try:
            await reader.read(65536)
            if reply is None:
                await asyncio.sleep(30)
            else:
                writer.write(reply)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0)


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 22\r\n"
    b"Connection: close\r\n\r\n<html>not here</html>\n",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 21\r\n"
    b"Connection: close\r\n\r\n<html>router UI</html>",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    b"RTSP/1.0 400 Bad Request\r\nCSeq: 0\r\n\r\n",
    b"SSH-2.0-OpenSSH_9.2\r\n",
], ids=["http-404", "http-200-html", "http-200-text", "rtsp", "ssh"])
async def test_a_port_that_is_not_onvif(reply):
    server = await _serve(reply)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(OnvifNotOnvif) as err:
            await probe_device("127.0.0.1", port, USER, PASSWORD, timeout=3)
        assert f"127.0.0.1:{port} answers but is not an ONVIF device" in str(err.value)
    finally:
        server.close()


async def test_a_silent_port_times_out_within_the_limit():
    server = await _serve(None)
    port = server.sockets[0].getsockname()[1]
    started = time.monotonic()
    try:
        with pytest.raises(OnvifTimeout) as err:
            await probe_device("127.0.0.1", port, USER, PASSWORD, timeout=1.0)
        assert "did not answer within 1 s during GetSystemDateAndTime" in str(err.value)
        assert time.monotonic() - started < 4
    finally:
        server.close()
