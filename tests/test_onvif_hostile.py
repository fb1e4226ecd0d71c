"""Hostile and broken SOAP against the simulated ONVIF device: a fault each, never a crash."""
from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from iocwall.hardware.sim import wsse
from tests.onvif_helpers import ENV, TDS, running_device, security_header, soap

SOAP_TYPE = {"Content-Type": "application/soap+xml; charset=utf-8"}

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
              for i in range(1, 10))
    + f']><s:Envelope xmlns:s="{ENV}"><s:Body><GetDeviceInformation xmlns="{TDS}">&lol9;'
    "</GetDeviceInformation></s:Body></s:Envelope>"
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    f'<s:Envelope xmlns:s="{ENV}"><s:Body><GetDeviceInformation xmlns="{TDS}">&xxe;'
    "</GetDeviceInformation></s:Body></s:Envelope>"
)


@pytest.fixture
async def device():
    async with running_device() as dev:
        yield dev


@pytest.fixture
async def http(device):
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{device.port}", timeout=10) as c:
        yield c


async def _post(http: httpx.AsyncClient, body: bytes | str) -> httpx.Response:
    return await http.post("/onvif/device_service", content=body, headers=SOAP_TYPE)


async def _still_answers(http: httpx.AsyncClient) -> None:
    ok = await _post(http, soap("GetDeviceInformation", security_header()))
    assert ok.status_code == 200 and b"SIM-NVR" in ok.content


def _fault(resp: httpx.Response, status: int, code: str, subcode: str | None) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/soap+xml")
    assert "<env:Fault>" in resp.text and f"<env:Value>env:{code}</env:Value>" in resp.text
    if subcode:
        assert f"<env:Value>ter:{subcode}</env:Value>" in resp.text


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
async def test_entities_and_dtds_are_refused(http, payload):
    resp = await _post(http, payload)
    _fault(resp, 400, "Sender", "WellFormed")
    assert "root:" not in resp.text and "lollol" not in resp.text
    await _still_answers(http)


@pytest.mark.parametrize("size", [300 * 1024, 10 * 1024 * 1024], ids=["300KB", "10MB"])
async def test_oversized_bodies_get_413_with_a_soap_fault(http, size):
    head = soap("GetDeviceInformation")[:-len(b"</s:Envelope>")]
    resp = await _post(http, head + b" " * size + b"</s:Envelope>")
    _fault(resp, 413, "Sender", None)
    await _still_answers(http)


async def test_a_body_larger_than_the_drain_limit_is_cut_off_without_hanging(device):
    reader, writer = await asyncio.open_connection("127.0.0.1", device.port)
    writer.write(b"POST /onvif/device_service HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Length: 1000000000\r\n\r\n")
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 413")
    writer.close()


@pytest.mark.parametrize("body,status,code,subcode", [
    (b"<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Body>", 400, "Sender",
     "WellFormed"),
    (b"", 400, "Sender", "WellFormed"),
    (os.urandom(2048), 400, "Sender", "WellFormed"),
    (b"<a>plain xml, no envelope</a>", 400, "VersionMismatch", None),
    (soap("GetDeviceInformation").replace(ENV.encode(),
                                          b"http://schemas.xmlsoap.org/soap/envelope/"),
     400, "VersionMismatch", None),
    (soap("GetDeviceInformation", ns="http://example.com/not-onvif"), 500, "Receiver",
     "ActionNotSupported"),
    (f"<s:Envelope xmlns:s='{ENV}'><s:Body/></s:Envelope>".encode(), 400, "Sender", "WellFormed"),
], ids=["truncated", "empty", "binary", "no-envelope", "soap11", "wrong-namespace", "empty-body"])
async def test_malformed_requests_get_faults(http, body, status, code, subcode):
    _fault(await _post(http, body), status, code, subcode)
    await _still_answers(http)


async def test_unknown_operation_is_action_not_supported(http):
    _fault(await _post(http, soap("SystemReboot", security_header())), 500, "Receiver",
           "ActionNotSupported")


async def test_replayed_nonce_and_stale_created_are_refused(http):
    header = security_header()
    first = await _post(http, soap("GetDeviceInformation", header))
    assert first.status_code == 200
    # at once, the same request is a client's burst (libonvif sends those); once the moment
    # has passed (the time window under test), the same token is a replay
    again = await _post(http, soap("GetDeviceInformation", header))
    assert again.status_code == 200, again.text
    await asyncio.sleep(wsse.REPEAT_GRACE_S + 0.2)
    _fault(await _post(http, soap("GetDeviceInformation", header)), 400, "Sender", "NotAuthorized")
    old = (datetime.now(UTC) - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _fault(await _post(http, soap("GetDeviceInformation", security_header(created=old))),
           400, "Sender", "NotAuthorized")
    future = (datetime.now(UTC) + timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    _fault(await _post(http, soap("GetDeviceInformation", security_header(created=future))),
           400, "Sender", "NotAuthorized")
    await _still_answers(http)


async def test_one_nonce_with_a_new_created_each_time_is_accepted(http):
    """libonvif (onvif-util) keeps one nonce for a session and sends a new Created each time:
    common cameras accept that, so must we. The same nonce AND Created is still a replay, and
    a wrong digest or a stale Created with the reused nonce are still refused."""
    nonce = os.urandom(16)
    now = datetime.now(UTC)
    stamps = [(now + timedelta(seconds=k)).strftime("%Y-%m-%dT%H:%M:%S.000Z") for k in range(3)]
    for created in stamps:
        answer = await _post(http, soap("GetDeviceInformation",
                                        security_header(nonce=nonce, created=created)))
        assert answer.status_code == 200, answer.text
        assert "Manufacturer" in answer.text
    await asyncio.sleep(wsse.REPEAT_GRACE_S + 0.2)        # past a burst: a replay now
    _fault(await _post(http, soap("GetDeviceInformation",
                                  security_header(nonce=nonce, created=stamps[1]))),
           400, "Sender", "NotAuthorized")
    later = (now + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    _fault(await _post(http, soap("GetDeviceInformation",
                                  security_header(nonce=nonce, created=later, password="x"))),
           400, "Sender", "NotAuthorized")
    old = (now - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    _fault(await _post(http, soap("GetDeviceInformation",
                                  security_header(nonce=nonce, created=old))),
           400, "Sender", "NotAuthorized")
    await _still_answers(http)


async def test_missing_or_wrong_credentials_are_not_authorized(http):
    _fault(await _post(http, soap("GetDeviceInformation")), 400, "Sender", "NotAuthorized")
    _fault(await _post(http, soap("GetDeviceInformation", security_header(password="x"))),
           400, "Sender", "NotAuthorized")
    _fault(await _post(http, soap("GetDeviceInformation", security_header(user="root"))),
           400, "Sender", "NotAuthorized")
    clock = await _post(http, soap("GetSystemDateAndTime"))  # allowed without credentials
    assert clock.status_code == 200 and "UTCDateTime" in clock.text


async def test_a_stalled_client_does_not_block_others(device, http):
    reader, writer = await asyncio.open_connection("127.0.0.1", device.port)
    writer.write(b"POST /onvif/device_service HTTP/1.1\r\nContent-Len")  # and then silence
    await writer.drain()
    await asyncio.wait_for(_still_answers(http), 5)
    writer.close()


async def test_non_post_and_unknown_paths(http):
    assert (await http.get("/onvif/device_service")).status_code == 405
    assert (await http.get("/index.html")).status_code == 404
    assert (await http.get("/onvif/snapshot?token=cam7_main")).status_code == 404
