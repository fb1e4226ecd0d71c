"""Issue 17 (low): names that read like other names are refused where they enter, and a
registrar cannot learn which camera ids exist in other provinces."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from iocwall.wall.access import Role
from iocwall.wall.text import clean_text, name_problem
from tests.fixtures.app import USER_PASSWORD
from tests.registry_helpers import registry_server
from tests.wall_helpers import layout, make_wall, tile, with_cameras

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

LOOKALIKE = "\u202e1 yầuQ"           # shows as "Quầy 1"
HIDDEN = ["\u202e", "\u202d", "\u2066", "\u200b", "\u200d", "\ufeff", "\u2028", "\x07", "\t"]


def test_the_name_rule_is_the_audit_rule() -> None:
    for char in HIDDEN:
        text = f"Quầy{char}1"
        assert name_problem(text) is not None, repr(char)
        assert clean_text(text) != text                    # the audit would change it too
    for fine in ("Quầy 1", "Sảnh chờ – tầng 2", "Trung tâm PVHCC Hà Nội", "  Quầy 2 "):
        assert name_problem(fine) is None, fine


def _refused(response: httpx.Response, field: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field, error
    assert "U+" in error["message"], error


async def test_hidden_characters_in_names_get_a_422_naming_the_field(tmp_path: Path) -> None:
    from tests.registry_helpers import registry_config

    config = with_cameras(registry_config(tmp_path / "data"))
    async with registry_server(tmp_path, config) as server, server.client() as http:
        await server.login(http)
        base = {"province": "Hà Nội", "centre": "TT PVHCC", "name": "Quầy 1",
                "rtsp_main": "rtsp://192.0.2.1/live"}
        for field in ("name", "centre", "location"):
            _refused(await http.post("/api/cameras", json={**base, field: LOOKALIKE}), field)
        _refused(await http.post("/api/cameras", json={**base, "name": "Quầy\u200b1"}), "name")
        _refused(await http.post("/api/cameras", json={**base, "tags": ["sảnh\u200d"]}), "tags")
        made = await http.post("/api/cameras", json=base)
        assert made.status_code == 201, made.text
        cam = made.json()["id"]
        _refused(await http.patch(f"/api/cameras/{cam}", json={"name": LOOKALIKE}), "name")
        assert (await http.get(f"/api/cameras/{cam}")).json()["name"] == "Quầy 1"
        names = [c["name"] for c in (await http.get("/api/cameras")).json()]
        assert not any(name_problem(n) for n in names), names

        profile: dict[str, Any] = {"province": "HA-NOI", "centre": "TT PVHCC"}
        _refused(await http.put("/api/registry/profiles/HA-NOI",
                                json={**profile, "centre": "TT\u202ePVHCC"}), "centre")
        _refused(await http.put("/api/registry/profiles/HA-NOI", json={
            **profile, "contacts": [{"name": "Nguyễn\u200bA", "phone": "0912345678",
                                     "role": "technical"}]}), "contacts.0.name")
        _refused(await http.put("/api/registry/profiles/HA-NOI",
                                json={**profile, "path": ["camera", "switch\u2066"]}), "path")
        assert (await http.get("/api/registry/profiles/HA-NOI")).status_code == 404

        imported = await http.post("/api/registry/import", json={
            "format": "csv", "content": "Tỉnh/Thành phố,Trung tâm,Tên camera,RTSP luồng chính\n"
                                        f"Hà Nội,TT,{LOOKALIKE},rtsp://192.0.2.2/a\n"})
        assert imported.status_code == 422
        assert imported.json()["rows"][0]["errors"][0]["field"] == "name"

        _refused(await http.post("/api/walls", json={
            "id": "w1", "name": "Tường\u202e1", "columns": 2, "rows": 1,
            "monitors": ["1", "2"]}), "name")
        await make_wall(http)
        push = "/api/walls/w1/monitors/1/layout"
        _refused(await http.put(push, json=layout(tile("a", 0, 0), name=LOOKALIKE)), "name")
        text_tile = {"id": "t", "kind": "text", "text": "Chào\u200b", "x": 1, "y": 0,
                     "w": 1, "h": 1}
        _refused(await http.put(push, json=layout(tile("a", 0, 0), text_tile)),
                 "tiles[1].text")
        assert (await http.get(push)).json() is None            # nothing was pushed
        _refused(await http.put("/api/walls/w1/presets/Ca%E2%80%8Bsáng", json={
            "monitors": {"1": layout(tile("a", 0, 0))}}), "name")
        _refused(await http.put("/api/walls/w1/presets/morning", json={
            "monitors": {"1": layout(tile("a", 0, 0), name="Sáng\u2066")}}),
            "monitors.1.name")
        rule = {"name": "Quầy 3 đông", "centre": "hn-01", "counter": "3", "threshold": 5,
                "duration_s": 0.5, "camera": "cam-3", "monitor": "2"}
        _refused(await http.post("/api/walls/w1/rules", json={**rule, "name": LOOKALIKE}),
                 "name")
        assert (await http.get("/api/walls/w1/rules")).json() == []
        assert (await http.post("/api/walls/w1/rules", json=rule)).status_code == 201

        _refused(await http.post("/api/tokens", json={"label": "wall\u200bpc", "role":
                                                      "display"}), "label")
        _refused(await http.post("/api/users", json={
            "username": "ad\u200dmin", "password": USER_PASSWORD, "role": "operator"}),
            "username")
        _refused(await http.post("/api/users", json={
            "username": "op2", "password": USER_PASSWORD, "role": "operator",
            "display_name": LOOKALIKE}), "display_name")


async def test_a_registrar_cannot_tell_which_ids_other_provinces_use(tmp_path: Path) -> None:
    async with registry_server(tmp_path) as server, server.client() as admin, \
            server.client() as reg:
        await server.login(admin)
        for cam_id in ("hue-quay-1", "secret-cam"):
            made = await admin.post("/api/cameras", json={
                "id": cam_id, "province": "Huế", "centre": "TT", "name": cam_id,
                "rtsp_main": "rtsp://192.0.2.3/live"})
            assert made.status_code == 201, made.text
        await server.add_user("reg-hn", Role.REGISTRAR, "HA-NOI")
        await server.login(reg, "reg-hn", USER_PASSWORD)
        body = {"province": "Hà Nội", "centre": "TT", "name": "Q",
                "rtsp_main": "rtsp://192.0.2.4/live"}

        async def answer(cam_id: str | None) -> tuple[int, Any]:
            r = await reg.post("/api/cameras", json={**body, "id": cam_id} if cam_id else body)
            return r.status_code, r.json()

        # an id that exists in Huế and one that exists nowhere get the same answer
        for taken, free in (("hue-quay-1", "hue-quay-9"), ("secret-cam", "free-cam")):
            assert await answer(taken) == await answer(free)
            status, data = await answer(taken)
            assert status == 422 and data["error"]["field"] == "id", data
        header = "Mã camera,Tỉnh/Thành phố,Trung tâm,Tên camera,RTSP luồng chính"

        async def imported(cam_id: str) -> Any:
            r = await reg.post("/api/registry/import", json={
                "format": "csv", "content": f"{header}\n{cam_id},Hà Nội,TT,Q,rtsp://192.0.2.5/a"})
            assert r.status_code == 422
            return r.json()["rows"][0]["errors"]
        assert await imported("secret-cam") == await imported("free-cam")
        assert await imported("hue-quay-1") == await imported("hue-quay-9")

        # ids in the registrar's own namespace work, and a taken one there says so
        assert (await answer("ha-noi-quay-1"))[0] == 201
        again = await answer("ha-noi-quay-1")
        assert again[0] == 409 and again[1]["error"]["field"] == "id"
        assert (await answer(None))[0] == 201                   # a generated id
        # nobody files a camera under another province's prefix
        wrong = await admin.post("/api/cameras", json={**body, "id": "hue-quay-2"})
        assert wrong.status_code == 422 and wrong.json()["error"]["field"] == "id"
        hue_ids = {c["id"] for c in (await admin.get("/api/cameras")).json()
                   if c["province"] == "HUE"}
    assert hue_ids == {"hue-quay-1", "secret-cam"}
