"""Two controllers through a real Redis; alarm rules fired by queue counts on the real bus."""
from __future__ import annotations

import asyncio
import copy

import pytest

from iocwall.wall.bus.queue import QueueReading
from iocwall.wall.config import Config
from tests.fixtures.app import start_live_server
from tests.fixtures.redis_server import RedisServer
from tests.waiting import wait_until
from tests.wall_helpers import layout, make_wall, open_display, tile, with_cameras


@pytest.fixture
def wall_config(app_config: Config) -> Config:
    return with_cameras(app_config)


@pytest.mark.redis
async def test_push_on_b_reaches_a_display_on_a(wall_config: Config,
                                                redis_server: RedisServer) -> None:
    wall_config.bus.backend = "redis"
    wall_config.bus.redis_url = redis_server.url
    wall_config.bus.prefix = redis_server.fresh_prefix()
    async with start_live_server(wall_config) as a, \
            start_live_server(copy.deepcopy(wall_config)) as b, \
            a.client() as http_a, b.client() as http_b:        # same database, same bus
        await a.login(http_a)
        await b.login(http_b)
        await make_wall(http_a)
        display = await open_display(a.url, "w1", "1", dict(http_a.cookies))
        await display.wait_layouts(1)
        async def known_to_b() -> bool:
            return bool((await http_b.get("/api/walls/w1")).json()["nodes"])
        await wait_until(known_to_b, 3, "B learns of A's display")
        r = await http_b.put("/api/walls/w1/monitors/1/layout?wait=3",
                             json=layout(tile("a", 0, 0, "cam-2")))
        assert r.status_code == 200 and r.json()["complete"], r.text
        shown = await display.wait_layouts(2)
        assert shown["layout"]["tiles"][0]["camera"] == "cam-2"
        nodes = (await http_b.get("/api/walls/w1")).json()["nodes"]
        assert nodes[0]["controller"] == a.services.bus.node_id
        await display.close()


@pytest.mark.redis
async def test_revoke_on_b_closes_the_display_socket_on_a(wall_config: Config,
                                                          redis_server: RedisServer) -> None:
    wall_config.bus.backend = "redis"
    wall_config.bus.redis_url = redis_server.url
    wall_config.bus.prefix = redis_server.fresh_prefix()
    async with start_live_server(wall_config) as a, \
            start_live_server(copy.deepcopy(wall_config)) as b, \
            a.client() as http_a, b.client() as http_b:        # same database, same bus
        await a.login(http_a)
        await b.login(http_b)
        await make_wall(http_a)
        async with a.client() as node:
            started = (await node.post("/api/display/pair", json={})).json()
            r = await http_a.post(f"/api/display/pairings/{started['code']}/approve",
                                  json={"wall": "w1", "monitors": {"1": "HDMI-1"}})
            assert r.status_code == 200, r.text
            token = (await node.post(f"/api/display/pair/{started['node']}/poll",
                                     json={"secret": started["secret"]})).json()["token"]
            r = await node.post("/api/display/session",
                                headers={"Authorization": f"Bearer {token}"})
            cookies = {"iocwall_display": r.cookies["iocwall_display"]}
        display = await open_display(a.url, "w1", "1", cookies)
        await display.wait_layouts(1)
        assert (await http_b.post(f"/api/display/nodes/{started['node']}/revoke")
                ).status_code == 200
        async with asyncio.timeout(1.5):
            await display.ws.wait_closed()
        assert display.ws.close_code == 4403
        await display.close()


async def test_queue_over_threshold_raises_alarm_then_clears(wall_config: Config) -> None:
    async with start_live_server(wall_config) as server, server.client() as http:
        await server.login(http)
        await make_wall(http)
        await http.put("/api/walls/w1/monitors/2/layout",
                       json=layout(tile("a", 0, 0), tile("b", 1, 0, "cam-2")))
        r = await http.post("/api/walls/w1/rules", json={
            "name": "Quầy 3 đông", "centre": "hn-01", "counter": "3", "threshold": 5,
            "duration_s": 0.5, "camera": "cam-3", "monitor": "2"})
        assert r.status_code == 201, r.text
        bad = await http.post("/api/walls/w1/rules", json={"name": "x", "monitor": "2"})
        assert bad.status_code == 422
        display = await open_display(server.url, "w1", "2", dict(http.cookies))
        await display.wait_layouts(1)
        bus = server.services.bus

        async def count(n: int, counter: str = "3") -> None:     # what analytics publishes
            reading = QueueReading("hn-01", counter, n).event()
            await bus.publish(reading.topic, reading)

        await count(9)
        await count(9, counter="4")                       # another counter: no rule
        await asyncio.sleep(0.2)          # time passing is what is tested: 0.2 s < duration_s
        assert (await http.get("/api/walls/w1/alarms")).json() == []   # not long enough yet
        await asyncio.sleep(0.4)          # ... and now past it
        await count(8)
        async def open_alarms() -> list:
            return (await http.get("/api/walls/w1/alarms")).json()
        alarms = await wait_until(open_alarms, 3, "the alarm raised")
        assert alarms[0]["count"] == 8 and alarms[0]["camera"] == "cam-3"
        shown = await display.wait_layouts(2)
        added = [t for t in shown["layout"]["tiles"] if t["id"] == "alarm"]
        assert added and added[0]["highlight"] and added[0]["camera"] == "cam-3"
        assert shown["changed"]["added"] == ["alarm"] and shown["changed"]["changed"] == []
        await wait_until(lambda: display.alarms, 3, "the display told of the alarm")
        assert display.alarms[0]["state"] == "raised"

        await count(2)                                    # the queue falls back: cleared
        restored = await display.wait_layouts(3)
        assert [t["id"] for t in restored["layout"]["tiles"]] == ["a", "b"]
        assert (await http.get("/api/walls/w1/alarms")).json() == []

        # raised again, then cleared by the operator
        await count(9)
        await asyncio.sleep(0.6)          # time passing is what is tested: past duration_s
        await count(9)
        await display.wait_layouts(4)
        alarm = (await http.get("/api/walls/w1/alarms")).json()[0]
        # issue 17: a URL naming another wall neither clears nor confirms w1's alarm
        await make_wall(http, "w2")
        other = await http.post(f"/api/walls/w2/alarms/{alarm['id']}/clear")
        assert other.status_code == 404, other.text
        assert [a["id"] for a in (await http.get("/api/walls/w1/alarms")).json()] == [alarm["id"]]
        assert (await http.post(f"/api/walls/w1/alarms/{alarm['id']}/clear")).status_code == 200
        assert (await http.post(f"/api/walls/w1/alarms/{alarm['id']}/clear")).status_code == 404
        await display.wait_layouts(5)
        actions = [e["action"] for e in (await http.get("/api/audit")).json()["entries"]]
        assert actions.count("wall.alarm.raise") == 2 and actions.count("wall.alarm.clear") == 2
        await display.close()
