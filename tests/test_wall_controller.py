"""Wall controller over HTTP + WebSocket: push, acks, incremental diff, health, roles, restarts."""
from __future__ import annotations

import copy
import json

import httpx
import pytest

from iocwall.wall.access import Role
from iocwall.wall.config import CameraConfig, Config
from tests.fixtures.app import USER_PASSWORD, start_live_server
from tests.waiting import wait_until
from tests.wall_helpers import layout, make_wall, open_display, tile, with_cameras


async def beat_in(http: httpx.AsyncClient) -> bool:
    """Whether w1's display has sent a heartbeat (its health names a tile)."""
    nodes = (await http.get("/api/walls/w1")).json()["nodes"]
    return bool(nodes) and "a" in nodes[0]["health"]["tiles"]


@pytest.fixture
def wall_config(app_config: Config) -> Config:
    return with_cameras(app_config)


async def test_push_ack_diff_and_health(wall_config: Config) -> None:
    async with start_live_server(wall_config) as server, server.client() as http:
        await server.login(http)
        await make_wall(http)
        display = await open_display(server.url, "w1", "1", dict(http.cookies))
        first = await display.wait_layouts(1)
        assert first["layout"] is None                    # nothing pushed yet
        await wait_until(lambda: beat_in(http), 5, "the display's first heartbeat")
        r = await http.put("/api/walls/w1/monitors/1/layout?wait=3",
                           json=layout(tile("a", 0, 0), tile("b", 1, 0, "cam-2")))
        assert r.status_code == 200, r.text
        assert r.json()["complete"] and r.json()["acked"] == 1 == r.json()["expected"]
        shown = await display.wait_layouts(2)
        assert [t["id"] for t in shown["layout"]["tiles"]] == ["a", "b"]
        assert shown["changed"]["added"] == ["a", "b"]

        # one tile changes: only that tile is named, so the page restarts only it
        r = await http.put("/api/walls/w1/monitors/1/layout?wait=3",
                           json=layout(tile("a", 0, 0), tile("b", 1, 0, "cam-3"),
                                       tile("c", 0, 1)))
        assert r.json()["versions"] == {"1": 2} and r.json()["complete"]
        change = (await display.wait_layouts(3))["changed"]
        assert change == {"added": ["c"], "removed": [], "changed": ["b"], "grid": False}

        nodes = (await http.get("/api/walls/w1")).json()["nodes"]
        assert [n["status"] for n in nodes] == ["up"]
        assert nodes[0]["health"]["tiles"]["a"]["fps"] == 15.0
        assert nodes[0]["health"]["memory_mb"] == 80

        display.beating = False                           # missed heartbeats: down in time
        async def down() -> bool:
            return (await http.get("/api/walls/w1")).json()["nodes"][0]["status"] == "down"
        await wait_until(down, wall_config.wall.heartbeat_timeout_s + 1.5, "the display down")
        audit = (await http.get("/api/audit", params={"action": "wall.*"})).json()
        actions = [e["action"] for e in audit["entries"]]
        assert actions.count("wall.push") == 2 and "wall.create" in actions
        await display.close()


async def test_a_connected_display_late_with_its_heartbeats_still_gets_and_acks_pushes(
        wall_config: Config) -> None:
    """A display busy under load beats late and is shown down, but its socket is open: every
    push still goes to it and counts it (the bench once answered "expected: 24" of 32 nodes
    that did not beat), and its ack shows it up again."""
    async with start_live_server(wall_config) as server, server.client() as http:
        await server.login(http)
        await make_wall(http)
        slow = await open_display(server.url, "w1", "1", dict(http.cookies))
        await slow.wait_layouts(1)
        slow.beating = False

        async def status() -> str:
            return (await http.get("/api/walls/w1")).json()["nodes"][0]["status"]

        async def down() -> bool:
            return await status() == "down"

        async def up() -> bool:
            return await status() == "up"

        await wait_until(down, wall_config.wall.heartbeat_timeout_s + 3, "shown down")
        r = await http.put("/api/walls/w1/monitors/1/layout?wait=3", json=layout(tile("a", 0, 0)))
        assert r.status_code == 200, r.text
        assert r.json()["expected"] == 1 == r.json()["acked"] and r.json()["complete"], r.json()
        assert (await slow.wait_layouts(2))["layout"]["tiles"][0]["id"] == "a"
        await wait_until(up, 2, "up again after its ack")
        await slow.close()


async def test_the_pushed_layout_says_which_stream_each_tile_plays(wall_config: Config) -> None:
    # cam-2 has a sub stream; nobody pulls it, so its sizes are the nominal 640x360/1920x1080
    wall_config.cameras[1] = CameraConfig(id="cam-2", name="cam-2",
                                          main_url="rtsp://127.0.0.1:9/cam-2",
                                          sub_url="rtsp://127.0.0.1:9/cam-2-sub")
    async with start_live_server(wall_config) as server, server.client() as http:
        await server.login(http)
        await make_wall(http)
        display = await open_display(server.url, "w1", "1", dict(http.cookies), (1280, 720))
        await display.wait_layouts(1)
        tour = {"id": "t", "kind": "tour", "cameras": ["cam-1", "cam-2"], "x": 1, "y": 1,
                "w": 1, "h": 1}
        r = await http.put("/api/walls/w1/monitors/1/layout?wait=3", json=layout(
            tile("a", 0, 0, "cam-2"), tile("b", 1, 0, "cam-2", stream="main"),
            tile("c", 0, 1, "cam-1"), tour))
        assert r.status_code == 200, r.text
        play = {t["id"]: t["play"] for t in (await display.wait_layouts(2))["layout"]["tiles"]}
        # a 640x360 tile: the sub covers it; "main" asked for; cam-1 has only a main
        assert play == {"a": {"cam-2": "sub"}, "b": {"cam-2": "main"}, "c": {"cam-1": "main"},
                        "t": {"cam-1": "main", "cam-2": "sub"}}
        # the page grows to 4K: each tile is 1920x1080, past the sub: told again at once
        await display.ws.send(json.dumps({"type": "viewport", "width": 3840, "height": 2160}))
        play = {t["id"]: t["play"] for t in (await display.wait_layouts(3))["layout"]["tiles"]}
        assert play["a"] == {"cam-2": "main"} and play["t"] == {"cam-1": "main", "cam-2": "main"}
        await display.ws.send(json.dumps({"type": "viewport", "width": 0, "height": 10}))
        await wait_until(lambda: display.errors, 5, "an error for the bad viewport")
        assert "viewport" in display.errors[0]["message"]
        await display.close()


async def test_bad_layouts_are_refused_and_lose_nothing(wall_config: Config) -> None:
    async with start_live_server(wall_config) as server, server.client() as http:
        await server.login(http)
        await make_wall(http)
        good = layout(tile("a", 0, 0))
        assert (await http.put("/api/walls/w1/monitors/1/layout", json=good)).status_code == 200
        cases = [
            (layout(tile("a", 0, 0, "nope")), 422, "unknown_camera", "tiles[0].camera"),
            (layout(tile("a", 0, 0), tile("b", 0, 0)), 422, "overlap", "tiles[1]"),
            (layout({**tile("a", 1, 0), "w": 2}), 422, "out_of_bounds", "tiles[0]"),
            (layout({"id": "a", "kind": "hologram"}), 422, "bad_value", "tiles[0].kind"),
            ([1, 2], 422, "bad_type", None),
        ]
        for body, status, code, field in cases:
            r = await http.put("/api/walls/w1/monitors/1/layout", json=body)
            assert r.status_code == status, r.text
            assert r.json()["error"]["code"] == code and r.json()["error"]["field"] == field
        r = await http.put("/api/walls/w1/monitors/1/layout", content=b"{not json",
                           headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error"]["code"] == "bad_json"
        assert (await http.put("/api/walls/w1/monitors/9/layout", json=good)).status_code == 404
        kept = (await http.get("/api/walls/w1/monitors/1/layout")).json()
        assert kept["version"] == 1 and kept["tiles"][0]["id"] == "a"


async def test_operator_pushes_leader_may_not(wall_config: Config) -> None:
    async with start_live_server(wall_config) as server:
        await server.add_user("op", Role.OPERATOR)
        await server.add_user("boss", Role.LEADER)
        async with server.client() as admin:
            await server.login(admin)
            await make_wall(admin)
        async with server.client() as op:
            await server.login(op, "op", USER_PASSWORD)
            r = await op.put("/api/walls/w1/monitors/1/layout", json=layout(tile("a", 0, 0)))
            assert r.status_code == 200
            preset = {"monitors": {"1": layout(tile("a", 0, 0)), "2": layout(tile("b", 0, 0))}}
            assert (await op.put("/api/walls/w1/presets/ca-sang", json=preset)).status_code == 200
            r = await op.post("/api/walls/w1/presets/ca-sang/recall")
            assert r.status_code == 200 and r.json()["versions"] == {"1": 2, "2": 1}
            assert (await op.post("/api/walls", json={})).status_code == 403   # admin only
        async with server.client() as boss:
            await server.login(boss, "boss", USER_PASSWORD)
            assert (await boss.get("/api/walls/w1")).status_code == 200
            r = await boss.put("/api/walls/w1/monitors/1/layout", json=layout(tile("c", 0, 0)))
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
            assert (await boss.post("/api/walls/w1/presets/ca-sang/recall")).status_code == 403
            assert (await boss.get("/api/walls/w1/monitors/1/layout")).json()["version"] == 2


async def test_display_gets_its_layout_back_after_reconnect_and_controller_restart(
        wall_config: Config) -> None:
    async with start_live_server(wall_config) as server, server.client() as http:
        await server.login(http)
        await make_wall(http)
        await http.put("/api/walls/w1/monitors/2/layout", json=layout(tile("x", 1, 1, "cam-3")))
        display = await open_display(server.url, "w1", "2", dict(http.cookies))
        assert (await display.wait_layouts(1))["layout"]["tiles"][0]["id"] == "x"
        await display.close()                                  # the node is killed ...
        again = await open_display(server.url, "w1", "2", dict(http.cookies))
        assert (await again.wait_layouts(1))["layout"]["tiles"][0]["camera"] == "cam-3"
        await again.close()
        cookies = dict(http.cookies)
    # the controller restarts on the same data folder: the layout is still there
    async with start_live_server(copy.deepcopy(wall_config)) as server:
        display = await open_display(server.url, "w1", "2", cookies)
        shown = await display.wait_layouts(1, timeout=3)
        assert shown["layout"]["version"] == 1 and shown["layout"]["tiles"][0]["id"] == "x"
        await display.close()
