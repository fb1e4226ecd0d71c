"""ONVIF onboarding through the API: read the simulator and prefill the form, register an
ONVIF-only camera, and clear bounded errors for hostile or broken devices."""
from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.fixtures.ports import free_port
from tests.fixtures.simulator import SimProcess
from tests.registry_helpers import Recorder, play, recording_client, registry_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + "".join(f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">'
                    for i in range(1, 8))
          + ']><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>'
          '<x>&lol7;</x></s:Body></s:Envelope>')


@contextlib.asynccontextmanager
async def hostile_device(mode: str) -> AsyncIterator[int]:
    """An HTTP server on 127.0.0.1 that answers SOAP requests badly on purpose."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            if mode == "silent":
                await asyncio.sleep(60)
            elif mode == "entities":
                body = LAUGHS.encode()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            elif mode in ("huge", "endless"):
                length = b"Content-Length: 2000000000\r\n" if mode == "huge" else b""
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\n"
                             b"Connection: close\r\n" + length + b"\r\n<s:Envelope>")
                for _ in range(2000):                   # up to 128 MB, slower than it claims
                    writer.write(b"<a>" * 21000)
                    await writer.drain()
                    await asyncio.sleep(0.001)
            else:                                       # not SOAP at all
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                             b"Content-Length: 13\r\n\r\n<html>hi</htm")
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    port = free_port()
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    try:
        yield port
    finally:
        server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 2)


async def test_read_the_simulator_and_register_it_by_onvif(simulator: SimProcess,
                                                           tmp_path: Path) -> None:
    rec = Recorder()
    onvif = f"127.0.0.1:{simulator.onvif_port}"
    async with registry_server(tmp_path) as server, recording_client(server, rec) as http:
        await server.login(http)
        probed = await http.post("/api/registry/probe", json={
            "address": f"127.0.0.1:{simulator.discovery_port}"})
        assert probed.status_code == 200, probed.text
        assert [d["onvif"] for d in probed.json()["devices"]] == [onvif]
        read = await http.post("/api/registry/onvif", json={
            "onvif": onvif, "username": simulator.user, "password": simulator.password})
        assert read.status_code == 200, read.text
        found = read.json()
        assert found["form"]["rtsp_main"] == simulator.url(1, "main", auth=False)
        assert found["form"]["rtsp_sub"] == simulator.url(1, "sub", auth=False)
        assert [c["rtsp_main"] for c in found["channels"]] == [
            simulator.url(k, "main", auth=False) for k in range(1, simulator.cameras + 1)]
        assert found["device"]["manufacturer"] == "iocwall"
        assert abs(found["device"]["clock_skew_s"]) < 5
        assert found["snapshot_uri"].startswith("http://127.0.0.1:")

        created = await http.post("/api/cameras", json={
            "province": "Cần Thơ", "centre": "TT PVHCC", "name": "ONVIF 1", "onvif": onvif,
            "username": simulator.user, "password": simulator.password})
        assert created.status_code == 201, created.text
        cam = created.json()
        assert cam["rtsp_main"] == simulator.url(1, "main", auth=False)
        viewer, answer = await play(http, cam["id"], "main")
        try:
            assert answer.status_code == 201
            await viewer.first_frame(timeout=10)
        finally:
            await viewer.close()

        wrong = await http.post("/api/registry/onvif", json={
            "onvif": onvif, "username": simulator.user, "password": "not-it"})
        assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "password"
        assert "wrong user or password" in wrong.json()["error"]["message"]
        closed = await http.post("/api/registry/onvif", json={"onvif": f"127.0.0.1:{free_port()}"})
        assert closed.status_code == 422 and "nothing listens" in closed.text
    assert simulator.password not in rec.text()


@pytest.mark.parametrize("mode, words", [
    ("entities", "not"), ("huge", "more than 1024 KB"), ("endless", "more than 1024 KB"),
    ("silent", "did not answer"),
    ("html", "not an ONVIF"),
])
async def test_hostile_devices_get_clear_errors_without_hanging(mode: str, words: str,
                                                                tmp_path: Path) -> None:
    async with hostile_device(mode) as port, registry_server(tmp_path) as server, \
            server.client() as http:
        await server.login(http)
        start = time.monotonic()
        response = await http.post("/api/registry/onvif", json={
            "onvif": f"127.0.0.1:{port}", "username": "u", "password": "p"}, timeout=60)
        took = time.monotonic() - start
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["field"] == "onvif" and error["code"].startswith("onvif_")
        assert words in error["message"]
        assert took < 20, f"{mode}: {took:.1f} s"
        assert (await http.get("/healthz")).status_code == 200     # the server still answers
