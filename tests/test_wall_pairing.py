"""Display pairing: code, admin approval, token, HttpOnly display session and its limits."""
from __future__ import annotations

import httpx
import pytest
import websockets

from iocwall.wall.config import Config
from tests.fixtures.app import start_live_server
from tests.wall_helpers import layout, make_wall, open_display, tile, with_cameras

# every test on SQLite and on PostgreSQL (issue 19)
pytestmark = pytest.mark.usefixtures("both_stores")


@pytest.fixture
def wall_config(app_config: Config) -> Config:
    return with_cameras(app_config)


async def test_pairing_approval_and_display_session_limits(wall_config: Config) -> None:
    async with start_live_server(wall_config) as server, server.client() as admin:
        await server.login(admin)
        await make_wall(admin)
        await admin.put("/api/walls/w1/monitors/1/layout", json=layout(tile("a", 0, 0, "cam-1")))
        await admin.put("/api/walls/w1/monitors/2/layout", json=layout(tile("b", 0, 0, "cam-2")))
        async with server.client() as node:
            started = (await node.post("/api/display/pair", json={"name": "PC-01"})).json()
            code = started["code"]       # ABCD-EFGH: 8 characters, unambiguous alphabet
            assert len(code) == 9 and code[4] == "-"
            assert set(code.replace("-", "")) <= set("23456789ABCDEFGHJKMNPQRSTUVWXYZ")
            poll = f"/api/display/pair/{started['node']}/poll"
            r = await node.post(poll, json={"secret": "wrong"})
            assert r.status_code == 404
            assert (await node.post(poll, json={"secret": started["secret"]})).json() == {
                "state": "pending", "token": None, "wall": "", "monitors": []}
            assert [p["code"] for p in (await admin.get("/api/display/pairings")).json()] == [
                started["code"]]
            # only an admin approves, and only a code that is waiting
            assert (await node.post(f"/api/display/pairings/{started['code']}/approve",
                                    json={"wall": "w1", "monitors": {"1": "HDMI-1"}})
                    ).status_code == 401
            r = await admin.post("/api/display/pairings/000000x/approve",
                                 json={"wall": "w1", "monitors": {"1": "HDMI-1"}})
            assert r.status_code == 404
            r = await admin.post(f"/api/display/pairings/{started['code']}/approve",
                                 json={"wall": "w1", "monitors": {"1": "HDMI-1"}})
            assert r.status_code == 200 and r.json()["node"] == started["node"]
            answer = (await node.post(poll, json={"secret": started["secret"]})).json()
            token = answer["token"]
            assert token.startswith("iwt_") and answer["wall"] == "w1"
            assert answer["monitors"] == [{"id": "1", "output": "HDMI-1"}]
            again = (await node.post(poll, json={"secret": started["secret"]})).json()
            assert again["state"] == "approved" and again["token"] is None  # handed out once

        wall = (await admin.get("/api/walls/w1")).json()
        assert wall["monitors"][0]["node"] == started["node"]
        assert wall["monitors"][0]["output"] == "HDMI-1"

        # the kiosk page swaps the token for an HttpOnly cookie
        async with server.client() as kiosk:
            r = await kiosk.post("/api/display/session",
                                 headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 200
            set_cookie = r.headers["set-cookie"]
            assert "iocwall_display=" in set_cookie and "HttpOnly" in set_cookie
            assert "SameSite=strict" in set_cookie
            cookies = {"iocwall_display": kiosk.cookies["iocwall_display"]}
        async with httpx.AsyncClient(base_url=server.url, cookies=cookies) as kiosk:
            page = await kiosk.get("/display/w1/1", headers={"Accept": "text/html"})
            assert page.status_code == 200 and "display" in page.text
            assert (await kiosk.get("/display/w1/2")).status_code == 403    # not its monitor
            assert (await kiosk.get("/api/walls/w1/monitors/1/layout")).status_code == 200
            assert (await kiosk.get("/api/walls/w1/monitors/2/layout")).status_code == 403
            assert (await kiosk.get("/api/walls")).status_code == 403
            assert (await kiosk.get("/console")).status_code == 403
            assert (await kiosk.get("/api/users")).status_code == 403
            # cameras: only the ones on its layout
            assert [c["id"] for c in (await kiosk.get("/api/cameras")).json()] == ["cam-1"]
            assert (await kiosk.get("/api/cameras/cam-1")).status_code == 200
            assert (await kiosk.get("/api/cameras/cam-2")).status_code == 403
            assert (await kiosk.get("/api/cameras/cam-2/snapshot.jpg")).status_code == 403
            r = await kiosk.post("/api/cameras/cam-2/whep/sub", content=b"v=0",
                                 headers={"Content-Type": "application/sdp"})
            assert r.status_code == 403
            # its WebSocket: its own monitor only
            display = await open_display(server.url, "w1", "1", cookies)
            assert (await display.wait_layouts(1))["layout"]["tiles"][0]["camera"] == "cam-1"
            await display.close()
            with pytest.raises(websockets.InvalidStatus):
                await open_display(server.url, "w1", "2", cookies)
            # revoked: the session ends at once
            r = await admin.post(f"/api/display/nodes/{started['node']}/revoke")
            assert r.status_code == 200
            assert (await kiosk.get("/display/w1/1")).status_code == 401
        actions = [e["action"] for e in (await admin.get("/api/audit")).json()["entries"]]
        assert "display.approve" in actions and "display.revoke" in actions


async def test_demo_display_opens_without_pairing_on_loopback_only(wall_config: Config) -> None:
    wall_config.wall.demo_open_display = True
    async with start_live_server(wall_config) as server, server.client() as admin:
        await server.login(admin)
        walls = (await admin.get("/api/walls")).json()         # made at start in demo mode
        assert [w["id"] for w in walls] == ["demo"]
        assert walls[0]["monitors"][0]["layout_version"] == 1
        await make_wall(admin, "other")
        async with httpx.AsyncClient(base_url=server.url) as anon:
            assert (await anon.get("/display/demo/1")).status_code == 200
            assert (await anon.get("/display/other/1")).status_code == 401
            assert (await anon.get("/api/walls")).status_code == 401
        display = await open_display(server.url, "demo", "2", {})
        assert (await display.wait_layouts(1))["monitor"] == "2"
        await display.close()
        # a non-loopback client never gets the demo display (ASGI transport sets its address)
        transport = httpx.ASGITransport(app=_app(server), client=("192.0.2.7", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as remote:
            assert (await remote.get("/display/demo/1")).status_code == 401


def _app(server):  # type: ignore[no-untyped-def]
    from iocwall.wall.app import build_app
    return build_app(server.services)
