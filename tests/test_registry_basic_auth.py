"""``allow_basic_auth`` on registered cameras (issue 9 through the registry): a camera that asks
only for Basic never gets the password from the media server or "Test connection" unless its
entry allows it; with it allowed, it plays. API round-trip, audit, bulk import column."""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.fixtures.simulator import SimProcess
from tests.registry_helpers import Recorder, play, recording_client, registry_server
from tests.test_streams_credentials import PASSWORD, USER, AuthCamera
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


class BasicOnlyCamera(AuthCamera):
    """AuthCamera's Basic check in front of a real stream: requests that pass it go on to a
    simulator without credentials, and its answers (RTP interleaved too) come back unchanged.
    A request without good Basic credentials gets a 401 and never reaches the simulator."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__('Basic realm="camera"')
        self.upstream_port = upstream_port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        back = asyncio.ensure_future(_pipe(up_reader, writer))
        try:
            while True:
                first = await reader.readexactly(1)
                if first == b"$":                      # interleaved RTCP from the client
                    head = await reader.readexactly(3)
                    body = await reader.readexactly(int.from_bytes(head[1:], "big"))
                    up_writer.write(first + head + body)
                    continue
                head = first + await reader.readuntil(b"\r\n\r\n")
                text = head.decode()
                headers = {k.strip().lower(): v.strip() for k, _, v in
                           (line.partition(":") for line in text.split("\r\n")[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                auth = headers.get("authorization", "")
                if auth:
                    self.authorizations.append(auth)
                if not self._ok(text.split(" ", 1)[0], auth):
                    writer.write(f"RTSP/1.0 401 Unauthorized\r\nCSeq: {headers.get('cseq')}\r\n"
                                 f"WWW-Authenticate: {self.challenge}\r\n\r\n".encode())
                    continue
                self.accepted.append(text.split(" ", 1)[0])
                up_writer.write(head + body)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            back.cancel()
            up_writer.close()
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass




async def test_registered_camera_sends_basic_only_when_its_entry_allows_it(
        simulator_factory, tmp_path: Path) -> None:
    sim: SimProcess = simulator_factory(cameras=1, user="")
    camera = BasicOnlyCamera(sim.rtsp_port)
    rec = Recorder()
    async with camera as port, registry_server(tmp_path) as server, \
            recording_client(server, rec) as http:
        await server.login(http)
        body = {"province": "Hà Nội", "centre": "TT PVHCC", "name": "Basic only",
                "rtsp_main": f"rtsp://127.0.0.1:{port}/cam1/main",
                "rtsp_sub": f"rtsp://127.0.0.1:{port}/cam1/sub", "transport": "tcp",
                "username": USER, "password": PASSWORD}
        created = await http.post("/api/cameras", json=body)
        assert created.status_code == 201, created.text
        cam = created.json()
        assert cam["allow_basic_auth"] is False                 # the default
        media = server.services.media

        async def refused() -> bool:
            health = (await media.camera(cam["id"])).streams["sub"]
            return health.state.value == "lost" and health.reconnects >= 1
        viewer, answer = await play(http, cam["id"])
        try:
            await wait_until(refused, 15, "stream lost on a Basic-only camera")
            assert camera.authorizations == [], "the password was sent without allow_basic_auth"
            assert viewer.frames == []
            tested = (await http.post(f"/api/cameras/{cam['id']}/test", timeout=60)).json()
            assert tested["status"] == "FAIL" and tested["streaming"] is False, tested
            assert camera.authorizations == [], "Test connection sent the password"

            patched = await http.patch(f"/api/cameras/{cam['id']}",
                                       json={"allow_basic_auth": True})
            assert patched.status_code == 200 and patched.json()["allow_basic_auth"] is True
            await viewer.first_frame(timeout=15)               # the same viewer now plays
        finally:
            await viewer.close()
        assert camera.authorizations and all(a.startswith("Basic ")
                                             for a in camera.authorizations)
        assert "PLAY" in camera.accepted
        listed = (await http.get(f"/api/cameras/{cam['id']}")).json()
        assert listed["allow_basic_auth"] is True
        tested = (await http.post(f"/api/cameras/{cam['id']}/test", timeout=60)).json()
        assert tested["status"] in ("PASS", "WARN") and tested["streaming"] is True, tested
        audit = (await http.get("/api/audit", params={"action": "camera.update"})).json()
        entry = audit["entries"][0]
        assert entry["before"]["allow_basic_auth"] is False
        assert entry["after"]["allow_basic_auth"] is True
        assert entry["after"]["credentials_changed"] is False
        rows = await server.services.store.fetchall("SELECT before, after FROM audit")
        audit_text = json.dumps(rows, ensure_ascii=False)
        bad = await http.patch(f"/api/cameras/{cam['id']}", json={"allow_basic_auth": "maybe"})
        assert bad.status_code == 422 and bad.json()["error"]["field"] == "allow_basic_auth"
    assert PASSWORD not in rec.text() and PASSWORD not in audit_text


async def test_bulk_import_reads_the_allow_basic_column(tmp_path: Path) -> None:
    header = "Tỉnh/Thành phố,Trung tâm,Tên camera,RTSP luồng chính,Cho phép xác thực Basic"
    rows = ["Hà Nội,TT,Quầy 1,rtsp://192.0.2.1/a,có", "Hà Nội,TT,Quầy 2,rtsp://192.0.2.2/a,",
            "Hà Nội,TT,Quầy 3,rtsp://192.0.2.3/a,no"]
    async with registry_server(tmp_path) as server, server.client() as http:
        await server.login(http)
        wrong = await http.post("/api/registry/import", json={
            "format": "csv", "content": "\n".join([header, "Hà Nội,TT,Quầy 9,rtsp://192.0.2.9/a,"
                                                   "perhaps"])})
        assert wrong.status_code == 422
        assert [e["field"] for e in wrong.json()["rows"][0]["errors"]] == ["allow_basic_auth"]
        done = await http.post("/api/registry/import",
                               json={"format": "csv", "content": "\n".join([header, *rows])})
        assert done.status_code == 201, done.text
        english = await http.post("/api/registry/import", json={
            "format": "csv", "content": "Province,Centre,Name,RTSP main,Allow Basic auth\n"
                                        "Huế,TT,Gate,rtsp://192.0.2.4/a,yes"})
        assert english.status_code == 201, english.text
        cams = {c["name"]: c["allow_basic_auth"] for c in (await http.get("/api/cameras")).json()}
    assert cams == {"Quầy 1": True, "Quầy 2": False, "Quầy 3": False, "Gate": True}


async def test_seeding_carries_allow_basic_auth(tmp_path: Path) -> None:
    from iocwall.wall.config import CameraConfig
    from tests.registry_helpers import registry_config

    config = registry_config(tmp_path / "data")
    config.cameras = [CameraConfig(id="b1", name="B", main_url="rtsp://192.0.2.5/a",
                                   allow_basic_auth=True),
                      CameraConfig(id="d1", name="D", main_url="rtsp://192.0.2.6/a")]
    async with registry_server(tmp_path, config) as server, server.client() as http:
        await server.login(http)
        listed = {c["id"]: c["allow_basic_auth"] for c in (await http.get("/api/cameras")).json()}
    assert listed == {"b1": True, "d1": False}
