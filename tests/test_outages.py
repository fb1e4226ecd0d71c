"""Issue 19: outages of Redis and PostgreSQL degrade, never crash, with two controllers.

Redis gone: the displays keep their sockets and layouts, reads work, writes that must be
announced are refused (503 ``bus_unavailable``) before anything is written, health says
the bus is degraded; Redis back on the same port: the bus re-subscribes by itself and a
push on B reaches a display on A again. PostgreSQL restarted: writes are refused (503
``store_unavailable``) with nothing half-written, then work again on both controllers.
"""
from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from iocwall.wall.config import Config
from tests.fixtures.app import ADMIN_PASSWORD, LiveServer, make_config, start_live_server
from tests.fixtures.postgres_server import PostgresServer
from tests.fixtures.redis_server import RedisServer, start_redis
from tests.fixtures.tcp_proxy import TcpProxy
from tests.waiting import wait_until
from tests.wall_helpers import layout, make_wall, open_display, tile, with_cameras


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of this test's own: it is killed and restarted."""
    with start_redis() as server:
        yield server


@contextlib.asynccontextmanager
async def _two(config: Config) -> AsyncIterator[tuple[LiveServer, LiveServer,
                                                      httpx.AsyncClient, httpx.AsyncClient]]:
    async with start_live_server(config) as a, \
            start_live_server(copy.deepcopy(config)) as b, \
            a.client() as http_a, b.client() as http_b:
        await a.login(http_a)
        await b.login(http_b)
        yield a, b, http_a, http_b


async def _bus_ok(http: httpx.AsyncClient) -> bool:
    health = await http.get("/healthz")
    return health.status_code == 200 and health.json()["bus"] is True


def _bus_part(board: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in board["system"] if p["kind"] == "bus")


@pytest.mark.redis
async def test_redis_outage_refuses_announced_writes_and_heals(
        tmp_path: Path, own_redis: RedisServer) -> None:
    config = with_cameras(make_config(tmp_path / "d"))
    config.bus.backend = "redis"
    config.bus.redis_url = own_redis.url
    config.alerts.sample_s = 0.3                      # the health board samples this often
    async with _two(config) as (a, b, http_a, http_b):
        await make_wall(http_a)
        display = await open_display(a.url, "w1", "1", dict(http_a.cookies))
        await display.wait_layouts(1)
        first = await http_b.put("/api/walls/w1/monitors/1/layout",
                                 json=layout(tile("a", 0, 0, "cam-1")))
        assert first.status_code == 200, first.text
        await display.wait_layouts(2)
        audit_before = (await http_b.get("/api/audit")).json()["entries"]

        own_redis.kill()
        await wait_until(lambda: _not(_bus_ok(http_b)), 5, "B's health says the bus is down")
        health = await http_b.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "degraded" and health.json()["store"] is True

        async def board_says_down() -> bool:
            return _bus_part((await http_b.get("/api/health")).json())["state"] == "down"
        await wait_until(board_says_down, 3, "/api/health shows the bus down")

        refused = await http_b.put("/api/walls/w1/monitors/1/layout",
                                   json=layout(tile("a", 0, 0, "cam-2")))
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "bus_unavailable"
        assert refused.headers["retry-after"] == "5"
        camera = await http_b.post("/api/cameras", json={
            "province": "Hà Nội", "centre": "TT PVHCC", "name": "Quầy 9",
            "rtsp_main": "rtsp://192.0.2.9/live"})
        assert camera.status_code == 503 and camera.json()["error"]["code"] == "bus_unavailable"
        for method, path in [("POST", "/api/walls/w1/alarms/1/clear"),     # checked first:
                             ("POST", "/api/alerts/1/ack"),                # no such ids
                             ("POST", "/api/display/nodes/n1/revoke"),
                             ("POST", "/api/walls/w1/presets/p/recall"),
                             ("DELETE", "/api/cameras/cam-1")]:
            r = await http_b.request(method, path)
            assert (r.status_code, r.json()["error"]["code"]) == (503, "bus_unavailable"), path
        # nothing was written: the layout row, the cameras and the audit are as they were
        shown = (await http_b.get("/api/walls/w1/monitors/1/layout")).json()
        assert [t["camera"] for t in shown["tiles"]] == ["cam-1"]
        assert (await http_b.get("/api/audit")).json()["entries"] == audit_before
        login = await http_a.post("/api/login", json={"username": "admin",
                                                       "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text         # nobody else must hear of a login
        # reads work; the display on A keeps its socket and its layout
        assert (await http_a.get("/api/walls/w1")).status_code == 200
        assert len(display.layouts) == 2 and display.ws.close_code is None

        own_redis.restart()                      # same port, empty: nothing remembered
        await wait_until(lambda: _both_ok(http_a, http_b), 5, "both buses back")
        assert display.ws.close_code is None
        again = await http_b.put("/api/walls/w1/monitors/1/layout",
                                 json=layout(tile("a", 0, 0, "cam-3")))
        assert again.status_code == 200, again.text
        pushed = await display.wait_layouts(3, timeout=3)    # A re-subscribed by itself
        assert pushed["layout"]["tiles"][0]["camera"] == "cam-3"
        await display.close()


async def _not(check: object) -> bool:
    return not await check  # type: ignore[misc]


async def _both_ok(http_a: httpx.AsyncClient, http_b: httpx.AsyncClient) -> bool:
    return await _bus_ok(http_a) and await _bus_ok(http_b)


async def test_postgres_restart_with_two_controllers(
        tmp_path: Path, postgres_server: PostgresServer, postgres_db: str) -> None:
    config = make_config(tmp_path / "d")
    config.storage.url = postgres_db
    user = {"username": "lan", "password": "Long-enough-pw-1", "role": "operator"}
    async with _two(config) as (a, b, http_a, http_b):
        assert (await http_a.post("/api/users", json=user)).status_code == 201
        postgres_server.stop()
        try:
            for i, (server, http) in enumerate(((a, http_a), (b, http_b))):
                refused = await http.post("/api/users", json={**user, "username": f"mai{i}"})
                assert refused.status_code == 503, refused.text
                assert refused.json()["error"]["code"] == "store_unavailable"
                async with server.client() as balancer:          # a health check: no cookie
                    health = await balancer.get("/healthz")
                assert health.status_code == 503 and health.json()["store"] is False
        finally:
            postgres_server.start()

        async def healthy(server: LiveServer) -> bool:
            async with server.client() as balancer:
                health = await balancer.get("/healthz")
            return health.status_code == 200 and health.json()["store"] is True
        for server in (a, b):
            await wait_until(lambda s=server: healthy(s), 10,  # type: ignore[misc]
                             "healthz says the store is back")
        # the sessions live in the store: both operators are still logged in
        for i, http in enumerate((http_a, http_b)):
            again = await http.post("/api/users", json={**user, "username": f"hoa{i}"})
            assert again.status_code == 201, again.text
        names = sorted(u["username"] for u in (await http_b.get("/api/users")).json()["users"])
        assert names == ["admin", "hoa0", "hoa1", "lan"]            # no mai*: nothing half-done
        audited = [e["target"] for e in (await http_a.get("/api/audit")).json()["entries"]]
        assert not any("mai" in t for t in audited)


@pytest.mark.redis
async def test_a_controller_cut_from_redis_catches_up_on_the_pushes_it_missed(
        tmp_path: Path, redis_server: RedisServer) -> None:
    """Only A loses Redis; B keeps it and pushes. When A's link is back, A's display gets the
    layout from the store (the push event itself was lost to A)."""
    proxy = TcpProxy(redis_server.port)
    await proxy.start()
    config = with_cameras(make_config(tmp_path / "d"))
    config.bus.backend = "redis"
    config.bus.prefix = redis_server.fresh_prefix()
    config.bus.redis_url = f"redis://127.0.0.1:{proxy.port}/0"      # A goes through the proxy
    direct = copy.deepcopy(config)
    direct.bus.redis_url = redis_server.url
    try:
        async with start_live_server(config) as a, start_live_server(direct) as b, \
                a.client() as http_a, b.client() as http_b:
            await a.login(http_a)
            await b.login(http_b)
            await make_wall(http_a)
            display = await open_display(a.url, "w1", "1", dict(http_a.cookies))
            await display.wait_layouts(1)
            await proxy.cut()
            await wait_until(lambda: _not(_bus_ok(http_a)), 5, "A's bus is down")
            pushed = await http_b.put("/api/walls/w1/monitors/1/layout",
                                      json=layout(tile("a", 0, 0, "cam-2")))
            assert pushed.status_code == 200, pushed.text           # B still reaches Redis
            await proxy.mend()
            shown = await display.wait_layouts(2, timeout=5)
            assert shown["layout"]["tiles"][0]["camera"] == "cam-2"
            assert shown["layout"]["version"] == pushed.json()["versions"]["1"]
            await display.close()
    finally:
        await proxy.cut()


@pytest.mark.redis
async def test_a_push_whose_announcement_fails_is_saved_audited_and_told_so(
        tmp_path: Path, own_redis: RedisServer) -> None:
    """Redis dies after the route's check: the layout is already saved, so its audit entry
    is written too, and the answer says it was saved (not "nothing was saved")."""
    from iocwall.layouts import Layout
    from iocwall.wall.bus.errors import BusLostAfterSave
    config = with_cameras(make_config(tmp_path / "d"))
    config.bus.backend, config.bus.redis_url = "redis", own_redis.url
    async with start_live_server(config) as a, a.client() as http:
        await a.login(http)
        await make_wall(http)
        wall = a.services.wall
        assert wall is not None
        recorded: list[dict[str, int]] = []

        async def record(result: Any) -> None:          # the route's audit entry
            recorded.append(dict(result.versions))
        own_redis.kill()
        with pytest.raises(BusLostAfterSave) as refused:
            await wall.controller.push("w1", {"1": Layout.from_json(
                layout(tile("a", 0, 0, "cam-2")))}, "admin", 0.0, record)
        assert refused.value.status == 503 and "saved" in refused.value.message
        shown = await wall.walls.layout("w1", "1")
        assert shown is not None and [t.camera for t in shown.tiles] == ["cam-2"]
        assert recorded == [{"1": shown.version}]        # saved and recorded, never one alone
