"""A registrar of one province sees and changes only that province, on every route that
names a camera or a province; an operator sees all."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.routing import Route

from iocwall.wall.access import Role
from iocwall.wall.app import build_app
from tests.fixtures.app import USER_PASSWORD
from tests.fixtures.simulator import SimProcess
from tests.registry_helpers import Recorder, play, recording_client, registry_server
from tests.test_registry_api import camera_body

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


async def test_a_registrar_reaches_only_its_own_province(simulator: SimProcess,
                                                         tmp_path: Path) -> None:
    rec = Recorder()
    async with registry_server(tmp_path) as server, recording_client(server, rec) as http:
        await server.login(http)
        hn = (await http.post("/api/cameras", json=camera_body(simulator, 1))).json()["id"]
        hue = (await http.post("/api/cameras", json=camera_body(
            simulator, 2, province="Huế"))).json()["id"]
        for code in ("HA-NOI", "HUE"):
            await http.put(f"/api/registry/profiles/{code}",
                           json={"province": code, "centre": f"TT {code}"})
        made = await http.post("/api/users", json={"username": "hue-reg", "password":
                                                   USER_PASSWORD, "role": "registrar",
                                                   "province": "Thừa Thiên Huế"})
        assert made.status_code == 201 and made.json()["unit"] == "HUE", made.text
        await server.add_user("op1", Role.OPERATOR)

    # (same data dir, a fresh server: the registry and users persist)
    async with registry_server(tmp_path) as server, recording_client(server, rec) as http:
        await server.login(http, "hue-reg", USER_PASSWORD)
        assert [c["id"] for c in (await http.get("/api/cameras")).json()] == [hue]
        assert (await http.get(f"/api/cameras/{hue}")).status_code == 200

        app = build_app(server.services)
        checked = 0
        for r in app.routes:
            if not isinstance(r, Route) or "{camera}" not in r.path:
                continue
            path = r.path.replace("{camera}", hn)
            path = re.sub(r"\{[^}]+\}", lambda m: "sub" if "stream" in m.group() else "x", path)
            for method in sorted(r.methods or []):
                if method == "HEAD":
                    continue
                # a body of the type the route takes, so the province check is what answers
                body_type = getattr(r, "accepts", "application/json")
                response = await http.request(method, path, content=b'{"name": "hijack"}',
                                              headers={"Content-Type": body_type})
                assert response.status_code == 404, (method, path, response.text)
                checked += 1
        assert checked >= 7

        viewer, answer = await play(http, hn)
        await viewer.close()
        assert answer.status_code == 404
        mine, answer = await play(http, hue)
        try:
            assert answer.status_code == 201
        finally:
            await mine.close()

        assert (await http.post("/api/cameras", json=camera_body(simulator, 3))).status_code \
            == 403
        moved = await http.patch(f"/api/cameras/{hue}", json={"province": "Hà Nội"})
        assert moved.status_code == 403
        assert (await http.get("/api/registry/profiles/HA-NOI")).status_code == 404
        assert (await http.put("/api/registry/profiles/HA-NOI",
                               json={"province": "HA-NOI", "centre": "x"})).status_code == 403
        assert [p["province"] for p in (await http.get("/api/registry/profiles")).json()] \
            == ["HUE"]
        assert (await http.get("/api/registry/checklist",
                               params={"province": "HA-NOI"})).status_code == 404
        own = (await http.get("/api/registry/checklist")).json()
        assert own["province"] == "HUE" and [c["id"] for c in own["cameras"]] == [hue]
        header = "Tỉnh/Thành phố,Trung tâm,Tên camera,RTSP luồng chính"
        imported = await http.post("/api/registry/import", json={
            "format": "csv", "content": f"{header}\nHà Nội,TT,Q9,rtsp://10.0.0.9:554/a\n"})
        assert imported.status_code == 422
        assert imported.json()["rows"][0]["errors"][0]["field"] == "province"
        page = await http.get("/live", headers={"Accept": "text/html"})
        assert page.status_code == 200
        still = await server.services.registry.get(hn)
        assert still is not None and still.name == "Quầy 1"

    async with registry_server(tmp_path) as server, server.client() as http:
        await server.login(http, "op1", USER_PASSWORD)
        assert sorted(c["id"] for c in (await http.get("/api/cameras")).json()) == [hn, hue]
    assert simulator.password not in rec.text()
