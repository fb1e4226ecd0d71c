"""Issue 17 (high): stored camera credentials never follow a changed address.

A registrar points a camera at a host of their own (here a real listener on 127.0.0.1 that
answers every request with a 401 Basic or Digest challenge and records what it gets) and
runs "Test connection": no Authorization carrying the stored password may reach it, the
credentials are cleared and audited, ``allow_basic_auth`` needs an admin or a new password,
and a path on the same host keeps the credentials."""
from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import httpx
import pytest

from iocwall.wall.access import Role
from iocwall.wall.registry import origin
from tests.fixtures.app import USER_PASSWORD
from tests.registry_helpers import Recorder, recording_client, registry_server

# every test on SQLite and on PostgreSQL (issue 19)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(120), pytest.mark.usefixtures("both_stores")]

USER, PASSWORD = "cam-admin", "Stored-Secret-9!"


class Listener:
    """The attacker's host: records every byte and answers each request head with a 401
    (RTSP or HTTP, after the request line) carrying ``challenge``."""

    def __init__(self, challenge: str) -> None:
        self.challenge = challenge
        self.received = bytearray()
        self.requests = 0
        self.server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.received += head
                self.requests += 1
                text = head.decode("latin-1")
                length = next((int(line.split(":", 1)[1]) for line in text.split("\r\n")
                               if line.lower().startswith("content-length:")), 0)
                self.received += await reader.readexactly(length)
                proto = "HTTP/1.1" if "HTTP/" in text.split("\r\n", 1)[0] else "RTSP/1.0"
                cseq = next((line for line in text.split("\r\n")
                             if line.lower().startswith("cseq:")), "CSeq: 0")
                writer.write(f"{proto} 401 Unauthorized\r\n{cseq}\r\nContent-Length: 0\r\n"
                             f"WWW-Authenticate: {self.challenge}\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def authorizations(self) -> list[str]:
        return [line for line in self.received.decode("latin-1").split("\r\n")
                if line.lower().startswith("authorization:")]


BASIC = 'Basic realm="attacker"'
DIGEST = 'Digest realm="attacker", nonce="0123456789abcdef", algorithm=MD5'
STORED_BASIC = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


async def _camera(http: httpx.AsyncClient, name: str, main: str, **over: object) -> str:
    body = {"province": "Hà Nội", "centre": "TT PVHCC", "name": name, "rtsp_main": main,
            "transport": "tcp", "username": USER, "password": PASSWORD, **over}
    made = await http.post("/api/cameras", json=body)
    assert made.status_code == 201, made.text
    assert made.json()["has_credentials"] is True
    return str(made.json()["id"])


async def _audit(http: httpx.AsyncClient, action: str, camera: str) -> list[dict]:
    found = (await http.get("/api/audit", params={"action": action})).json()["entries"]
    return [e for e in found if e["target"] == f"camera:{camera}"]


async def test_moving_a_camera_to_another_host_drops_its_credentials(tmp_path: Path) -> None:
    rec = Recorder()
    basic, digest, onvif = Listener(BASIC), Listener(DIGEST), Listener(DIGEST)
    async with basic as basic_port, digest as digest_port, onvif as onvif_port, \
            registry_server(tmp_path) as server, server.client() as admin, \
            recording_client(server, rec) as reg:
        await server.login(admin)
        await server.add_user("reg-hn", Role.REGISTRAR, "HA-NOI")
        await server.login(reg, "reg-hn", USER_PASSWORD)
        # an admin allowed Basic on this one (a camera that needs it), before the move
        cam_b = await _camera(admin, "Quầy 1", "rtsp://192.0.2.10:554/live",
                              allow_basic_auth=True)
        cam_d = await _camera(admin, "Quầy 2", "rtsp://192.0.2.11/live")

        for cam, port, listener in ((cam_b, basic_port, basic), (cam_d, digest_port, digest)):
            moved = await reg.patch(f"/api/cameras/{cam}",
                                    json={"rtsp_main": f"rtsp://127.0.0.1:{port}/steal"})
            assert moved.status_code == 200, moved.text
            assert moved.json()["has_credentials"] is False
            tested = await reg.post(f"/api/cameras/{cam}/test", timeout=60)
            assert tested.status_code == 200, tested.text
            assert listener.requests >= 1, "Test connection never reached the new address"
            assert listener.authorizations() == [], listener.authorizations()
            cleared = await _audit(admin, "camera.credentials_cleared", cam)
            assert len(cleared) == 1 and cleared[0]["actor"] == "reg-hn"
            assert cleared[0]["after"] == {"has_credentials": False, "fields": ["rtsp_main"],
                                           "reason": "address_changed"}
        # nor can a URL carry credentials of its own (they go in their own fields)
        embedded = await reg.patch(f"/api/cameras/{cam_d}", json={
            "rtsp_main": f"rtsp://{USER}:x@127.0.0.1:{digest_port}/steal"})
        assert embedded.status_code == 422 and embedded.json()["error"]["field"] == "rtsp_main"
        received = bytes(basic.received + digest.received).decode("latin-1")
        assert STORED_BASIC not in received and USER not in received

        # credentials sent with the move are the ones used for the new address
        fresh = await reg.patch(f"/api/cameras/{cam_d}", json={
            "rtsp_main": f"rtsp://127.0.0.1:{digest_port}/mine", "username": "reg-own",
            "password": "Their-own-pw"})
        assert fresh.status_code == 200 and fresh.json()["has_credentials"] is True
        assert len(await _audit(admin, "camera.credentials_cleared", cam_d)) == 1   # sent
        await reg.post(f"/api/cameras/{cam_d}/test", timeout=60)
        assert any('username="reg-own"' in a for a in digest.authorizations())

        # a new path on the same host keeps the stored credentials, and they are used there
        cam_p = await _camera(admin, "Quầy 3", f"rtsp://127.0.0.1:{digest_port}/a")
        kept = await reg.patch(f"/api/cameras/{cam_p}",
                               json={"rtsp_main": f"RTSP://127.0.0.1:{digest_port}/b/c"})
        assert kept.status_code == 200 and kept.json()["has_credentials"] is True
        assert await _audit(admin, "camera.credentials_cleared", cam_p) == []
        await reg.post(f"/api/cameras/{cam_p}/test", timeout=60)
        assert any(f'username="{USER}"' in a for a in digest.authorizations())

        # the ONVIF address: a new host:port drops the credentials too
        cam_o = await _camera(admin, "Quầy 4", "rtsp://192.0.2.12/live", onvif="192.0.2.12:80")
        re_onvif = await reg.patch(f"/api/cameras/{cam_o}",
                                   json={"onvif": f"127.0.0.1:{onvif_port}"})
        assert re_onvif.status_code == 200 and re_onvif.json()["has_credentials"] is False
        cleared = await _audit(admin, "camera.credentials_cleared", cam_o)
        assert [e["after"]["fields"] for e in cleared] == [["onvif"]]
        await reg.post(f"/api/cameras/{cam_o}/test", timeout=60)
        assert USER not in bytes(onvif.received).decode("latin-1")
    assert PASSWORD not in rec.text()


async def test_only_an_admin_or_a_new_password_turns_basic_on(tmp_path: Path) -> None:
    async with registry_server(tmp_path) as server, server.client() as admin, \
            server.client() as reg:
        await server.login(admin)
        await server.add_user("reg-hn", Role.REGISTRAR, "HA-NOI")
        await server.login(reg, "reg-hn", USER_PASSWORD)
        cam = await _camera(admin, "Quầy 1", "rtsp://192.0.2.10/live")
        refused = await reg.patch(f"/api/cameras/{cam}", json={"allow_basic_auth": True})
        assert refused.status_code == 403, refused.text
        error = refused.json()["error"]
        assert error["code"] == "forbidden" and error["field"] == "allow_basic_auth"
        assert error["message"]
        assert (await admin.get(f"/api/cameras/{cam}")).json()["allow_basic_auth"] is False
        assert await _audit(admin, "camera.allow_basic_auth", cam) == []
        # turning it off, or sending it unchanged, needs nothing
        assert (await reg.patch(f"/api/cameras/{cam}",
                                json={"allow_basic_auth": False})).status_code == 200
        with_pw = await reg.patch(f"/api/cameras/{cam}",
                                  json={"allow_basic_auth": True, "password": "New-pw-1"})
        assert with_pw.status_code == 200 and with_pw.json()["allow_basic_auth"] is True
        rows = await _audit(admin, "camera.allow_basic_auth", cam)
        assert [(r["before"], r["after"]) for r in rows] == [
            ({"allow_basic_auth": False}, {"allow_basic_auth": True, "with_new_password": True})]
        cam2 = await _camera(admin, "Quầy 2", "rtsp://192.0.2.11/live")
        by_admin = await admin.patch(f"/api/cameras/{cam2}", json={"allow_basic_auth": True})
        assert by_admin.status_code == 200 and by_admin.json()["allow_basic_auth"] is True
        assert by_admin.json()["has_credentials"] is True
        assert len(await _audit(admin, "camera.allow_basic_auth", cam2)) == 1


def test_origins_compare_scheme_host_and_effective_port() -> None:
    assert origin.rtsp_origin("rtsp://Cam.Example.VN/a") == ("rtsp", "cam.example.vn", 554)
    assert origin.rtsp_origin("RTSP://cam.example.vn:554/b") == ("rtsp", "cam.example.vn", 554)
    assert origin.rtsp_origin("rtsps://cam.example.vn/b") != \
        origin.rtsp_origin("rtsp://cam.example.vn/b")
    assert origin.rtsp_origin("rtsp://cam.example.vn:8554/b") != \
        origin.rtsp_origin("rtsp://cam.example.vn/b")
    assert origin.onvif_origin("Cam.Example.VN") == origin.onvif_origin("cam.example.vn:80")
