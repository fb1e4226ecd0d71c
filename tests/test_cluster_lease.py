"""The leader lease on the shared store (wall/cluster/): one leader, the epoch, expiry judged
by the database's clock, the fence, GET /api/cluster. Each test runs on SQLite and on a real
PostgreSQL (both_stores); the kills of real processes are in test_cluster_failover.py."""
from __future__ import annotations

import asyncio
import copy
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from iocwall.wall.access import Role
from iocwall.wall.bus.queue import QueueReading
from iocwall.wall.cluster.lease import Lease, StaleLeader, fenced
from iocwall.wall.config import Config
from iocwall.wall.store import Store
from tests.fixtures.app import USER_PASSWORD, start_live_server, store_of_test
from tests.fixtures.redis_server import RedisServer
from tests.waiting import wait_until
from tests.wall_helpers import layout, make_wall, open_display, tile, with_cameras

pytestmark = pytest.mark.usefixtures("both_stores")


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    """Two connections to one database, as two controllers have."""
    a, b = store_of_test(tmp_path / "s.sqlite3"), store_of_test(tmp_path / "s.sqlite3")
    await a.open()
    await b.open()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def test_one_leader_the_epoch_grows_only_when_the_holder_changes(
        stores: tuple[Store, Store]) -> None:
    a = Lease(stores[0], "ctrl-a", ttl_s=5, renew_s=1)
    b = Lease(stores[1], "ctrl-b", ttl_s=5, renew_s=1)
    changes: list[tuple[str, bool, int]] = []
    for lease in (a, b):
        async def note(leading: bool, epoch: int, who: str = lease.me) -> None:
            changes.append((who, leading, epoch))
        lease.on_change(note)
    await a.ensure_row()
    await b.ensure_row()                     # the second start adds nothing
    await a.renew()
    wait_b = await b.renew()
    assert (a.is_leader(), a.epoch(), a.holder()) == (True, 1, "ctrl-a")
    assert (b.is_leader(), b.epoch(), b.holder()) == (False, 0, "ctrl-a")
    assert 0.9 <= wait_b <= 1.0              # A's lease has ~5 s left: B tries again in renew_s
    await a.renew()
    await b.renew()
    assert a.epoch() == 1 and not b.is_leader()   # a renewal keeps the epoch
    await a.release()                       # a clean stop: B takes it on its next try
    assert await b.renew() == pytest.approx(1.0, abs=0.2)
    assert (a.is_leader(), b.is_leader(), b.epoch(), a.holder()) == (False, True, 2, None)
    await a.renew()
    assert (a.is_leader(), a.holder(), a.seen_epoch()) == (False, "ctrl-b", 2)
    assert changes == [("ctrl-a", True, 1), ("ctrl-a", False, 1), ("ctrl-b", True, 2)]


async def test_holder_stops_before_expiry_then_the_other_takes_it_and_the_fence_refuses(
        stores: tuple[Store, Store]) -> None:
    ttl = 2.0
    a = Lease(stores[0], "ctrl-a", ttl_s=ttl, renew_s=0.5)
    b = Lease(stores[1], "ctrl-b", ttl_s=ttl, renew_s=0.5)
    await a.ensure_row()
    sent = time.monotonic()
    await a.renew()                          # then A renews no more (paused, or cut off)
    assert a.is_leader()
    old = a.epoch()
    await stores[0].transaction(lambda conn: fenced(conn, old))     # the leader may write
    lost = asyncio.Event()

    async def note(leading: bool, epoch: int) -> None:
        if not leading:
            lost.set()
    a.on_change(note)
    await asyncio.wait_for(lost.wait(), ttl)    # A's own timer: it steps down by itself
    stepped_down = time.monotonic() - sent
    assert not a.is_leader() and ttl * 0.8 <= stepped_down < ttl     # ttl - 20 %
    # ... before the store lets anyone else have it: nobody acts twice
    await b.renew()
    if time.monotonic() - sent < ttl * 0.95:
        assert not b.is_leader()
    await asyncio.sleep(max(0.0, ttl + 0.1 - (time.monotonic() - sent)))
    await b.renew()
    assert b.is_leader() and b.epoch() == old + 1
    # a write A decided under its old epoch is refused by the store, in its transaction
    with pytest.raises(StaleLeader, match=f"epoch {old}.*epoch {old + 1} held by ctrl-b"):
        await stores[0].transaction(lambda conn: fenced(conn, old))
    await stores[1].transaction(lambda conn: fenced(conn, b.epoch()))
    await a.renew()
    assert not a.is_leader() and a.holder() == "ctrl-b"


async def test_a_controller_that_sees_no_leader_raises_controller_down(
        app_config: Config) -> None:
    app_config.alerts.sample_s = 0.1
    app_config.alerts.raise_hold_s = app_config.alerts.resolve_hold_s = 0
    app_config.cluster.lease_renew_s = 0.2
    app_config.cluster.lease_ttl_s = 1.0
    async with start_live_server(app_config) as server, server.client() as http:
        await server.login(http)
        cluster, me = server.services.cluster, server.services.bus.node_id
        assert cluster is not None

        async def controller_alerts(state: str) -> list[dict]:
            found = (await http.get(f"/api/alerts?state={state}")).json()["alerts"]
            return [a for a in found if a["rule"] == "controller_down"]
        assert await controller_alerts("open") == []
        # its renew loop stops (stuck): the lease expires and nobody takes it
        loop_tasks = list(cluster._tasks)
        for task in loop_tasks:
            task.cancel()
        await asyncio.gather(*loop_tasks, return_exceptions=True)
        raised = await wait_until(lambda: controller_alerts("open"), 5, "controller_down")
        assert raised[0]["subject"] == me and raised[0]["severity"] == "critical"
        board = (await http.get("/api/health")).json()
        ctrl = next(c for c in board["system"] if c["kind"] == "controller")
        assert ctrl["state"] == "down" and ctrl["detail"]["lease_holder"] is None
        # the loop runs again: it takes the lease (a new holder: epoch 2), the alert resolves
        cluster._tasks = [asyncio.create_task(cluster._run())]
        await wait_until(lambda: server.services.leadership.epoch() == 2, 3, "leads again")
        await wait_until(lambda: controller_alerts("resolved"), 5, "controller_down resolved")
        assert await controller_alerts("open") == []


@pytest.fixture
def wall_config(app_config: Config) -> Config:
    return with_cameras(app_config)


async def test_a_stale_leaders_alarm_is_refused_and_displays_see_its_epoch(
        wall_config: Config, tmp_path: Path) -> None:
    async with start_live_server(wall_config) as server, server.client() as http:
        await server.login(http)
        await make_wall(http)
        await http.put("/api/walls/w1/monitors/2/layout", json=layout(tile("a", 0, 0)))
        r = await http.post("/api/walls/w1/rules", json={
            "name": "Quầy 3", "centre": "hn-01", "counter": "3", "threshold": 5,
            "duration_s": 0, "camera": "cam-3", "monitor": "2"})
        assert r.status_code == 201, r.text
        display = await open_display(server.url, "w1", "2", dict(http.cookies))
        await display.wait_layouts(1)
        alarms = server.services.wall.alarms            # type: ignore[union-attr]
        lease = server.services.cluster.lease          # type: ignore[union-attr]
        assert lease.is_leader() and lease.epoch() == 1    # alone: the leader at once
        rule = (await alarms.rules("w1"))[0]
        # the leader's alarm: written, and what the display gets carries the epoch
        await alarms.on_count("hn-01", "3", 9)
        shown = await display.wait_layouts(2)
        assert shown["epoch"] == 1
        await wait_until(lambda: display.alarms, 3, "the alarm message")
        assert display.alarms[0]["epoch"] == 1
        await alarms.on_count("hn-01", "3", 1)          # auto clear: the leader's, fenced
        assert (await display.wait_layouts(3))["epoch"] == 1
        # another controller takes over while this one is paused after deciding to raise
        other = store_of_test(wall_config.data_path / wall_config.storage.path)
        await other.open()
        try:
            await other.execute("UPDATE leader_lease SET expires_at = 0")   # time ran out
            taker = Lease(other, "ctrl-new", ttl_s=60, renew_s=1)
            await taker.renew()
            assert taker.epoch() == 2
            with pytest.raises(StaleLeader):
                await alarms._raise(rule, 9, epoch=1)
            assert (await http.get("/api/walls/w1/alarms")).json() == []   # nothing written
            # paused between its alarm row and its push: the push's save is refused too
            walls = server.services.wall.walls                   # type: ignore[union-attr]
            version = (await walls.monitor("w1", "2")).layout_version
            current = await walls.layout("w1", "2")
            assert current is not None
            with pytest.raises(StaleLeader):
                await server.services.wall.controller.push(      # type: ignore[union-attr]
                    "w1", {"2": current}, "alarm:1", epoch=1)
            with pytest.raises(StaleLeader):
                await walls.make_current("w1", "2", 2, epoch=1)   # the alarm's layout
            assert version == 1 and (await walls.monitor("w1", "2")).layout_version == 1
            await asyncio.sleep(0.3)
            assert len(display.layouts) == 3                               # nothing sent
            # its own loop finds the lease gone and steps down; rules stop running here
            await wait_until(lambda: not lease.is_leader(), 3, "the old leader steps down")
            assert lease.holder() == "ctrl-new"
            # counts still arrive here, and the rules do not run: not the leader
            reading = QueueReading("hn-01", "3", 9).event()
            await server.services.bus.publish(reading.topic, reading)
            await asyncio.sleep(0.3)
            assert (await http.get("/api/walls/w1/alarms")).json() == []
        finally:
            await other.close()
        await display.close()


async def test_cluster_api_admin_only_and_no_credentials(app_config: Config) -> None:
    app_config.bus.redis_url = "redis://:bus-secret-pw@127.0.0.1:1/0"   # not used: memory bus
    app_config.cluster.controller_url = "http://ops:hunter2@10.0.0.11:8080"   # by mistake
    async with start_live_server(app_config) as server, server.client() as http:
        await server.add_user("op", Role.OPERATOR)
        async with server.client() as anonymous:
            assert (await anonymous.get("/api/cluster")).status_code == 401
        async with server.client() as operator:
            await server.login(operator, "op", USER_PASSWORD)
            r = await operator.get("/api/cluster")
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        await server.login(http)
        r = await http.get("/api/cluster")
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"controllers", "media_nodes", "store", "bus"}
        me = server.services.bus.node_id
        assert body["controllers"] == [{"id": me, "pid": os.getpid(),
                                        "url": "http://10.0.0.11:8080", "leader": True}]
        # the media processes this controller started, each its own pid
        nodes = body["media_nodes"]
        assert nodes and all(set(n) == {"id", "pid", "cameras"} for n in nodes)
        assert all(isinstance(n["pid"], int) and n["pid"] != os.getpid() for n in nodes)
        engine = "postgresql" if app_config.storage.url else "sqlite"
        assert body["store"] == {"engine": engine, "ok": True}
        assert body["bus"] == {"backend": "memory", "ok": True}
        assert "bus-secret-pw" not in r.text and "postgresql://" not in r.text
        assert "hunter2" not in r.text and "ops" not in r.text
        # the health board shows the lease holder and its epoch
        health = server.services.health
        assert health is not None
        board = (await health.collect()).public()
        ctrl = next(c for c in board["system"] if c["kind"] == "controller")
        assert ctrl["state"] == "ok"
        assert ctrl["detail"]["leader"] is True and ctrl["detail"]["lease_holder"] == me
        assert ctrl["detail"]["epoch"] == 1


@pytest.mark.redis
async def test_two_controllers_one_leader_clean_stop_hands_over_at_once(
        wall_config: Config, redis_server: RedisServer) -> None:
    wall_config.bus.backend = "redis"
    wall_config.bus.redis_url = redis_server.url
    wall_config.bus.prefix = redis_server.fresh_prefix()
    wall_config.alerts.sample_s = 0.2
    # renewals 10 s apart: without the leader's word on the bus, B would wait that long
    wall_config.cluster.lease_ttl_s = 30
    wall_config.cluster.lease_renew_s = 10
    b_config = copy.deepcopy(wall_config)
    first = start_live_server(wall_config)
    a = await first.__aenter__()              # A starts first: it leads
    a_running = True
    try:
        async with start_live_server(b_config) as b, b.client() as http_b:
            await b.login(http_b)
            sa, sb = a.services, b.services
            assert sa.leadership.is_leader() and not sb.leadership.is_leader()
            assert sb.leadership.holder() == sa.bus.node_id
            async def listed() -> dict | None:
                body = (await http_b.get("/api/cluster")).json()
                urls = {c["url"] for c in body["controllers"]}   # once each one listens
                return body if urls == {a.url, b.url} else None
            body = await wait_until(listed, 3, "both controllers at their URLs")
            assert {(c["id"], c["leader"]) for c in body["controllers"]} == {
                (sa.bus.node_id, True), (sb.bus.node_id, False)}
            # B's health board: not the leader, the lease held by A; B's duties do not run
            async def b_board() -> dict | None:
                board = sb.health.board if sb.health else None
                return board.public() if board else None
            board = await wait_until(b_board, 3, "B's board")
            ctrl = next(c for c in board["system"] if c["kind"] == "controller")
            assert ctrl["detail"]["leader"] is False
            assert ctrl["detail"]["lease_holder"] == sa.bus.node_id
            assert sb.cluster is not None and sa.cluster is not None
            assert not sb.cluster.duties.running and sa.cluster.duties.running
            assert sa.analytics is not None and sb.analytics is None   # the frame router: A's
            assert sb.cluster.duties.names() == ["analytics", "health prober and alert rules"]
            a_running = False
            await first.__aexit__(None, None, None)     # A stops cleanly: released, B told
            stopped = time.monotonic()
            await wait_until(lambda: sb.leadership.is_leader(), 3, "B takes the lease")
            handover = time.monotonic() - stopped
            assert handover < 2.0, handover    # at once, not at B's next try (up to 10 s)
            assert sb.leadership.epoch() == 2
            await wait_until(lambda: sb.cluster.duties.running, 3, "B's duties run")
            assert sb.analytics is not None
            body = (await http_b.get("/api/cluster")).json()
            assert [(c["id"], c["leader"]) for c in body["controllers"]] == [
                (sb.bus.node_id, True)]          # A left the table
    finally:
        if a_running:
            await first.__aexit__(None, None, None)
