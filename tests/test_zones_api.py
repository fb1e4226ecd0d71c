"""Queue zones as data: GET/PUT /api/cameras/{camera}/zones, validation, roles, audit, and
the seed from [[analytics.zones]] (first start only: an operator's edits stay)."""
from __future__ import annotations

from pathlib import Path

import pytest

from iocwall.wall.access import Role
from iocwall.wall.config import Config, ZoneConfig
from iocwall.wall.registry.model import CameraIn
from tests.fixtures.app import USER_PASSWORD, LiveServer, make_config, start_live_server
from tests.fixtures.ports import free_port

SQUARE = [[10, 10], [200, 10], [200, 150], [10, 150]]
BOW_TIE = [[10, 10], [200, 150], [200, 10], [10, 60]]   # the edges cross


@pytest.fixture
def app_config(tmp_path: Path) -> Config:
    config = make_config(tmp_path / "data")
    config.analytics.tap_address = f"tcp://127.0.0.1:{free_port()}"    # never the default's
    return config


async def _camera(server: LiveServer, camera_id: str, province: str = "HA-NOI") -> None:
    await server.services.registry.add(CameraIn(
        id=camera_id, province=province, centre="TT", name=camera_id,
        rtsp_main="rtsp://127.0.0.1:8554/x"), "test")


async def test_put_get_and_audit(live_server: LiveServer) -> None:
    await _camera(live_server, "cam1")
    async with live_server.client() as http:
        await live_server.login(http)
        empty = await http.get("/api/cameras/cam1/zones")
        assert empty.status_code == 200 and empty.json()["zones"] == []
        put = await http.put("/api/cameras/cam1/zones",
                             json={"zones": [{"id": "c1", "polygon": SQUARE}]})
        assert put.status_code == 200, put.text
        got = (await http.get("/api/cameras/cam1/zones")).json()
        assert got["zones"] == [{"id": "c1", "polygon": [[float(x), float(y)] for x, y in SQUARE]}]
        assert got["updated_by"] == "admin" and got["updated_at"].endswith("+07:00")
        audit = (await http.get("/api/audit", params={"action": "analytics.zones"})).json()
        entries = audit["entries"] if isinstance(audit, dict) else audit
        assert entries[0]["target"] == "camera:cam1"
        assert entries[0]["before"] == {"zones": []}
        assert entries[0]["after"]["zones"][0]["id"] == "c1"
        assert (await http.get("/api/cameras/nope/zones")).status_code == 404
        analytics = live_server.services.analytics
        assert analytics is not None          # the tap now follows cam1 (its camera is down)
        assert list(analytics.zones_by_camera()) == ["cam1"]  # type: ignore[attr-defined]
        removed = await http.put("/api/cameras/cam1/zones", json={"zones": []})
        assert removed.status_code == 200 and removed.json()["zones"] == []
        assert analytics.zones_by_camera() == {}  # type: ignore[attr-defined]


async def test_bad_zones_get_a_clear_422_and_change_nothing(live_server: LiveServer) -> None:
    await _camera(live_server, "cam1")
    async with live_server.client() as http:
        await live_server.login(http)
        ok = await http.put("/api/cameras/cam1/zones",
                            json={"zones": [{"id": "c1", "polygon": SQUARE}]})
        assert ok.status_code == 200
        cases = [
            ({"zones": [{"id": "c1", "polygon": SQUARE}, {"id": "c2", "polygon": BOW_TIE}]},
             "zones.1.polygon", "c2", "cross"),
            ({"zones": [{"id": "c3", "polygon": SQUARE[:2]}]}, "zones.0.polygon", "c3", "3 to"),
            ({"zones": [{"id": "c4", "polygon": [[1, 1], [1, 1], [50, 50]]}]},
             "zones.0.polygon", "c4", "repeated"),
            ({"zones": [{"id": "c5", "polygon": [[0, 0], [10, 10], [20, 20]]}]},
             "zones.0.polygon", "c5", "no area"),
            ({"zones": [{"id": "c1", "polygon": SQUARE}, {"id": "c1", "polygon": SQUARE}]},
             "zones.1.id", "c1", "twice"),
            ({"zones": [{"id": "bad id!", "polygon": SQUARE}]}, "zones.0.id", "", ""),
            ({"zones": [{"id": "c1", "polygon": [["a", 1], [2, 3], [4, 5]]}]},
             "zones.0.polygon.0.0", "", ""),
            ({"zones": [], "extra": 1}, "extra", "", "unknown field"),
            ({}, "zones", "", ""),
        ]
        for body, field, zone, reason in cases:
            r = await http.put("/api/cameras/cam1/zones", json=body)
            assert r.status_code == 422, (body, r.text)
            error = r.json()["error"]
            assert error["field"] == field, (body, error)
            assert zone in error["message"] and reason in error["message"], (body, error)
        r = await http.put("/api/cameras/cam1/zones", content=b"{not json",
                           headers={"Content-Type": "application/json"})
        assert r.status_code == 400
        r = await http.put("/api/cameras/cam1/zones", content=b"zones",
                           headers={"Content-Type": "text/plain"})
        assert r.status_code == 415
        got = (await http.get("/api/cameras/cam1/zones")).json()
        assert [z["id"] for z in got["zones"]] == ["c1"], "a refused PUT changed the zones"


async def test_roles_and_province_scope(live_server: LiveServer) -> None:
    await _camera(live_server, "hn1", "HA-NOI")
    await _camera(live_server, "hue1", "HUE")
    await live_server.add_user("lead", Role.LEADER)
    await live_server.add_user("op", Role.OPERATOR)
    await live_server.add_user("reg", Role.REGISTRAR, "HA-NOI")
    body = {"zones": [{"id": "c1", "polygon": SQUARE}]}
    async with live_server.client() as http:
        await live_server.login(http, "lead", USER_PASSWORD)
        assert (await http.get("/api/cameras/hn1/zones")).status_code == 200
        assert (await http.put("/api/cameras/hn1/zones", json=body)).status_code == 403
    async with live_server.client() as http:
        await live_server.login(http, "op", USER_PASSWORD)
        assert (await http.put("/api/cameras/hue1/zones", json=body)).status_code == 200
    async with live_server.client() as http:
        await live_server.login(http, "reg", USER_PASSWORD)
        assert (await http.put("/api/cameras/hn1/zones", json=body)).status_code == 200
        assert (await http.get("/api/cameras/hue1/zones")).status_code == 404
        assert (await http.put("/api/cameras/hue1/zones", json=body)).status_code == 404
    assert [z.id for z in (await live_server.services.zones.get("hue1")).zones] == ["c1"]


async def test_config_seeds_once_and_edits_stay(tmp_path: Path) -> None:
    config = make_config(tmp_path / "data")
    config.analytics.zones = [ZoneConfig(camera="cam9", id="c1", polygon=SQUARE),
                              ZoneConfig(camera="cam9", id="c2", polygon=[[300, 10], [400, 10],
                                                                          [400, 90]])]
    async with start_live_server(config) as server:
        assert [z.id for z in (await server.services.zones.get("cam9")).zones] == ["c1", "c2"]
        before, after = await server.services.zones.put("cam9", [], "admin")
        assert len(before.zones) == 2 and after.zones == []
    async with start_live_server(config) as server:      # same data: not seeded again
        assert (await server.services.zones.get("cam9")).zones == []
        assert await server.services.zones.all() == {}
