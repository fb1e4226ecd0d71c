"""Display pairing and display nodes against an attacker (issue 17): rate limit, unique and
expiring codes, what the approving admin sees, revoke that ends everything, tokens made on
an admin token's approval, queue counts scoped like the cameras, audit of the anonymous parts."""
from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from typing import Any

import httpx
import pytest
import websockets

from iocwall.analytics.messages import Result, ZoneCount
from iocwall.wall.config import CameraConfig, Config
from iocwall.wall.walls import pairing as pairing_module
from tests.fixtures.app import LiveServer, start_live_server
from tests.wall_helpers import layout, make_wall, open_display, tile, with_cameras
from tests.whep_client import Viewer

ISO_VN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+07:00$")
APPROVE = {"wall": "w1", "monitors": {"1": "HDMI-1"}}


@pytest.fixture
def wall_config(app_config: Config) -> Config:
    return with_cameras(app_config)


async def _audit(admin: httpx.AsyncClient, action: str) -> list[dict[str, Any]]:
    r = await admin.get("/api/audit", params={"action": action})
    assert r.status_code == 200, r.text
    return [e for e in r.json()["entries"] if e["action"] == action]


async def _paired(server: LiveServer, admin: httpx.AsyncClient,
                  approver: httpx.AsyncClient | None = None) -> tuple[str, str]:
    """A node paired to w1/1 (approved by ``approver``, else ``admin``): (node, its token)."""
    async with server.client(headers={"User-Agent": "kiosk-test/1"}) as node:
        started = (await node.post("/api/display/pair", json={"name": "PC-01"})).json()
        r = await (approver or admin).post(f"/api/display/pairings/{started['code']}/approve",
                                           json=APPROVE)
        assert r.status_code == 200, r.text
        answer = (await node.post(f"/api/display/pair/{started['node']}/poll",
                                  json={"secret": started["secret"]})).json()
    assert answer["token"], answer
    return started["node"], answer["token"]


async def test_pairing_starts_are_rate_limited_per_address_and_audited(
        wall_config: Config) -> None:
    wall_config.wall.pair_per_address = 3
    async with start_live_server(wall_config) as server, server.client() as admin:
        await server.login(admin)
        async with server.client() as node:
            for _ in range(3):
                assert (await node.post("/api/display/pair", json={})).status_code == 201
            refused = [await node.post("/api/display/pair", json={}) for _ in range(20)]
        assert {r.status_code for r in refused} == {429}
        assert int(refused[0].headers["Retry-After"]) >= 1
        assert refused[0].json()["error"]["code"] == "rate_limited"
        assert len((await admin.get("/api/display/pairings")).json()) == 3   # nothing stored
        starts = await _audit(admin, "display.pair")
        assert len(starts) == 3 and {e["client"] for e in starts} == {"127.0.0.1"}
        assert all(e["actor"] == "(anonymous)" for e in starts)
        # 20 refusals in well under a second: folded into one entry, not 20
        refusals = await _audit(admin, "display.pair.refused")
        assert 1 <= len(refusals) <= 2 and refusals[0]["client"] == "127.0.0.1"


async def test_codes_are_long_unique_among_open_pairings_and_bounded(
        wall_config: Config, monkeypatch: pytest.MonkeyPatch) -> None:
    wall_config.wall.pair_max_open = 3
    async with start_live_server(wall_config) as server, server.client() as node:
        first = (await node.post("/api/display/pair", json={})).json()
        code = first["code"].replace("-", "")
        assert len(code) == 8 and set(code) <= set(pairing_module.CODE_ALPHABET)
        # the store refuses a second open pairing with the same code ...
        with pytest.raises(sqlite3.IntegrityError):
            await server.services.store.execute(
                "INSERT INTO display_nodes(id, name, code, poll_hash, state, created_at,"
                " expires) VALUES('x', 'x', ?, 'h', 'pending', '', ?)", (code, time.time() + 60))
        # ... so a drawn code that is taken is drawn again
        draws = iter([code, code, "BBBBCCCC"])
        monkeypatch.setattr(pairing_module, "new_code", lambda: next(draws))
        second = (await node.post("/api/display/pair", json={})).json()
        assert second["code"] == "BBBB-CCCC"
        monkeypatch.setattr(pairing_module, "new_code", lambda: code)
        r = await node.post("/api/display/pair", json={})
        assert r.status_code == 503 and r.headers["Retry-After"]
        monkeypatch.undo()
        assert (await node.post("/api/display/pair", json={})).status_code == 201
        # at most pair_max_open open at once, whoever asks
        r = await node.post("/api/display/pair", json={})
        assert r.status_code == 503 and r.json()["error"]["code"] == "too_many_pairings"
        assert int(r.headers["Retry-After"]) >= 1
        rows = await server.services.store.fetchone(
            "SELECT COUNT(*) AS n FROM display_nodes WHERE state = 'pending'")
        assert rows is not None and rows["n"] == 3


async def test_pairings_expire_and_the_admin_sees_which_node(wall_config: Config) -> None:
    async with start_live_server(wall_config) as server, server.client() as admin:
        await server.login(admin)
        await make_wall(admin)
        async with server.client(headers={"User-Agent": "kiosk-test/1"}) as node:
            old = (await node.post("/api/display/pair", json={"name": "PC-old"})).json()
            new = (await node.post("/api/display/pair", json={"name": "PC-new"})).json()
        listed = (await admin.get("/api/display/pairings")).json()
        assert [p["node"] for p in listed] == [old["node"], new["node"]]
        shown = listed[1]
        assert shown["code"] == new["code"] and shown["name"] == "PC-new"
        assert shown["address"] == "127.0.0.1" and shown["user_agent"] == "kiosk-test/1"
        assert ISO_VN.match(shown["first_seen"]) and ISO_VN.match(shown["expires_at"])
        # the older pairing runs out: it cannot be approved, is not listed, and is purged
        await server.services.store.execute(
            "UPDATE display_nodes SET expires = ? WHERE id = ?", (time.time() - 1, old["node"]))
        r = await admin.post(f"/api/display/pairings/{old['code']}/approve", json=APPROVE)
        assert r.status_code == 404 and r.json()["error"]["field"] == "code"
        async with server.client() as node:
            r = await node.post(f"/api/display/pair/{old['node']}/poll",
                                json={"secret": old["secret"]})
            assert r.status_code == 404
        assert [p["node"] for p in (await admin.get("/api/display/pairings")).json()] == [
            new["node"]]
        assert await server.services.store.fetchone(
            "SELECT id FROM display_nodes WHERE id = ?", (old["node"],)) is None
        # approving answers which node it was; typed in lower case without the dash
        typed = new["code"].replace("-", "").lower()
        r = await admin.post(f"/api/display/pairings/{typed}/approve", json=APPROVE)
        assert r.status_code == 200
        assert r.json() == {"node": new["node"], "name": "PC-new", "address": "127.0.0.1",
                            "user_agent": "kiosk-test/1", "first_seen": shown["first_seen"]}
        approved = (await _audit(admin, "display.approve"))[0]
        assert approved["after"]["address"] == "127.0.0.1"


async def test_revoke_ends_token_sessions_and_open_sockets(wall_config: Config) -> None:
    async with start_live_server(wall_config) as server, server.client() as admin:
        await server.login(admin)
        await make_wall(admin)
        await admin.put("/api/walls/w1/monitors/1/layout", json=layout(tile("a", 0, 0, "cam-1")))
        node, token = await _paired(server, admin)
        bearer = {"Authorization": f"Bearer {token}"}
        async with server.client(headers=bearer) as by_token:
            r = await by_token.post("/api/display/session")
            assert r.status_code == 200
            cookies = {"iocwall_display": r.cookies["iocwall_display"]}
            assert (await by_token.get("/api/me")).status_code == 200
        display = await open_display(server.url, "w1", "1", cookies)
        await display.wait_layouts(1)
        with_token = await websockets.connect(
            server.url.replace("http://", "ws://") + "/ws/display/w1/1",
            additional_headers=bearer)

        r = await admin.post(f"/api/display/nodes/{node}/revoke")
        assert r.status_code == 200
        # open sockets are closed at once (code 4403), both kinds
        for ws in (display.ws, with_token):
            async with asyncio.timeout(1.0):
                await ws.wait_closed()
            assert ws.close_code == 4403
        await display.close()
        async with server.client(headers=bearer) as by_token:
            assert (await by_token.get("/api/me")).status_code == 401
            assert (await by_token.get("/api/walls/w1/monitors/1/layout")).status_code == 401
            r = await by_token.post("/api/cameras/cam-1/whep/sub", content=b"v=0",
                                    headers={"Content-Type": "application/sdp"})
            assert r.status_code == 401
            assert (await by_token.post("/api/display/session")).status_code == 401
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(server.url.replace("http://", "ws://")
                                     + "/ws/display/w1/1", additional_headers=bearer)
        async with httpx.AsyncClient(base_url=server.url, cookies=cookies) as kiosk:
            assert (await kiosk.get("/api/me")).status_code == 401
            assert (await kiosk.get("/api/walls/w1/monitors/1/layout")).status_code == 401
            r = await kiosk.post("/api/cameras/cam-1/whep/sub", content=b"v=0",
                                 headers={"Content-Type": "application/sdp"})
            assert r.status_code == 401
        with pytest.raises(websockets.InvalidStatus):
            await open_display(server.url, "w1", "1", cookies)
        assert (await admin.post("/api/display/nodes/nope/revoke")).status_code == 404
        sessions = await _audit(admin, "display.session")       # the exchange is audited
        assert [e["target"] for e in sessions] == [f"display:{node}"]


async def test_display_token_from_an_admin_token_dies_with_it(wall_config: Config) -> None:
    async with start_live_server(wall_config) as server, server.client() as admin:
        await server.login(admin)
        await make_wall(admin)
        made = (await admin.post("/api/tokens", json={"label": "ops-script", "role": "admin",
                                                      "expires_in_days": 2})).json()
        async with server.client(headers={"Authorization": f"Bearer {made['token']}"}) as bot:
            node, token = await _paired(server, admin, approver=bot)
        tokens = {t["label"]: t for t in (await admin.get("/api/tokens")).json()["tokens"]}
        display = tokens[f"display-node:{node}"]
        assert display["expires_at"] <= made["expires_at"]     # same offset: ISO compares
        assert display["created_by"] == made["created_by"]
        async with server.client(headers={"Authorization": f"Bearer {token}"}) as kiosk:
            assert (await kiosk.get("/api/me")).status_code == 200
            r = await kiosk.post("/api/display/session")
            cookies = {"iocwall_display": r.cookies["iocwall_display"]}
        async with httpx.AsyncClient(base_url=server.url, cookies=cookies) as by_cookie:
            assert (await by_cookie.get("/api/me")).status_code == 200
            assert (await admin.delete(f"/api/tokens/{made['id']}")).status_code == 200
            assert (await by_cookie.get("/api/me")).status_code == 401   # its session too
        async with server.client(headers={"Authorization": f"Bearer {token}"}) as kiosk:
            assert (await kiosk.get("/api/me")).status_code == 401
        # approved in a session: the server's own token, as before (outlives nothing)
        _, token = await _paired(server, admin)
        async with server.client(headers={"Authorization": f"Bearer {token}"}) as kiosk:
            assert (await kiosk.get("/api/me")).status_code == 200


async def test_a_display_sees_only_its_cameras_queue_counts(wall_config: Config) -> None:
    async with start_live_server(wall_config) as server, server.client() as admin:
        await server.login(admin)
        await make_wall(admin)
        # cam-1 on a camera tile; cam-3 counted by a queue tile (counts only, no video)
        queue = {"id": "q", "kind": "queue", "x": 1, "y": 0, "w": 1, "h": 1, "centre": "cam-3",
                 "counters": ["c1"]}
        r = await admin.put("/api/walls/w1/monitors/1/layout",
                            json=layout(tile("a", 0, 0, "cam-1"), queue))
        assert r.status_code == 200, r.text
        now = time.time()
        for camera in ("cam-1", "cam-2", "cam-3"):
            server.services.queues.update(Result(camera, 1, now, now, "w", [
                ZoneCount("c1", 3, None, 0.0)]))
        assert {r["camera"] for r in (await admin.get("/api/queues")).json()} == {
            "cam-1", "cam-2", "cam-3"}
        _, token = await _paired(server, admin)
        async with server.client(headers={"Authorization": f"Bearer {token}"}) as kiosk:
            assert [r["camera"] for r in (await kiosk.get("/api/queues")).json()] == [
                "cam-1", "cam-3"]
            r = await kiosk.get("/api/queues", params={"camera": "cam-2"})
            assert r.status_code == 200 and r.json() == []
            assert (await kiosk.get("/api/cameras/cam-3")).status_code == 403   # no video


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_revoke_ends_the_displays_live_viewers(app_config: Config, simulator) -> None:  # noqa: ANN001
    """A real WHEP viewer of the display (simulator camera, aiortc peer, media in its own
    process) is ended by revoke; another user's viewer of the same camera keeps playing."""
    app_config.cameras = [CameraConfig(id="cam1", name="Camera 1",
                                       main_url=simulator.url(1, "main", auth=False),
                                       sub_url=simulator.url(1, "sub", auth=False),
                                       username=simulator.user, password=simulator.password)]
    app_config.webrtc.ice_addresses = ["127.0.0.1"]
    async with start_live_server(app_config) as server, server.client() as admin:
        await server.login(admin)
        await make_wall(admin)
        await admin.put("/api/walls/w1/monitors/1/layout", json=layout(tile("a", 0, 0, "cam1")))
        node, token = await _paired(server, admin)
        media = server.services.media
        async with server.client(headers={"Authorization": f"Bearer {token}"}) as kiosk:
            mine = await _play(kiosk)
        theirs = await _play(admin)
        try:
            assert {s.user for s in await media.session_refs()} == {
                f"token:display-node:{node}", "admin"}
            r = await admin.post(f"/api/display/nodes/{node}/revoke")
            assert r.status_code == 200
            assert [s.user for s in await media.session_refs()] == ["admin"]
            assert r.json()["viewers_ended"] == 1
            await theirs.count_during(0.5)
            assert len(await theirs.count_during(1.0)) > 5          # still playing
        finally:
            await mine.close()
            await theirs.close()


async def _play(http: httpx.AsyncClient) -> Viewer:
    viewer = Viewer()

    async def post(sdp: str) -> str:
        r = await http.post("/api/cameras/cam1/whep/sub", content=sdp,
                            headers={"Content-Type": "application/sdp"})
        assert r.status_code == 201, r.text
        return r.text

    await viewer.play(post)
    await viewer.first_frame()
    return viewer
