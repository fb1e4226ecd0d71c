"""Issue 19: nothing a request needs lives in one process's memory. Two controllers on one
PostgreSQL database, each with its own data dir (two machines): what a guesser spent on
one controller counts on the other."""
from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path

import pytest

from iocwall.wall.auth.key_check import SessionKeyMismatch
from iocwall.wall.config import CameraConfig, Config
from iocwall.wall.store import Store
from tests.fixtures.app import ADMIN_PASSWORD, LiveServer, make_config, start_live_server
from tests.fixtures.redis_server import RedisServer
from tests.test_wall_pairing_security import _paired, _play
from tests.waiting import wait_until
from tests.wall_helpers import layout, make_wall, open_display, tile, with_cameras

GUESSER = {"X-Forwarded-For": "203.0.113.9"}


SITE_KEY = "one-session-key-for-every-controller-of-the-site-0123456789"


def _controller(tmp_path: Path, name: str, database: str, key: str = SITE_KEY) -> Config:
    config = make_config(tmp_path / name, login_max_failures=3, session_secret=key)
    config.storage.url = database
    config.server.trusted_proxies = ["127.0.0.1"]      # the balancer names the client
    config.wall.pair_per_address = 2
    return config


@contextlib.asynccontextmanager
async def _two(tmp_path: Path, database: str) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    async with start_live_server(_controller(tmp_path, "a", database)) as a, \
            start_live_server(_controller(tmp_path, "b", database)) as b:
        yield a, b


async def test_failed_logins_on_one_controller_block_on_the_other(
        tmp_path: Path, postgres_db: str) -> None:
    async with _two(tmp_path, postgres_db) as (a, b), a.client() as http_a, \
            b.client() as http_b:
        for _ in range(3):
            r = await http_a.post("/api/login", json={"username": "admin", "password": "guess"},
                                  headers=GUESSER)
            assert r.status_code == 401, r.text
        refused = await http_b.post("/api/login", json={"username": "admin",
                                                         "password": ADMIN_PASSWORD},
                                    headers=GUESSER)
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["retry-after"]) >= 1
        # ... the guesser only: the admin elsewhere logs in on either
        elsewhere = {"X-Forwarded-For": "198.51.100.4"}
        for http in (http_a, http_b):
            ok = await http.post("/api/login", json={"username": "admin",
                                                      "password": ADMIN_PASSWORD},
                                 headers=elsewhere)
            assert ok.status_code == 200, ok.text


async def test_a_controller_with_another_session_key_refuses_to_start(
        tmp_path: Path, postgres_db: str) -> None:
    async with _two(tmp_path, postgres_db) as (a, b), a.client() as http_a:
        await a.login(http_a)
        async with b.client(cookies=dict(http_a.cookies)) as http_b:   # one key: any controller
            assert (await http_b.get("/api/me")).json()["user"] == "admin"
        stray = _controller(tmp_path, "c", postgres_db, key="")      # its own session.key
        with pytest.raises(SessionKeyMismatch, match="IOCWALL_SESSION_SECRET"):
            async with start_live_server(stray):
                pass


async def test_pairing_starts_are_counted_across_controllers(
        tmp_path: Path, postgres_db: str) -> None:
    async with _two(tmp_path, postgres_db) as (a, b), a.client() as http_a, \
            b.client() as http_b:
        for http in (http_a, http_b):                  # one start on each: the limit of 2
            r = await http.post("/api/display/pair", json={}, headers=GUESSER)
            assert r.status_code == 201, r.text
        for http in (http_a, http_b):
            refused = await http.post("/api/display/pair", json={}, headers=GUESSER)
            assert refused.status_code == 429, refused.text
        other = await http_b.post("/api/display/pair", json={},
                                  headers={"X-Forwarded-For": "198.51.100.4"})
        assert other.status_code == 201, other.text


@pytest.mark.redis
async def test_a_camera_changed_on_one_controller_is_followed_on_the_other(
        tmp_path: Path, redis_server: RedisServer) -> None:
    config = make_config(tmp_path / "d")
    config.bus.backend = "redis"
    config.bus.redis_url = redis_server.url
    config.bus.prefix = redis_server.fresh_prefix()
    async with start_live_server(config) as a, start_live_server(copy.deepcopy(config)) as b, \
            b.client() as http_b:
        await b.login(http_b)
        created = await http_b.post("/api/cameras", json={
            "province": "Hà Nội", "centre": "TT PVHCC", "name": "Quầy 1",
            "rtsp_main": "rtsp://192.0.2.1/live"})
        assert created.status_code == 201, created.text
        cam = created.json()["id"]
        units = a.services.indicators.camera_units        # the live tiles' camera -> province
        await wait_until(lambda: cam in units, 3, "A knows B's new camera")
        media = a.services.media
        if media is not None:
            await wait_until(lambda: media.camera(cam), 3, "A's media server has it")
        moved = await http_b.patch(f"/api/cameras/{cam}", json={"province": "Huế"})
        assert moved.status_code == 200, moved.text
        await wait_until(lambda: units.get(cam) == b.services.indicators.camera_units[cam],
                         3, "A follows the edit")
        assert (await http_b.delete(f"/api/cameras/{cam}")).status_code in (200, 204)
        await wait_until(lambda: cam not in units, 3, "A forgets the deleted camera")
        if media is not None:
            assert await media.camera(cam) is None


async def test_an_alert_acknowledged_on_one_controller_shows_so_on_the_others_displays(
        tmp_path: Path) -> None:
    config = with_cameras(make_config(tmp_path / "d"))
    config.alerts.resolve_hold_s = 300            # the alert stays open through the test
    store = Store(config.data_path / config.storage.path)
    await store.open()                            # an alert left open, as both controllers start
    alert = await store.execute(
        "INSERT INTO health_alerts(rule, subject, state, province, severity, title_vi,"
        " title_en, raised_at, open_key) VALUES('bus_down', 'bus', 'raised', '', 'critical',"
        " 'Mất kênh sự kiện', 'Bus down', '2026-12-07T09:00:00+07:00', 'bus_down|bus')")
    await store.close()
    async with start_live_server(config) as a, start_live_server(copy.deepcopy(config)) as b, \
            a.client() as http_a, b.client() as http_b:
        await a.login(http_a)
        await b.login(http_b)
        assert (await http_b.post(f"/api/alerts/{alert}/ack")).status_code == 200
        await make_wall(http_a)
        display = await open_display(a.url, "w1", "1", dict(http_a.cookies))
        shown = (await display.wait_layouts(1))["alarms"]
        await display.close()
    assert [(x["alert"], x["state"]) for x in shown if "alert" in x] == [(alert, "acknowledged")]


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.timeout(120)
async def test_revoke_on_one_controller_ends_the_displays_viewers_on_the_other(
        app_config: Config, simulator, redis_server: RedisServer) -> None:  # noqa: ANN001
    """The display watches through controller A's media; the admin revokes it on B."""
    app_config.cameras = [CameraConfig(id="cam1", name="Camera 1",
                                       main_url=simulator.url(1, "main", auth=False),
                                       sub_url=simulator.url(1, "sub", auth=False),
                                       username=simulator.user, password=simulator.password)]
    app_config.webrtc.ice_addresses = ["127.0.0.1"]
    app_config.bus.backend = "redis"
    app_config.bus.redis_url = redis_server.url
    app_config.bus.prefix = redis_server.fresh_prefix()
    async with start_live_server(app_config) as a, \
            start_live_server(copy.deepcopy(app_config)) as b, \
            a.client() as admin_a, b.client() as admin_b:
        await a.login(admin_a)
        await b.login(admin_b)
        await make_wall(admin_a)
        await admin_a.put("/api/walls/w1/monitors/1/layout", json=layout(tile("a", 0, 0, "cam1")))
        node, token = await _paired(a, admin_a)
        media = a.services.media
        assert media is not None
        async with a.client(headers={"Authorization": f"Bearer {token}"}) as kiosk:
            mine = await _play(kiosk)
        theirs = await _play(admin_a)
        try:
            r = await admin_b.post(f"/api/display/nodes/{node}/revoke")
            assert r.status_code == 200, r.text

            async def users() -> list[str]:
                return [s.user for s in await media.session_refs()]
            await wait_until(lambda: _only_admin(users()), 3, "A ended the display's viewer")
        finally:
            await mine.close()
            await theirs.close()


async def _only_admin(users: Awaitable[list[str]]) -> bool:
    return await users == ["admin"]
